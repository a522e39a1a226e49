"""The Segmenter: tiny demo model, input-size float32 logits, mixed precision, frozen encoder."""

import gin
import keras
import numpy as np
import pytest

from continual.models.segmenter import Segmenter, build_decoder, build_encoder, build_segmenter


@pytest.fixture
def tiny_gin():
    gin.clear_config()
    gin.parse_config("build_encoder.backbone = 'tiny'\naspp_v2.rates = (1, 2, 3, 4)")
    yield
    gin.clear_config()


def _images(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def test_tiny_segmenter_returns_float32_logits_at_input_size(tiny_gin):
    model = build_segmenter()
    assert model.encoder.count_params() < 100_000 and model.num_classes == 21
    rates = [model.decoder.get_layer(f"aspp_conv{i}").dilation_rate[0] for i in range(1, 5)]
    assert rates == [1, 2, 3, 4]
    logits = model(_images((3, 64, 64, 3)))
    assert tuple(logits.shape) == (3, 64, 64, 21) and logits.dtype == "float32"
    assert tuple(model(_images((1, 50, 70, 3))).shape) == (1, 50, 70, 21)


def test_logits_are_bilinear_half_pixel_resize_of_decoder_output(tiny_gin):
    model = build_segmenter()
    images = _images((2, 40, 24, 3))
    small = model.decoder(model.encoder(images))
    expected = keras.layers.Resizing(40, 24, interpolation="bilinear")(small)
    np.testing.assert_allclose(model(images), expected, rtol=1e-5, atol=1e-5)


def test_mixed_bfloat16_keeps_logits_float32():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        encoder = build_encoder("tiny")
        model = Segmenter(encoder, build_decoder(in_channels=64, rates=(1, 2, 3, 4)))
        assert model.features(_images((2, 32, 32, 3))).dtype == "bfloat16"
        logits = model(_images((2, 32, 32, 3)), training=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert logits.dtype == "float32" and tuple(logits.shape) == (2, 32, 32, 21)


def _moving_stats(model):
    return [v.numpy() for v in model.weights if "moving" in v.path]


def test_frozen_encoder_keeps_its_statistics_in_a_training_call():
    model = Segmenter(build_encoder("tiny"), build_decoder(in_channels=64, rates=(1, 2, 3, 4)))
    images = _images((4, 32, 32, 3))
    before = _moving_stats(model.encoder)
    model(images, training=True)
    moved = _moving_stats(model.encoder)
    assert any(not np.array_equal(a, b) for a, b in zip(before, moved, strict=True))
    model.encoder.trainable = False
    model(images, training=True)
    for a, b in zip(moved, _moving_stats(model.encoder), strict=True):
        np.testing.assert_array_equal(a, b)


def test_helper_decoder_shares_encoder_features(tiny_gin):
    model = build_segmenter()
    helper = build_decoder(num_classes=3, in_channels=64)
    features = model.features(_images((2, 48, 48, 3)))
    assert tuple(features.shape) == (2, 6, 6, 64)
    logits = model.logits_from_features(features, helper, (48, 48))
    assert tuple(logits.shape) == (2, 48, 48, 3) and logits.dtype == "float32"


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match=r"build_encoder.backbone.*'resnet101_v2', 'tiny'"):
        build_encoder("resnet50")
    with pytest.raises(ValueError, match=r"build_decoder.head.*'aspp_v2', 'aspp_v3'"):
        build_decoder("fcn", in_channels=8)
