"""DeepLab-v2 ResNet-101 encoder as in RECALL (`model_resnet.py`): output stride 8, 2048 channels.

Caffe-style bottlenecks (stride 2 on the first 1x1 conv of block2 unit 1 and on its shortcut),
dilation 2 in block3 and 4 in block4, no conv biases, SAME padding, frozen BN (epsilon 1e-3).

Layer names encode the TF1 scopes of `resnet_v1_101` so that released checkpoints convert 1:1
(`continual.models.pretrained.tf1_variable_name`): the stem is `conv1` / `conv1_bn`, a unit's
layers are `block{b}_unit_{u}_{conv1|conv2|conv3|shortcut}` and the same name plus `_bn`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from continual.bindings import supplied_configurable
from continual.models.conv import Conv2D
from continual.models.frozen_bn import FrozenBatchNormalization, fold_into_conv

RESNET101_UNITS = (3, 4, 23, 3)
# output stride -> (strides, dilations) of blocks 1-4: DeepLab-v2 runs at 8 (RECALL);
# DeepLab-v3 at 16 (block4 atrous), where its ASPP rates 6/12/18 are defined.
BLOCK_LAYOUTS = {8: ((1, 2, 1, 1), (1, 1, 2, 4)), 16: ((1, 2, 2, 1), (1, 1, 1, 2))}
BN_EPSILON = 1e-3


def conv_bn(x, filters: int, kernel: int, name: str, *, strides: int = 1, dilation: int = 1,
            relu: bool = True, affine_trainable: bool = False):
    """Bias-free SAME conv, frozen BN (`{name}_bn`), optional ReLU (`{name}_relu`); under
    bfloat16 / float16 the BN is folded into the conv (`frozen_bn.fold_into_conv`)."""
    conv = Conv2D(
        filters, kernel, strides=strides, dilation_rate=dilation, padding="same",
        use_bias=False, kernel_initializer="he_normal", name=name)
    bn = FrozenBatchNormalization(
        affine_trainable=affine_trainable, epsilon=BN_EPSILON, name=f"{name}_bn")
    fold_into_conv(conv, bn)
    x = bn(conv(x))
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def bottleneck(x, depth_out: int, depth: int, *, stride: int, dilation: int, project: bool,
               name: str, affine_trainable: bool):
    """One `bottleneck_v1` unit: 1x1 (stride) -> 3x3 (dilation) -> 1x1, plus shortcut, ReLU."""
    bn = {"affine_trainable": affine_trainable}
    shortcut = x
    if project:
        shortcut = conv_bn(x, depth_out, 1, f"{name}_shortcut", strides=stride, relu=False, **bn)
    y = conv_bn(x, depth, 1, f"{name}_conv1", strides=stride, **bn)
    y = conv_bn(y, depth, 3, f"{name}_conv2", dilation=dilation, **bn)
    y = conv_bn(y, depth_out, 1, f"{name}_conv3", relu=False, **bn)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.ReLU(name=f"{name}_out")(y)


@supplied_configurable(input_channels="build_encoder.input_channels",
                       bn_affine_trainable="build_encoder.bn_affine_trainable")
def resnet101_v2(*, input_channels: int = 3, bn_affine_trainable: bool = False,
                 units: Sequence[int] = RESNET101_UNITS, base_depth: int = 64,
                 output_stride: int = 8, name: str = "encoder") -> keras.Model:
    """Build the encoder; images [B, H, W, C] -> features [B, H/os, W/os, 32*base_depth].

    Args:
      units: bottleneck units per block; (3, 4, 23, 3) is ResNet-101. Tests use (1, 1, 1, 1).
      base_depth: stem width; block b has bottleneck depth base_depth * 2**b and outputs 4x that.
      bn_affine_trainable: train BN gamma/beta (statistics stay frozen); off as in the paper.
      output_stride: 8 (DeepLab-v2, the paper's) or 16 (DeepLab-v3); same variables either way,
        so one pretrained checkpoint serves both.
    """
    if len(units) != 4 or min(units) < 1:
        raise ValueError(f"resnet101_v2.units must be four positive counts, got {tuple(units)}.")
    if output_stride not in BLOCK_LAYOUTS:
        raise ValueError(f"resnet101_v2.output_stride = {output_stride!r}; expected one of "
                         f"{sorted(BLOCK_LAYOUTS)} (8: DeepLab-v2, 16: DeepLab-v3)")
    strides, dilations = BLOCK_LAYOUTS[output_stride]
    images = keras.Input((None, None, input_channels), name="images")
    x = conv_bn(images, base_depth, 7, "conv1", strides=2, affine_trainable=bn_affine_trainable)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    blocks = zip(units, strides, dilations, strict=True)
    for b, (count, stride, dilation) in enumerate(blocks):
        depth = base_depth * 2**b
        for u in range(1, count + 1):
            x = bottleneck(x, 4 * depth, depth, stride=stride if u == 1 else 1,
                           dilation=dilation, project=u == 1, name=f"block{b + 1}_unit_{u}",
                           affine_trainable=bn_affine_trainable)
    return keras.Model(images, x, name=name)
