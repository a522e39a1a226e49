"""RM's ImageNet ResNet-34 ('resnet34_rm'): torchvision's weight count, RM's block layout,
BN epsilon and init, built at RM's 224x224."""

from __future__ import annotations

import gin
import numpy as np
import pytest

from continual.models.classifiers import build_classifier

# torchvision resnet34: 21 797 672 parameters, of which fc 512 x 1000 + 1000 = 513 000
TORCHVISION_RESNET34_WITHOUT_FC = 21_797_672 - 513_000


def _trainable(model) -> int:
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


@pytest.fixture(scope="module")
def resnet34():
    gin.clear_config()
    gin.parse_config("build_classifier.bn_epsilon = 1e-6")  # RM's, as common.gin binds it
    model = build_classifier("resnet34_rm", input_shape=(224, 224, 3), num_classes=1000, seed=3)
    gin.clear_config()
    return model


def test_weights_match_torchvision_resnet34_and_shapes(resnet34):
    assert _trainable(resnet34.backbone) == TORCHVISION_RESNET34_WITHOUT_FC == 21_284_672
    assert _trainable(resnet34.head) == 513_000
    assert resnet34.feature_dim == 512
    assert tuple(resnet34.backbone.get_layer("stage4_block3_out").output.shape) == (None, 7, 7,
                                                                                      512)
    images = np.random.default_rng(0).normal(size=(1, 224, 224, 3)).astype(np.float32)
    logits = resnet34(images)
    assert logits.shape == (1, 1000) and np.isfinite(logits).all()


def test_rm_block_layout_bn_epsilon_and_kaiming_fan_out(resnet34):
    names = {layer.name for layer in resnet34.backbone.layers}
    blocks = {n.split("_conv1")[0] for n in names if n.endswith("_conv1")}
    assert len(blocks) == 3 + 4 + 6 + 3
    # RM's ConvBlock: conv-BN-ReLU everywhere, the projection shortcut included; ReLU after add
    shortcuts = sorted(n[:-len("_shortcut_relu")] for n in names if n.endswith("_shortcut_relu"))
    assert shortcuts == ["stage2_block1", "stage3_block1", "stage4_block1"]
    assert all(f"{b}_conv2_relu" in names and f"{b}_out" in names for b in blocks)
    bns = [layer for layer in resnet34.backbone.layers if layer.name.endswith("_bn")]
    assert len(bns) == 1 + 2 * 16 + 3 and {bn.epsilon for bn in bns} == {1e-6}
    kernel = resnet34.backbone.get_layer("stage4_block2_conv2").kernel.numpy()
    fan_out = 3 * 3 * 512
    assert abs(kernel.std() / np.sqrt(2.0 / fan_out) - 1.0) < 0.01
    assert abs(kernel.mean()) < 1e-3


def test_small_images_are_refused_naming_the_stride():
    with pytest.raises(ValueError, match=r"resnet34_rm downsamples by 32.*\(16, 16, 3\)"):
        build_classifier("resnet34_rm", input_shape=(16, 16, 3), num_classes=10)
