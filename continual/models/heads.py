"""Decoders (classifier heads) on encoder features; logits stay at feature resolution.

`aspp_v2` is RECALL's DeepLab-v2 head: parallel 3x3 atrous convs with bias, summed, no BN.
`aspp_v3` is DeepLab-v3's ASPP with image pooling, for comparison runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from continual.bindings import supplied_configurable
from continual.models.batch_norm import batch_normalization
from continual.models.conv import Conv2D


@supplied_configurable(in_channels=None, num_classes="TrainManager.n_classes")
def aspp_v2(*, in_channels: int, num_classes: int = 21, rates: Sequence[int] = (6, 12, 18, 24),
            name: str = "decoder") -> keras.Model:
    """Sum of one 3x3 conv (in_channels -> num_classes, with bias) per dilation rate.

    Kernels and biases use `glorot_uniform`, the TF1 `get_variable` default the original used.
    Layers are `aspp_conv1..n` (TF1 `decoder/aspp/conv{i}`). Small inputs need small rates,
    e.g. `aspp_v2.rates = (1, 2, 3, 4)` for 64 px images at output stride 8.
    """
    if not rates:
        raise ValueError("aspp_v2.rates must name at least one dilation rate.")
    features = keras.Input((None, None, in_channels), name="features")
    branches = [
        Conv2D(num_classes, 3, dilation_rate=rate, padding="same", use_bias=True,
               kernel_initializer="glorot_uniform", bias_initializer="glorot_uniform",
               name=f"aspp_conv{i}")(features)
        for i, rate in enumerate(rates, start=1)
    ]
    logits = keras.layers.Add(name="aspp_sum")(branches) if len(branches) > 1 else branches[0]
    return keras.Model(features, logits, name=name)


def _conv_bn_relu(x, filters: int, kernel: int, name: str, dilation: int = 1):
    x = Conv2D(filters, kernel, dilation_rate=dilation, padding="same", use_bias=False,
               name=name)(x)
    x = batch_normalization(epsilon=1e-3, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


@keras.saving.register_keras_serializable(package="recall")
class ImagePooling(keras.layers.Layer):
    """DeepLab-v3 image-level branch: global mean -> 1x1 conv -> BN -> ReLU, broadcast to H x W."""

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.conv = Conv2D(filters, 1, use_bias=False, name="conv")
        self.bn = batch_normalization(epsilon=1e-3, name="bn")

    def build(self, input_shape):
        pooled_shape = (input_shape[0], 1, 1, input_shape[-1])
        self.conv.build(pooled_shape)
        self.bn.build(pooled_shape[:-1] + (self.filters,))

    def call(self, inputs, training=None):
        pooled = ops.mean(inputs, axis=(1, 2), keepdims=True)
        pooled = ops.relu(self.bn(self.conv(pooled), training=training))
        # Broadcasting against a zero map of the input's size = bilinear upsampling of a 1x1 map.
        return pooled + ops.zeros_like(inputs[..., :1])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters}


@supplied_configurable(in_channels=None, num_classes="TrainManager.n_classes")
def aspp_v3(*, in_channels: int, num_classes: int = 21, rates: Sequence[int] = (6, 12, 18),
            filters: int = 256, name: str = "decoder") -> keras.Model:
    """DeepLab-v3 ASPP: 1x1, one 3x3 atrous per rate and image pooling, each BN+ReLU;
    concatenated, projected by 1x1 conv+BN+ReLU, then a 1x1 classifier with bias."""
    features = keras.Input((None, None, in_channels), name="features")
    branches = [_conv_bn_relu(features, filters, 1, "aspp_conv0")]
    branches += [_conv_bn_relu(features, filters, 3, f"aspp_conv{i}", dilation=rate)
                 for i, rate in enumerate(rates, start=1)]
    branches.append(ImagePooling(filters, name="aspp_pool")(features))
    x = keras.layers.Concatenate(name="aspp_concat")(branches)
    x = _conv_bn_relu(x, filters, 1, "aspp_project")
    logits = Conv2D(num_classes, 1, use_bias=True, name="classifier")(x)
    return keras.Model(features, logits, name=name)
