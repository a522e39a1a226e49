"""Decoders: RECALL's summed DeepLab-v2 ASPP, DeepLab-v3 ASPP, and the kernel L2 term."""

import numpy as np
import tensorflow as tf

from continual.models.segmenter import build_decoder, build_encoder, kernel_l2

RATES = (1, 2, 3, 4)


def test_aspp_v2_is_the_sum_of_four_biased_atrous_convs():
    decoder = build_decoder("aspp_v2", num_classes=5, in_channels=8, rates=RATES)
    features = np.random.default_rng(0).normal(size=(2, 9, 7, 8)).astype(np.float32)
    expected = 0.0
    for i, rate in enumerate(RATES, start=1):
        conv = decoder.get_layer(f"aspp_conv{i}")
        assert tuple(conv.kernel.shape) == (3, 3, 8, 5) and tuple(conv.bias.shape) == (5,)
        expected += tf.nn.conv2d(features, conv.kernel, 1, "SAME", dilations=rate) + conv.bias
    np.testing.assert_allclose(decoder(features), expected, rtol=1e-5, atol=1e-5)
    assert not [layer for layer in decoder.layers if "batch_norm" in type(layer).__name__.lower()]


def test_aspp_v2_branch_with_others_zeroed_is_that_conv_alone():
    decoder = build_decoder("aspp_v2", num_classes=3, in_channels=4, rates=RATES)
    for i in (1, 2, 4):
        for v in decoder.get_layer(f"aspp_conv{i}").weights:
            v.assign(np.zeros(v.shape, np.float32))
    features = np.random.default_rng(1).normal(size=(1, 11, 11, 4)).astype(np.float32)
    alone = decoder.get_layer("aspp_conv3")(features)
    np.testing.assert_allclose(decoder(features), alone, rtol=1e-6)


def test_aspp_v2_default_rates_are_the_papers():
    decoder = build_decoder("aspp_v2", in_channels=16)
    rates = [decoder.get_layer(f"aspp_conv{i}").dilation_rate for i in range(1, 5)]
    assert rates == [(6, 6), (12, 12), (18, 18), (24, 24)]
    assert decoder.output_shape[-1] == 21


def test_aspp_v3_keeps_feature_resolution_on_any_size():
    decoder = build_decoder("aspp_v3", num_classes=6, in_channels=16, rates=(1, 2, 3), filters=8)
    for size in ((5, 7), (8, 8)):
        features = np.random.default_rng(2).normal(size=(2, *size, 16)).astype(np.float32)
        assert tuple(decoder(features, training=True).shape) == (2, *size, 6)
    pooled = decoder.get_layer("aspp_pool")(features)
    np.testing.assert_allclose(pooled, np.broadcast_to(pooled[:, :1, :1], pooled.shape))
    assert decoder.get_layer("aspp_concat").output.shape[-1] == 5 * 8


def _manual_l2(variables):
    return sum(float(np.sum(np.square(v.numpy()))) / 2 for v in variables)


def test_kernel_l2_sums_conv_kernels_only():
    decoder = build_decoder("aspp_v3", num_classes=4, in_channels=8, rates=(1, 2), filters=8)
    kernels = [v for v in decoder.weights if v.path.endswith("/kernel")]
    assert len(kernels) == 6  # 1x1, two atrous, pooling, projection, classifier
    np.testing.assert_allclose(float(kernel_l2(decoder)), _manual_l2(kernels), rtol=1e-5)
    assert float(kernel_l2(decoder)) < _manual_l2(decoder.trainable_weights)  # + gamma, biases


def test_kernel_l2_of_a_frozen_model_is_zero():
    encoder = build_encoder("tiny")
    kernels = [encoder.get_layer(f"tiny_conv{i}").kernel for i in range(1, 6)]
    np.testing.assert_allclose(float(kernel_l2(encoder)), _manual_l2(kernels), rtol=1e-5)
    encoder.trainable = False
    assert float(kernel_l2(encoder)) == 0.0
