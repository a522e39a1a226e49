"""ResNet-50-D (timm `resnet50d`, the SSLAD backbone): built from the registry at a small input,
the shapes of its stages, and its size against timm's published parameter count."""

import numpy as np
import pytest

import continual.models.resnet50d  # noqa: F401  (registers 'resnet50d')
from continual.models.classifiers import build_classifier


@pytest.fixture(scope="module")
def classifier():
    return build_classifier("resnet50d", input_shape=(32, 32, 3), num_classes=7, seed=0)


def test_logits_and_2048_features_on_a_small_input(classifier):
    images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
    assert tuple(classifier(images).shape) == (2, 7)
    assert tuple(classifier.features(images).shape) == (2, 2048)
    backbone = classifier.backbone
    # deep stem: 32 -> 16 (stride-2 conv) -> 8 (max-pool); stages 8, 4, 2, 1
    assert tuple(backbone.get_layer("stem_conv3_bn").output.shape) == (None, 16, 16, 64)
    assert tuple(backbone.get_layer("stem_pool").output.shape) == (None, 8, 8, 64)
    for stage, size, channels in ((1, 8, 256), (2, 4, 512), (3, 2, 1024), (4, 1, 2048)):
        assert tuple(backbone.get_layer(f"layer{stage}_0_out").output.shape) == (
            None, size, size, channels)
    # the D shortcut: 2x2 average pool, then the 1x1 conv at stride 1
    assert backbone.get_layer("layer2_0_down").strides == (1, 1)


def test_parameter_count_matches_timm(classifier):
    """timm lists resnet50d at 25.58 M parameters with its 1000-class fc (2048 x 1000 + 1000)."""
    backbone = sum(int(np.prod(v.shape)) for v in classifier.backbone.trainable_variables)
    assert round((backbone + 2048 * 1000 + 1000) / 1e6, 2) == 25.58
    last_gammas = [v for v in classifier.backbone.variables
                   if v.path.startswith("layer") and v.path.endswith("conv3_bn/gamma")]
    assert len(last_gammas) == 16  # one zero-initialised last BN per bottleneck
    assert not any(float(np.abs(v.numpy()).max()) for v in last_gammas)
