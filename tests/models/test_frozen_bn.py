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
