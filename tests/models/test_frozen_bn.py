"""Frozen BN: Keras' BN in float32; under bfloat16 its scale and offset in the compute dtype,
without casting the activation to float32 and back, equal up to bfloat16 rounding."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from continual.models.frozen_bn import FrozenBatchNormalization


def _layer(policy: str, affine_trainable: bool = False) -> FrozenBatchNormalization:
    layer = FrozenBatchNormalization(affine_trainable=affine_trainable, epsilon=1e-5,
                                     dtype=policy)
    layer.build((None, 5, 5, 4))
    rng = np.random.default_rng(0)
    layer.gamma.assign(rng.normal(size=4).astype("float32"))
    layer.beta.assign(rng.normal(size=4).astype("float32"))
    layer.moving_mean.assign(rng.normal(size=4).astype("float32"))
    layer.moving_variance.assign(rng.uniform(0.5, 2.0, size=4).astype("float32"))
    return layer


def _images():
    return np.random.default_rng(1).normal(size=(2, 5, 5, 4)).astype("float32")


def test_float32_is_keras_inference_batch_norm_bit_for_bit():
    layer = _layer("float32")
    keras_bn = keras.layers.BatchNormalization(epsilon=1e-5)
    keras_bn.build((None, 5, 5, 4))
    keras_bn.set_weights(layer.get_weights())
    np.testing.assert_array_equal(layer(_images(), training=True).numpy(),
                                  keras_bn(_images(), training=False).numpy())


def test_bfloat16_applies_scale_and_offset_in_bfloat16():
    reference = _layer("float32")(_images()).numpy()
    layer = _layer("mixed_bfloat16")
    inputs = tf.cast(_images(), tf.bfloat16)
    outputs = layer(inputs, training=True)
    assert outputs.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(outputs, tf.float32).numpy(), reference,
                               rtol=2 ** -6, atol=2 ** -6)
    graph = tf.function(lambda x: layer(x)).get_concrete_function(
        tf.TensorSpec([2, 5, 5, 4], tf.bfloat16)).graph
    full_casts = [op for op in graph.get_operations() if op.type == "Cast"
                  and op.outputs[0].shape.rank == 4]
    assert full_casts == []   # Keras' BN would cast the activation to float32 and back


@pytest.mark.parametrize("affine_trainable, trained", [(True, 2), (False, 0)])
def test_bfloat16_gradients_reach_the_affine_weights_only_when_trainable(affine_trainable,
                                                                          trained):
    layer = _layer("mixed_bfloat16", affine_trainable)
    inputs = tf.cast(_images(), tf.bfloat16)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.cast(layer(inputs), tf.float32))
    grads = tape.gradient(loss, layer.trainable_variables)
    assert len(grads) == trained and all(g is not None for g in grads)
    assert layer.moving_mean.trainable is False


def _encoder(policy: str):
    """A small DeepLab-v2 encoder (one unit per block) with random BN statistics and affine."""
    from continual.models.resnet import resnet101_v2

    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        encoder = resnet101_v2(units=(1, 1, 1, 1), base_depth=4)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    rng = np.random.default_rng(2)
    for layer in encoder.layers:
        if isinstance(layer, FrozenBatchNormalization):
            size = layer.gamma.shape
            layer.gamma.assign(rng.uniform(0.5, 1.5, size).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.3, size).astype("float32"))
            layer.moving_mean.assign(rng.normal(0, 0.3, size).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, size).astype("float32"))
    return encoder


def _unfold(encoder):
    for layer in encoder.layers:
        if isinstance(layer, FrozenBatchNormalization):
            layer._folded_into_conv = False


def _encoder_images():
    return tf.constant(np.random.default_rng(3).normal(size=(2, 33, 33, 3)), tf.float32)


def test_bfloat16_encoder_folds_bn_into_its_convolutions_within_bfloat16_rounding():
    reference = _encoder("float32")
    folded = _encoder("mixed_bfloat16")
    folded.set_weights(reference.get_weights())
    bns = [layer for layer in folded.layers if isinstance(layer, FrozenBatchNormalization)]
    assert len(bns) == 1 + 3 * 4 + 4 and all(bn.folded for bn in bns)
    assert not any(layer.folded for layer in reference.layers
                   if isinstance(layer, FrozenBatchNormalization))
    expected = reference(_encoder_images()).numpy()
    outputs = tf.cast(folded(_encoder_images()), tf.float32).numpy()
    # The graph has no BN arithmetic left: every scale and offset is inside a conv.
    graph = tf.function(lambda x: folded(x)).get_concrete_function(
        tf.TensorSpec([2, 33, 33, 3], tf.float32)).graph
    assert not [op for op in graph.get_operations() if "_bn/" in op.name
                and op.type in ("Mul", "AddV2", "FusedBatchNormV3")]
    _unfold(folded)
    unfolded = tf.cast(folded(_encoder_images()), tf.float32).numpy()
    scale = np.abs(expected).max()
    # bfloat16 keeps 8 bits: after 17 convolutions both bfloat16 paths stay within a few
    # percent of float32, and as close to it folded as unfolded.
    assert np.abs(outputs - expected).max() < 0.03 * scale
    assert np.abs(outputs - expected).mean() < 1.5 * np.abs(unfolded - expected).mean() + 1e-6


def test_float32_encoder_is_unchanged_by_the_fold_bit_for_bit():
    encoder = _encoder("float32")
    paired = encoder(_encoder_images()).numpy()
    for layer in encoder.layers:
        if hasattr(layer, "_folded_bn"):
            layer._folded_bn = None
    np.testing.assert_array_equal(paired, encoder(_encoder_images()).numpy())


def test_bfloat16_folded_gradients_agree_with_float32_as_unfolded_ones_do():
    def kernel_gradients(encoder):
        kernels = [v.value for v in encoder.trainable_variables if v.name == "kernel"]
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.cast(encoder(_encoder_images()), tf.float32) ** 2)
        return np.concatenate([g.numpy().ravel() for g in tape.gradient(loss, kernels)])

    reference = _encoder("float32")
    folded = _encoder("mixed_bfloat16")
    folded.set_weights(reference.get_weights())
    expected, got = kernel_gradients(reference), kernel_gradients(folded)
    _unfold(folded)
    unfolded = kernel_gradients(folded)
    scale = np.abs(expected).max()
    assert np.abs(got - expected).max() < 0.1 * scale
    assert np.abs(got - expected).mean() < 1.5 * np.abs(unfolded - expected).mean() + 1e-6
