"""torchvision-layout ResNet-18 / 50 for continuous SSL: weight counts equal torchvision's
(without fc), zero-init residual makes every block start as its shortcut, output shapes."""

import keras
import numpy as np
import pytest

import continual.models.resnet_torchvision  # noqa: F401  (registers resnet18 / resnet50)
from continual.models.classifiers import build_classifier


def _trainable_count(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_resnet18_at_small_input_has_torchvisions_weights_and_zero_residual_gammas():
    model = build_classifier("resnet18", input_shape=(32, 32, 3), num_classes=10, seed=1)
    backbone = model.backbone
    # torchvision resnet18: 11 689 512 parameters, of which fc 512 x 1000 + 1000
    assert _trainable_count(backbone) == 11_689_512 - 513_000
    images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
    assert tuple(backbone(images).shape) == (2, 512)
    assert tuple(model(images).shape) == (2, 10)
    last_bns = [layer for layer in backbone.layers if layer.name.endswith("_conv2_bn")]
    assert len(last_bns) == 8                                   # 2 blocks in each of 4 stages
    assert all(not np.any(layer.gamma.numpy()) for layer in last_bns)
    assert np.all(backbone.get_layer("stem_bn").gamma.numpy() == 1.0)
    assert np.all(backbone.get_layer("stage1_block1_conv1_bn").gamma.numpy() == 1.0)
    # zeroed residual: an identity block's output is ReLU(its input), in training mode too
    block_in = backbone.get_layer("stage1_block1_conv1").input  # stride 1: SAME, no pad layer
    block_out = backbone.get_layer("stage1_block1_out").output
    probe = keras.Model(backbone.input, [block_in, block_out])
    x, y = probe(images, training=True)
    np.testing.assert_allclose(np.asarray(y), np.maximum(np.asarray(x), 0.0), atol=1e-6)


def test_without_zero_init_the_residual_gammas_are_one():
    from continual.models.resnet_torchvision import resnet18_backbone
    backbone = resnet18_backbone((32, 32, 3), bn_momentum=0.9, bn_epsilon=1e-5, seed=0,
                                 zero_init_residual=False)
    assert np.all(backbone.get_layer("stage4_block2_conv2_bn").gamma.numpy() == 1.0)


def test_resnet50_has_torchvisions_weights_and_2048_features():
    model = build_classifier("resnet50", input_shape=(32, 32, 3), num_classes=10, seed=0)
    assert _trainable_count(model.backbone) == 25_557_032 - 2_049_000
    conv3_bns = [layer for layer in model.backbone.layers if layer.name.endswith("_conv3_bn")]
    assert len(conv3_bns) == 16 and all(not np.any(b.gamma.numpy()) for b in conv3_bns)
    assert tuple(model.backbone(np.zeros((1, 32, 32, 3), np.float32)).shape) == (1, 2048)


def test_images_smaller_than_the_total_stride_are_refused():
    with pytest.raises(ValueError, match="resnet18 downsamples by 32"):
        build_classifier("resnet18", input_shape=(16, 16, 3), num_classes=10)
