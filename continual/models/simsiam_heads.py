"""SimSiam's projector and predictor and its loss (Chen & He, CVPR 2021; as
`senthilps8/continuous_ssl_problem` builds them).

Projector: Linear(d, d, no bias)-BN-ReLU-Linear(d, d, no bias)-BN-ReLU-Linear(d, D)-BN without
affine. The original's last Linear keeps a frozen random bias (`simsiam.py`,
`requires_grad=False`), which the affine-free
BN subtracts again, so here it has no bias: the outputs are the same. Predictor:
Linear(D, h, no bias)-BN-ReLU-Linear(h, D). BN follows torch (momentum 0.1, epsilon 1e-5).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from continual.models.batch_norm import batch_normalization
from continual.models.small_backbones import torch_linear_init

BN = {"momentum": 0.9, "epsilon": 1e-5}


def _linear(units: int, fan_in: int, seed: int, bias: bool, name: str) -> keras.layers.Dense:
    return keras.layers.Dense(units, use_bias=bias,
                              kernel_initializer=torch_linear_init(fan_in, seed),
                              bias_initializer=torch_linear_init(fan_in, seed + 1), name=name)


def build_projector(feature_dim: int, out_dim: int, seed: int) -> keras.Model:
    inputs = keras.Input((feature_dim,))
    x = inputs
    for i in range(2):
        x = _linear(feature_dim, feature_dim, seed + 10 * i, False, f"proj_fc{i}")(x)
        x = batch_normalization(**BN, name=f"proj_bn{i}")(x)
        x = keras.layers.ReLU()(x)
    x = _linear(out_dim, feature_dim, seed + 20, False, "proj_fc2")(x)
    x = batch_normalization(center=False, scale=False, **BN, name="proj_bn2")(x)
    return keras.Model(inputs, x, name="projector")


def build_predictor(dim: int, hidden: int, seed: int) -> keras.Model:
    inputs = keras.Input((dim,))
    x = _linear(hidden, dim, seed + 30, False, "pred_fc0")(inputs)
    x = batch_normalization(**BN, name="pred_bn0")(x)
    x = keras.layers.ReLU()(x)
    x = _linear(dim, hidden, seed + 40, True, "pred_fc1")(x)
    return keras.Model(inputs, x, name="predictor")


def cosine(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Row-wise cosine similarity [B]."""
    return tf.reduce_sum(tf.math.l2_normalize(a, 1) * tf.math.l2_normalize(b, 1), axis=1)


def simsiam_loss(p1, p2, z1, z2) -> tf.Tensor:
    """Per-sample -1/2 [cos(p1, sg z2) + cos(p2, sg z1)]  [B]."""
    return -0.5 * (cosine(p1, tf.stop_gradient(z2)) + cosine(p2, tf.stop_gradient(z1)))
