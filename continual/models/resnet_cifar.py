"""CIFAR ResNets of the ports: ResNet-18 with a CIFAR stem, and CIFAR ResNet-32 (RM).

Two residual-block layouts, both from the originals:
- 'torchvision' (Kaizen / solo-learn, SimSiam): conv-BN-ReLU-conv-BN, shortcut identity or
  conv1x1-BN, ReLU after the add. `zero_init_residual` zeroes the last BN's gamma of each block.
- 'rainbow_memory' (RM's `models/cifar.py` and `models/layers.py`): every conv is
  conv-BN-ReLU, the projection shortcut too (conv1x1-BN-ReLU), and there is no ReLU after the add.
Both stems are conv3x3 stride 1 - BN - ReLU with no max-pool; `stem_padding` is 1 (RM, the usual
CIFAR variant) or 2 (Kaizen's solo-learn stem, which grows a 32x32 image to 34x34).

Layers follow torch's arithmetic: bias-free convs with torch's symmetric zero padding, and conv
kernels from Kaiming normal, fan-out (torchvision's and RM's init). A stride-1 conv whose torch
padding is (kernel - 1) / 2 (every 3x3 conv but a stage's first and Kaiming's 2-pixel stem) pads
exactly as Keras' SAME, so it is one `padding='same'` layer (no separate ZeroPadding2D: about a
tenth less step time on CPU, identical logits). Elsewhere the padding stays explicit: SAME would
pad a stride-2 conv on the bottom/right only (shifting the sampling grid by one pixel) and the
2-pixel stem would not grow the image. Layer and weight names do not depend on this (a
checkpoint keyed by weight path restores either way); a stream stage's checkpoint tracks layers
by position, so one written by the explicit-padding construction does not restore, but the
code key of every stage using these models changed with this file, so none is read.
"""

from __future__ import annotations

from collections.abc import Sequence

import gin
import keras

from continual.models.backbone_inputs import BACKBONE_ARGS, check_image_shape
from continual.models.batch_norm import batch_normalization

LAYOUTS = ("torchvision", "rainbow_memory")


def same_as_torch(kernel: int, stride: int, padding: int) -> bool:
    """True when Keras' SAME pads exactly as torch's `padding` on every side, for any input
    size: stride 1 and an odd kernel padded by (kernel - 1) / 2."""
    return stride == 1 and kernel % 2 == 1 and padding == (kernel - 1) // 2


class _Layers:
    """Makes the conv / BN layers of one backbone with torch conventions and per-layer seeds."""

    def __init__(self, bn_momentum: float, bn_epsilon: float, seed: int):
        self.bn = {"momentum": bn_momentum, "epsilon": bn_epsilon}
        self.seed = seed
        self.count = 0

    def conv(self, x, filters: int, kernel: int, stride: int, padding: int, name: str):
        """Bias-free conv with torch's symmetric zero padding (SAME where that is the same)."""
        self.count += 1
        init = keras.initializers.VarianceScaling(
            2.0, "fan_out", "untruncated_normal", seed=self.seed * 1000 + self.count)
        same = same_as_torch(kernel, stride, padding)
        if padding and not same:
            x = keras.layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
        return keras.layers.Conv2D(filters, kernel, strides=stride, use_bias=False,
                                   padding="same" if same else "valid",
                                   kernel_initializer=init, name=name)(x)

    def conv_bn(self, x, filters: int, kernel: int, stride: int, padding: int, name: str, *,
                relu: bool, zero_gamma: bool = False):
        x = self.conv(x, filters, kernel, stride, padding, name)
        x = batch_normalization(
            gamma_initializer="zeros" if zero_gamma else "ones", name=f"{name}_bn", **self.bn)(x)
        return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def basic_block(layers: _Layers, x, filters: int, stride: int, *, layout: str,
                zero_init_residual: bool, name: str):
    """One basic block (two 3x3 convs plus shortcut) in the given layout."""
    rm = layout == "rainbow_memory"
    y = layers.conv_bn(x, filters, 3, stride, 1, f"{name}_conv1", relu=True)
    y = layers.conv_bn(y, filters, 3, 1, 1, f"{name}_conv2", relu=rm,
                       zero_gamma=zero_init_residual)
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.conv_bn(x, filters, 1, stride, 0, f"{name}_shortcut", relu=rm)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return y if rm else keras.layers.ReLU(name=f"{name}_out")(y)


def resnet_backbone(input_shape: tuple, *, stage_blocks: Sequence[int], widths: Sequence[int],
                    layout: str, stem_padding: int, zero_init_residual: bool,
                    bn_momentum: float, bn_epsilon: float, seed: int, name: str) -> keras.Model:
    """Stem, stages of basic blocks (stride 2 from the second stage), global average pool."""
    if layout not in LAYOUTS:
        raise ValueError(f"{name}_backbone.layout = {layout!r}; use one of {list(LAYOUTS)}.")
    if stem_padding not in (1, 2):
        raise ValueError(f"{name}_backbone.stem_padding = {stem_padding}; use 1 (RM) or 2 "
                         "(Kaizen / solo-learn).")
    input_shape = check_image_shape(input_shape, owner=name,
                                    min_size=2 ** (len(stage_blocks) - 1))
    layers = _Layers(bn_momentum, bn_epsilon, seed)
    images = keras.Input(input_shape, name="images")
    x = layers.conv_bn(images, widths[0], 3, 1, stem_padding, "stem", relu=True)
    for stage, (blocks, width) in enumerate(zip(stage_blocks, widths, strict=True), start=1):
        for block in range(blocks):
            stride = 2 if stage > 1 and block == 0 else 1
            x = basic_block(layers, x, width, stride, layout=layout,
                            zero_init_residual=zero_init_residual,
                            name=f"stage{stage}_block{block + 1}")
    features = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(images, features, name=name)


@gin.configurable(denylist=BACKBONE_ARGS)
def resnet18_cifar_backbone(input_shape: tuple, *, bn_momentum: float, bn_epsilon: float,
                            seed: int, layout: str = "torchvision", stem_padding: int = 1,
                            zero_init_residual: bool = False) -> keras.Model:
    """ResNet-18, CIFAR stem: [2, 2, 2, 2] blocks of widths 64..512 -> 512-d features.

    RM: layout 'rainbow_memory' (and bn_epsilon 1e-6). Kaizen: stem_padding 2,
    zero_init_residual True. SimSiam: zero_init_residual True.
    """
    return resnet_backbone(input_shape, stage_blocks=(2, 2, 2, 2), widths=(64, 128, 256, 512),
                           layout=layout, stem_padding=stem_padding,
                           zero_init_residual=zero_init_residual, bn_momentum=bn_momentum,
                           bn_epsilon=bn_epsilon, seed=seed, name="resnet18_cifar")


@gin.configurable(denylist=BACKBONE_ARGS)
def resnet32_backbone(input_shape: tuple, *, bn_momentum: float, bn_epsilon: float, seed: int,
                      layout: str = "rainbow_memory",
                      zero_init_residual: bool = False) -> keras.Model:
    """CIFAR ResNet-32 as RM ships it: 3 stages x 5 blocks, widths 16/32/64 -> 64-d features.

    Its shortcuts are projections (conv1x1-BN[-ReLU]) where the shape changes, as in RM.
    """
    return resnet_backbone(input_shape, stage_blocks=(5, 5, 5), widths=(16, 32, 64),
                           layout=layout, stem_padding=1, zero_init_residual=zero_init_residual,
                           bn_momentum=bn_momentum, bn_epsilon=bn_epsilon, seed=seed,
                           name="resnet32")
