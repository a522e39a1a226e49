"""ResNet-34 in Rainbow Memory's ImageNet layout (RM's `models/imagenet.py`).

The ImageNet stem and stages of torchvision's ResNet-34 (conv7x7 stride 2 - BN - ReLU, max-pool
3x3 stride 2, basic blocks [3, 4, 6, 3] of widths 64..512, stride 2 from the second stage,
global average pool -> 512-d features), with RM's blocks: every conv, the projection shortcut
(conv1x1) too, is followed by BN and ReLU (RM's `ConvBlock`), and a ReLU follows the add. That
last ReLU is all that sets this block apart from the block of `resnet_cifar`'s 'rainbow_memory'
layout, and it changes nothing: both addends are ReLU outputs, so the sum is never negative. RM's
`FinalBlock` (Linear without bias + BN1d) is replaced by a plain Linear at the first task, as
RM does; here that is the classifier's head.

Weights: torchvision's ResNet-34 count without its fc (21 284 672 trainable), as the layouts differ
only in ReLUs. Init as RM: Kaiming normal fan-out convs, BN gamma 1 / beta 0; RM's BN epsilon is
1e-6 (`build_classifier.bn_epsilon`; RM's `train_utils.py`). RM's `zero_init_residual` is off
(turning it on crashes the original, which looks for a `bn2` its blocks lack), so it is not offered.
Register: `build_classifier.name = 'resnet34_rm'` (no gin import needed).
"""

from __future__ import annotations

import gin
import keras

from continual.models.backbone_inputs import BACKBONE_ARGS, check_image_shape
from continual.models.resnet_cifar import _Layers

STAGE_BLOCKS = (3, 4, 6, 3)   # ResNet-34
WIDTHS = (64, 128, 256, 512)
TOTAL_STRIDE = 32             # stem 2, max-pool 2, stages 2 x 2 x 2


def rm_imagenet_block(layers: _Layers, x, filters: int, stride: int, name: str):
    """RM's ImageNet BasicBlock: conv-BN-ReLU twice, shortcut identity or conv1x1-BN-ReLU,
    add, ReLU."""
    y = layers.conv_bn(x, filters, 3, stride, 1, f"{name}_conv1", relu=True)
    y = layers.conv_bn(y, filters, 3, 1, 1, f"{name}_conv2", relu=True)
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.conv_bn(x, filters, 1, stride, 0, f"{name}_shortcut", relu=True)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.ReLU(name=f"{name}_out")(y)


def imagenet_stem(layers: _Layers, images):
    """torchvision's ImageNet stem: conv7x7 stride 2 - BN - ReLU, max-pool 3x3 stride 2 (64
    channels, stride 4 in all)."""
    x = layers.conv_bn(images, WIDTHS[0], 7, 2, 3, "stem", relu=True)
    # after the ReLU every value is >= 0, so zero padding acts as torch's -inf padding
    x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)


@gin.configurable(denylist=BACKBONE_ARGS)
def resnet34_rm_backbone(input_shape: tuple, *, bn_momentum: float, bn_epsilon: float,
                         seed: int) -> keras.Model:
    """RM's ImageNet ResNet-34: images [B, H, W, C] (H, W >= 32; RM: 224) -> features [B, 512]."""
    input_shape = check_image_shape(input_shape, owner="resnet34_rm", min_size=TOTAL_STRIDE)
    layers = _Layers(bn_momentum, bn_epsilon, seed)
    images = keras.Input(input_shape, name="images")
    x = imagenet_stem(layers, images)
    for stage, (blocks, width) in enumerate(zip(STAGE_BLOCKS, WIDTHS, strict=True), start=1):
        for block in range(blocks):
            stride = 2 if stage > 1 and block == 0 else 1
            x = rm_imagenet_block(layers, x, width, stride, f"stage{stage}_block{block + 1}")
    features = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(images, features, name="resnet34_rm")
