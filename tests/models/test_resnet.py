"""DeepLab-v2 ResNet-101 encoder: shapes, parameter count, frozen batch normalisation."""

import numpy as np
import pytest

from continual.models.segmenter import Segmenter, build_decoder, build_encoder
from tests.models.test_pretrained import tf1_resnet_shapes

# Conv kernels + BN (gamma, beta, moving mean, moving variance) of resnet_v1_101 without logits.
RESNET101_PARAMS = 42_605_504


def test_resnet101_parameter_count_is_derived_from_the_architecture():
    shapes = tf1_resnet_shapes((3, 4, 23, 3), 64)
    assert sum(int(np.prod(s)) for s in shapes.values()) == RESNET101_PARAMS
    assert len(shapes) == 5 * (1 + sum((3, 4, 23, 3)) * 3 + 4)  # 104 convs, each + 4 BN vars


def test_full_deeplab_v2_at_321_pixels():
    encoder = build_encoder("resnet101_v2")
    model = Segmenter(encoder, build_decoder("aspp_v2", num_classes=21, in_channels=2048))
    assert encoder.count_params() == RESNET101_PARAMS
    kernels = sum(int(np.prod(v.shape)) for v in encoder.trainable_weights)
    assert kernels == sum(int(np.prod(s)) for n, s in tf1_resnet_shapes((3, 4, 23, 3), 64).items()
                          if n.endswith("/weights"))
    images = np.random.default_rng(0).uniform(-1, 1, (1, 321, 321, 3)).astype(np.float32)
    features = model.features(images)
    assert tuple(features.shape) == (1, 41, 41, 2048)
    logits = model.logits_from_features(features, model.decoder, (321, 321))
    assert tuple(logits.shape) == (1, 321, 321, 21) and logits.dtype == "float32"


def small(**kwargs):
    return build_encoder("resnet101_v2", units=(1, 1, 1, 1), base_depth=4, **kwargs)


def test_output_stride_is_8_with_same_padding():
    encoder = small()
    features = encoder(np.zeros((2, 65, 33, 3), np.float32))
    assert tuple(features.shape) == (2, 9, 5, 128)


def _randomise_statistics(encoder, seed=0):
    rng = np.random.default_rng(seed)
    for v in encoder.non_trainable_weights:
        v.assign(rng.uniform(0.5, 1.5, v.shape).astype(np.float32))


@pytest.mark.parametrize("affine", [False, True])
def test_bn_statistics_do_not_move_in_training_mode(affine):
    encoder = small(bn_affine_trainable=affine)
    _randomise_statistics(encoder)
    stats = [v.numpy() for v in encoder.weights if "moving" in v.path]
    images = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype(np.float32)
    train_out = encoder(images, training=True)
    np.testing.assert_allclose(train_out, encoder(images, training=False), rtol=1e-6)
    after = [v.numpy() for v in encoder.weights if "moving" in v.path]
    assert len(stats) == 2 * 17  # stem + 4 units x 4 convs, each BN has mean and variance
    for before, now in zip(stats, after, strict=True):
        np.testing.assert_array_equal(before, now)


def test_trainable_variables_are_conv_kernels_only():
    encoder = small()
    names = {v.path.split("/")[-1] for v in encoder.trainable_weights}
    assert names == {"kernel"} and len(encoder.trainable_weights) == 1 + 4 * 4
    encoder.trainable = False
    assert encoder.trainable_weights == []
    encoder.trainable = True  # unfreezing must not make BN affine trainable
    assert {v.path.split("/")[-1] for v in encoder.trainable_weights} == {"kernel"}


def test_bn_affine_trainable_adds_gamma_and_beta_only():
    encoder = small(bn_affine_trainable=True)
    names = sorted(v.path.split("/")[-1] for v in encoder.trainable_weights)
    assert names.count("kernel") == 17 and names.count("gamma") == 17
    assert names.count("beta") == 17 and len(names) == 51
    encoder.trainable = False
    encoder.trainable = True
    assert len(encoder.trainable_weights) == 51


def test_bad_units_are_rejected():
    with pytest.raises(ValueError, match="resnet101_v2.units"):
        build_encoder("resnet101_v2", units=(1, 1, 1))


def test_deeplab_v3_config_runs_the_encoder_at_output_stride_16_with_its_head():
    """Issue 12 item 4: DeepLab-v3 as defined; the same variables as at stride 8."""
    import gin

    from continual.models.segmenter import build_segmenter
    gin.parse_config_files_and_bindings(
        ["config/deeplab_v3.gin"], ["resnet101_v2.units = (1, 1, 1, 1)",
                                    "resnet101_v2.base_depth = 4"])
    model = build_segmenter(num_classes=21)
    features = model.features(np.zeros((1, 65, 33, 3), np.float32))
    assert tuple(features.shape) == (1, 5, 3, 128)                  # ceil(65/16), ceil(33/16)
    assert any(layer.name == "aspp_pool" for layer in model.decoder.layers)
    names = sorted(w.path for w in model.encoder.weights)
    assert names == sorted(w.path for w in small().weights)         # one checkpoint fits both
    with pytest.raises(ValueError, match="resnet101_v2.output_stride = 32"):
        small(output_stride=32)
