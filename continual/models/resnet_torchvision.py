"""ResNet-18 / ResNet-50 in torchvision's ImageNet layout, the continuous-SSL paper's backbones.

Stem conv7x7 stride 2 - BN - ReLU - max-pool 3x3 stride 2, then four stages (widths 64..512,
stride 2 from the second) of basic blocks (ResNet-18: 2, 2, 2, 2) or bottlenecks (ResNet-50:
3, 4, 6, 3; expansion 4, the stride on the 3x3 conv as torchvision's "v1.5"), global average
pooling: 512-d (R18) or 2048-d (R50) features. `zero_init_residual` (on by default, as SimSiam
builds its encoder) sets the last BN gamma of every block to zero, so each block starts as its
shortcut. Convs, padding and init follow `resnet_cifar` (torch's symmetric zero padding,
Kaiming normal fan-out). Register: `import continual.models.resnet_torchvision` in gin, then
`build_classifier.name = 'resnet18'` or `'resnet50'`.
"""

from __future__ import annotations

from collections.abc import Sequence

import gin
import keras

from continual.models.backbone_inputs import BACKBONE_ARGS, check_image_shape
from continual.models.classifiers import register_backbone
from continual.models.resnet_cifar import _Layers, basic_block
from continual.models.resnet_imagenet_rm import WIDTHS, imagenet_stem

TOTAL_STRIDE = 32   # stem 2, max-pool 2, stages 2 x 2 x 2


def bottleneck_block(layers: _Layers, x, width: int, stride: int, *, zero_init_residual: bool,
                     name: str):
    """conv1x1 - conv3x3 (stride) - conv1x1 to 4 x width, projection shortcut when the shape
    changes, ReLU after the add."""
    y = layers.conv_bn(x, width, 1, 1, 0, f"{name}_conv1", relu=True)
    y = layers.conv_bn(y, width, 3, stride, 1, f"{name}_conv2", relu=True)
    y = layers.conv_bn(y, 4 * width, 1, 1, 0, f"{name}_conv3", relu=False,
                       zero_gamma=zero_init_residual)
    shortcut = x
    if stride != 1 or x.shape[-1] != 4 * width:
        shortcut = layers.conv_bn(x, 4 * width, 1, stride, 0, f"{name}_shortcut", relu=False)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.ReLU(name=f"{name}_out")(y)


def torchvision_resnet(input_shape: tuple, *, stage_blocks: Sequence[int], bottleneck: bool,
                       zero_init_residual: bool, bn_momentum: float, bn_epsilon: float,
                       seed: int, name: str) -> keras.Model:
    """Stem, four stages, global average pool; images [B, H, W, C] -> features [B, D]."""
    input_shape = check_image_shape(input_shape, owner=name, min_size=TOTAL_STRIDE)
    layers = _Layers(bn_momentum, bn_epsilon, seed)
    images = keras.Input(input_shape, name="images")
    x = imagenet_stem(layers, images)
    for stage, (blocks, width) in enumerate(zip(stage_blocks, WIDTHS, strict=True), start=1):
        for block in range(blocks):
            stride = 2 if stage > 1 and block == 0 else 1
            block_name = f"stage{stage}_block{block + 1}"
            if bottleneck:
                x = bottleneck_block(layers, x, width, stride,
                                     zero_init_residual=zero_init_residual, name=block_name)
            else:
                x = basic_block(layers, x, width, stride, layout="torchvision",
                                zero_init_residual=zero_init_residual, name=block_name)
    features = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(images, features, name=name)


@gin.configurable(denylist=BACKBONE_ARGS)
def resnet18_backbone(input_shape: tuple, *, bn_momentum: float, bn_epsilon: float, seed: int,
                      zero_init_residual: bool = True) -> keras.Model:
    """torchvision ResNet-18 without its fc: 512-d features (11.18 M weights)."""
    return torchvision_resnet(input_shape, stage_blocks=(2, 2, 2, 2), bottleneck=False,
                              zero_init_residual=zero_init_residual, bn_momentum=bn_momentum,
                              bn_epsilon=bn_epsilon, seed=seed, name="resnet18")


@gin.configurable(denylist=BACKBONE_ARGS)
def resnet50_backbone(input_shape: tuple, *, bn_momentum: float, bn_epsilon: float, seed: int,
                      zero_init_residual: bool = True) -> keras.Model:
    """torchvision ResNet-50 without its fc: 2048-d features (23.51 M weights)."""
    return torchvision_resnet(input_shape, stage_blocks=(3, 4, 6, 3), bottleneck=True,
                              zero_init_residual=zero_init_residual, bn_momentum=bn_momentum,
                              bn_epsilon=bn_epsilon, seed=seed, name="resnet50")


register_backbone("resnet18", resnet18_backbone)
register_backbone("resnet50", resnet50_backbone)
