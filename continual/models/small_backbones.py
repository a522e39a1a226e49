"""Small classifier backbones: RM's MLP-400 and a tiny conv net for demos and tests.

Both take images [B, H, W, C] (float32, already normalised) and return features [B, D].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import gin
import keras

from continual.bindings import check_int
from continual.models.backbone_inputs import BACKBONE_ARGS, check_image_shape
from continual.models.batch_norm import batch_normalization


def torch_linear_init(fan_in: int, seed: int) -> keras.initializers.Initializer:
    """torch.nn.Linear's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (weights and bias)."""
    limit = fan_in ** -0.5
    return keras.initializers.RandomUniform(-limit, limit, seed=seed)


@gin.configurable(denylist=BACKBONE_ARGS)
def mlp_backbone(input_shape: tuple, *, bn_momentum: float, bn_epsilon: float, seed: int,
                 hidden_units: Sequence[int] = (400, 400)) -> keras.Model:
    """Flatten, then per hidden layer Linear (no bias) - BN1d - ReLU, as RM's MLP-400.

    RM's MNIST model: hidden_units (400, 400) on 28x28x3 inputs, bn_epsilon 1e-6.
    """
    if not hidden_units:
        raise ValueError("mlp_backbone.hidden_units is empty; give at least one width.")
    input_shape = check_image_shape(input_shape, owner="mlp")
    images = keras.Input(input_shape, name="images")
    x = keras.layers.Flatten(name="flatten")(images)
    for i, units in enumerate(hidden_units, start=1):
        init = torch_linear_init(x.shape[-1], seed * 1000 + i)
        x = keras.layers.Dense(units, use_bias=False, kernel_initializer=init,
                               name=f"hidden{i}")(x)
        x = batch_normalization(momentum=bn_momentum, epsilon=bn_epsilon,
                                name=f"hidden{i}_bn")(x)
        x = keras.layers.ReLU(name=f"hidden{i}_relu")(x)
    return keras.Model(images, x, name="mlp")


@gin.configurable(denylist=BACKBONE_ARGS)
def tiny_convnet_backbone(input_shape: tuple, *, bn_momentum: float, bn_epsilon: float,
                          seed: int, widths: Sequence[int] = (8, 16, 16),
                          strides: Sequence[int] = (1, 2, 2)) -> keras.Model:
    """conv3x3-BN-ReLU per width (SAME padding), then global average pooling.

    The defaults hold ~3.8 k weights and train in seconds on 8x8..32x32 images on two CPU cores.
    """
    if not widths or len(widths) != len(strides):
        raise ValueError(f"tiny_convnet_backbone.widths {tuple(widths)} and strides "
                         f"{tuple(strides)} need the same non-zero length (one per conv layer).")
    for name, values in (("widths", widths), ("strides", strides)):
        for value in values:
            check_int(f"tiny_convnet_backbone.{name} = {tuple(values)}: each", value, minimum=1)
    input_shape = check_image_shape(input_shape, owner="tiny_convnet",
                                    min_size=math.prod(int(s) for s in strides))
    images = keras.Input(input_shape, name="images")
    x = images
    for i, (width, stride) in enumerate(zip(widths, strides, strict=True), start=1):
        init = keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal",
                                                  seed=seed * 1000 + i)
        x = keras.layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False,
                                kernel_initializer=init, name=f"conv{i}")(x)
        x = batch_normalization(momentum=bn_momentum, epsilon=bn_epsilon,
                                name=f"conv{i}_bn")(x)
        x = keras.layers.ReLU(name=f"conv{i}_relu")(x)
    features = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(images, features, name="tiny_convnet")
