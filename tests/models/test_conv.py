"""Our Conv2D: Keras' forward, and under mixed_bfloat16 on a CPU gradients computed in float32
that agree with Keras' own bfloat16 gradients (and with float32 ones) to bfloat16 precision; a
dilated conv runs as one native op where oneDNN or cuDNN has its gradient."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from continual.models.conv import Conv2D

ROOT = Path(__file__).resolve().parents[2]


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


def _dilated_graph_ops(layer) -> list[str]:
    images = tf.TensorSpec([2, 9, 9, 3], tf.float32)

    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) ** 2)
        return tape.gradient(loss, [x, layer.kernel.value])

    graph = tf.function(step).get_concrete_function(images).graph
    return [op.type for op in graph.get_operations()]


def test_a_dilated_conv_is_one_native_op_forward_and_backward_under_onednn():
    """With oneDNN (this machine's default) the dilation is the op's own attribute: no
    SpaceToBatch reshuffles, which Keras' layer puts around every dilated conv."""
    ops = _dilated_graph_ops(Conv2D(4, 3, dilation_rate=2, padding="same"))
    keras_ops = _dilated_graph_ops(keras.layers.Conv2D(4, 3, dilation_rate=2, padding="same"))
    assert "SpaceToBatchND" in keras_ops and "BatchToSpaceND" in keras_ops
    assert "SpaceToBatchND" not in ops and "BatchToSpaceND" not in ops
    assert {"Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"} <= set(ops)


def test_without_onednn_a_dilated_conv_takes_keras_path_and_still_trains():
    """TensorFlow's own CPU kernels have no dilated gradient: with oneDNN off the layer must
    keep Keras' SpaceToBatch path (a native op would fail in its backward pass)."""
    script = (
        "import numpy as np, tensorflow as tf\n"
        "from continual.models.conv import Conv2D\n"
        "layer = Conv2D(4, 3, dilation_rate=2, padding='same')\n"
        "x = tf.constant(np.ones((2, 9, 9, 3)), tf.float32)\n"
        "step = tf.function(lambda x: tf.gradients(tf.reduce_sum(layer(x) ** 2), x)[0])\n"
        "graph = step.get_concrete_function(x).graph\n"
        "print(sorted({op.type for op in graph.get_operations()} & {'SpaceToBatchND'}))\n"
        "print(float(tf.reduce_sum(step(x))) != 0.0)\n")
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2",
           "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["['SpaceToBatchND']", "True"]
