"""Kaizen's heads over the encoder's features (solo-learn / Kaizen layouts, torch init).

- projector: Linear(d, hidden)[-BN]-ReLU-Linear(hidden, out); BYOL puts BN in the middle,
  SimCLR and MoCo v2+ do not; VICReg's has two hidden layers, each Linear-BN-ReLU;
- predictor (BYOL) and distillation predictor: Linear(out, hidden)-BN-ReLU-Linear(hidden, out);
- classifier: Kaizen's `MultiLayerClassifier`, Linear(d, hidden)-ReLU-Linear(hidden, classes);
- online probe: Linear(d, classes).
BN follows torch (momentum 0.1, epsilon 1e-5) and synchronises its batch statistics across
replicas (`continual.models.batch_norm`, solo-learn's SyncBN under DDP). Heads stay float32.
"""

from __future__ import annotations

import keras

from continual.models.batch_norm import batch_normalization
from continual.models.small_backbones import torch_linear_init

BN = {"momentum": 0.9, "epsilon": 1e-5}


def _linear(units: int, fan_in: int, seed: int, name: str) -> keras.layers.Dense:
    return keras.layers.Dense(units, kernel_initializer=torch_linear_init(fan_in, seed),
                              bias_initializer=torch_linear_init(fan_in, seed + 1),
                              dtype="float32", name=name)


def two_layer_head(in_dim: int, hidden: int, out_dim: int, *, batch_norm: bool, seed: int,
                   name: str) -> keras.Model:
    """Linear(in, hidden)[-BN]-ReLU-Linear(hidden, out), built."""
    return mlp_head(in_dim, hidden, out_dim, hidden_layers=1, batch_norm=batch_norm, seed=seed,
                    name=name)


def mlp_head(in_dim: int, hidden: int, out_dim: int, *, hidden_layers: int, batch_norm: bool,
             seed: int, name: str) -> keras.Model:
    """`hidden_layers` x (Linear(., hidden)[-BN]-ReLU), then Linear(hidden, out), built."""
    inputs = keras.Input((in_dim,), name=f"{name}_in")
    x, fan_in = inputs, in_dim
    for index in range(hidden_layers):
        x = _linear(hidden, fan_in, seed + 10 * index, f"{name}_fc{index}")(x)
        if batch_norm:
            x = batch_normalization(**BN, dtype="float32", name=f"{name}_bn{index}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{index}")(x)
        fan_in = hidden
    outputs = _linear(out_dim, fan_in, seed + 10 * hidden_layers, f"{name}_fc{hidden_layers}")(x)
    return keras.Model(inputs, outputs, name=name)


def linear_head(in_dim: int, out_dim: int, *, seed: int, name: str) -> keras.Model:
    """Linear(in, out), built."""
    inputs = keras.Input((in_dim,), name=f"{name}_in")
    return keras.Model(inputs, _linear(out_dim, in_dim, seed, f"{name}_fc")(inputs), name=name)


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """target <- source, variable by variable (same architecture; BN statistics included)."""
    for mine, theirs in zip(target.weights, source.weights, strict=True):
        mine.assign(theirs)
