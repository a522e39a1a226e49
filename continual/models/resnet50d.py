"""ResNet-50-D (He et al., "Bag of Tricks", 2019), as timm's `resnet50d`: the SSLAD Track 3A
backbone (timm's `resnet50d`), registered as the classifier 'resnet50d'.

Differences from ResNet-50: a deep stem (three 3x3 convs, 32-32-64 channels, the first with
stride 2, then BN-ReLU and a 3x3 max-pool with stride 2), the stride of a bottleneck on its 3x3
conv, and downsampling shortcuts that average-pool 2x2 (ceil mode, padding not counted: Keras'
'same' average pool) before their 1x1 conv. Bottlenecks of 3, 4, 6, 3 blocks with widths 64,
128, 256, 512 (x4 out), the last BN of each block zero-initialised (timm's `zero_init_last`),
global average pool to 2048 features. Random init by default; `imagenet_weights` loads timm's
ImageNet state dict from a .npz (`timm_resnet50d.py`), as the original's `pretrained=True`.
"""

from __future__ import annotations

import gin
import keras

from continual.key_files import register_file_binding
from continual.models.backbone_inputs import BACKBONE_ARGS, check_image_shape
from continual.models.classifiers import register_backbone
from continual.models.resnet_cifar import _Layers
from continual.models.timm_resnet50d import load_timm_npz

STAGES = ((3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2))  # (blocks, width, stride)
EXPANSION = 4
STEM_WIDTH = 32


def deep_stem(layers: _Layers, x):
    """conv3x3/2 (32) - conv3x3 (32) - conv3x3 (64), BN-ReLU after each, max-pool 3x3/2."""
    x = layers.conv_bn(x, STEM_WIDTH, 3, 2, 1, "stem_conv1", relu=True)
    x = layers.conv_bn(x, STEM_WIDTH, 3, 1, 1, "stem_conv2", relu=True)
    x = layers.conv_bn(x, 2 * STEM_WIDTH, 3, 1, 1, "stem_conv3", relu=True)
    x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)  # after ReLU: as -inf padding
    return keras.layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)


def bottleneck_d(layers: _Layers, x, width: int, stride: int, name: str):
    """1x1 - 3x3 (stride) - 1x1 (x4) bottleneck; an average-pool + 1x1 shortcut when the shape
    changes."""
    out = width * EXPANSION
    y = layers.conv_bn(x, width, 1, 1, 0, f"{name}_conv1", relu=True)
    y = layers.conv_bn(y, width, 3, stride, 1, f"{name}_conv2", relu=True)
    y = layers.conv_bn(y, out, 1, 1, 0, f"{name}_conv3", relu=False, zero_gamma=True)
    shortcut = x
    if stride != 1 or x.shape[-1] != out:
        if stride != 1:
            shortcut = keras.layers.AveragePooling2D(stride, strides=stride, padding="same",
                                                     name=f"{name}_down_pool")(shortcut)
        shortcut = layers.conv_bn(shortcut, out, 1, 1, 0, f"{name}_down", relu=False)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.ReLU(name=f"{name}_out")(y)


@gin.configurable(denylist=BACKBONE_ARGS)
def resnet50d_backbone(input_shape: tuple, *, bn_momentum: float = 0.9,
                       bn_epsilon: float = 1e-5, seed: int = 0,
                       imagenet_weights: str | None = None) -> keras.Model:
    """Images [B, H, W, C] -> pooled features [B, 2048] (H, W >= 32: five halvings).

    `imagenet_weights`: a .npz of timm's `resnet50d` state dict (its `fc` is skipped), loaded
    strictly by name; None = random init.
    """
    input_shape = check_image_shape(input_shape, owner="resnet50d", min_size=32)
    layers = _Layers(bn_momentum, bn_epsilon, seed)
    images = keras.Input(input_shape, name="images")
    x = deep_stem(layers, images)
    for stage, (blocks, width, stride) in enumerate(STAGES, start=1):
        for block in range(blocks):
            x = bottleneck_d(layers, x, width, stride if block == 0 else 1,
                             f"layer{stage}_{block}")
    features = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    backbone = keras.Model(images, features, name="resnet50d")
    if imagenet_weights is not None:
        load_timm_npz(backbone, imagenet_weights)
    return backbone


register_backbone("resnet50d", resnet50d_backbone)
# The .npz enters the stage keys by its content, not its path (continual.key_files).
register_file_binding(resnet50d_backbone, "imagenet_weights", how=(
    "The paper starts from timm's ImageNet resnet50d: where timm runs, write it with "
    "numpy.savez('resnet50d_imagenet.npz', **{k: v.numpy() for k, v in "
    "timm.create_model('resnet50d', pretrained=True).state_dict().items()}) "
    "(continual/models/timm_resnet50d.py)"))
