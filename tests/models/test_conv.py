"""Our Conv2D: Keras' forward, and under mixed_bfloat16 on a CPU gradients computed in float32
that agree with Keras' own bfloat16 gradients (and with float32 ones) to bfloat16 precision."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from continual.models.conv import Conv2D


def _gradients(layer_class, policy: str):
    keras.mixed_precision.set_global_policy(policy)
    try:
        layer = layer_class(4, 3, dilation_rate=2, padding="same", name="conv")
        images = tf.constant(np.random.default_rng(0).normal(size=(2, 9, 9, 3)), tf.float32)
        layer.build(images.shape)
        layer.kernel.assign(np.random.default_rng(1).normal(size=(3, 3, 3, 4)) * 0.3)
        with tf.GradientTape() as tape:
            tape.watch(images)
            outputs = layer(images)
            loss = tf.reduce_sum(tf.cast(outputs, tf.float32) ** 2)
        grad_images, grad_kernel = tape.gradient(loss, [images, layer.kernel.value])
        return outputs.dtype, outputs.numpy(), grad_images.numpy(), grad_kernel.numpy()
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_forward_is_keras_and_gradients_agree_to_bfloat16_precision(policy):
    ours = _gradients(Conv2D, policy)
    keras_own = _gradients(keras.layers.Conv2D, policy)
    reference = _gradients(keras.layers.Conv2D, "float32")
    assert ours[0] == keras_own[0]  # bfloat16 outputs under the mixed policy
    np.testing.assert_array_equal(ours[1], keras_own[1])
    rtol = 1e-6 if policy == "float32" else 2e-2  # bfloat16: 8-bit mantissa
    for mine, theirs, exact in zip(ours[2:], keras_own[2:], reference[2:], strict=True):
        scale = np.abs(exact).max()
        np.testing.assert_allclose(mine, theirs, atol=rtol * scale)
        np.testing.assert_allclose(mine, exact, atol=rtol * scale)
