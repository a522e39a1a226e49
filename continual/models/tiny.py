"""A tiny encoder for tests and the embedded demo: five conv-BN-ReLU layers, output stride 8.

It trains from scratch, so its BN learns normally (batch statistics while training). Freezing it
means `encoder.trainable = False`; Keras then runs its BN in inference mode, and `Segmenter`
also calls a frozen encoder with `training=False`, so no statistic moves.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from continual.bindings import supplied_configurable
from continual.models.batch_norm import batch_normalization

# (width index, stride, dilation) of each layer; three stride-2 layers give output stride 8.
LAYOUT = ((0, 2, 1), (1, 2, 1), (1, 1, 1), (2, 2, 1), (2, 1, 2))


@supplied_configurable(input_channels="build_encoder.input_channels",
                       bn_affine_trainable="build_encoder.bn_affine_trainable")
def tiny_encoder(*, input_channels: int = 3, bn_affine_trainable: bool = False,
                 widths: Sequence[int] = (16, 32, 64), bn_momentum: float = 0.9,
                 name: str = "encoder") -> keras.Model:
    """Build the tiny encoder: images [B, H, W, C] -> features [B, H/8, W/8, widths[-1]].

    `bn_affine_trainable` is accepted for a uniform registry and has no effect: this BN trains
    fully. `bn_momentum` is below the Keras default so moving statistics settle within the few
    hundred steps a demo trains.
    """
    del bn_affine_trainable
    if len(widths) != 3:
        raise ValueError(f"tiny_encoder.widths must hold three widths, got {tuple(widths)}.")
    images = keras.Input((None, None, input_channels), name="images")
    x = images
    for i, (width, stride, dilation) in enumerate(LAYOUT, start=1):
        x = keras.layers.Conv2D(
            widths[width], 3, strides=stride, dilation_rate=dilation, padding="same",
            use_bias=False, kernel_initializer="he_normal", name=f"tiny_conv{i}")(x)
        x = batch_normalization(
            momentum=bn_momentum, epsilon=1e-3, name=f"tiny_conv{i}_bn")(x)
        x = keras.layers.ReLU(name=f"tiny_conv{i}_relu")(x)
    return keras.Model(images, x, name=name)
