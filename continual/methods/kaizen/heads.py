"""Kaizen's heads over the encoder's features (solo-learn / Kaizen layouts, torch init).

- projector: Linear(d, hidden)[-BN]-ReLU-Linear(hidden, out); BYOL and MoCo v2+ put BN in the
  middle, SimCLR does not;
- predictor (BYOL) and distillation predictor: Linear(out, hidden)-BN-ReLU-Linear(hidden, out);
- classifier: Kaizen's `MultiLayerClassifier`, Linear(d, hidden)-ReLU-Linear(hidden, classes);
- online probe: Linear(d, classes).
BN follows torch (momentum 0.1, epsilon 1e-5). Heads stay float32.
"""

from __future__ import annotations

import keras

from continual.models.small_backbones import torch_linear_init

BN = {"momentum": 0.9, "epsilon": 1e-5}


def _linear(units: int, fan_in: int, seed: int, name: str) -> keras.layers.Dense:
    return keras.layers.Dense(units, kernel_initializer=torch_linear_init(fan_in, seed),
                              bias_initializer=torch_linear_init(fan_in, seed + 1),
                              dtype="float32", name=name)


def two_layer_head(in_dim: int, hidden: int, out_dim: int, *, batch_norm: bool, seed: int,
                   name: str) -> keras.Model:
    """Linear(in, hidden)[-BN]-ReLU-Linear(hidden, out), built."""
    inputs = keras.Input((in_dim,), name=f"{name}_in")
    x = _linear(hidden, in_dim, seed, f"{name}_fc0")(inputs)
    if batch_norm:
        x = keras.layers.BatchNormalization(**BN, dtype="float32", name=f"{name}_bn0")(x)
    x = keras.layers.ReLU(name=f"{name}_relu0")(x)
    outputs = _linear(out_dim, hidden, seed + 10, f"{name}_fc1")(x)
    return keras.Model(inputs, outputs, name=name)


def linear_head(in_dim: int, out_dim: int, *, seed: int, name: str) -> keras.Model:
    """Linear(in, out), built."""
    inputs = keras.Input((in_dim,), name=f"{name}_in")
    return keras.Model(inputs, _linear(out_dim, in_dim, seed, f"{name}_fc")(inputs), name=name)


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """target <- source, variable by variable (same architecture; BN statistics included)."""
    for mine, theirs in zip(target.weights, source.weights, strict=True):
        mine.assign(theirs)
