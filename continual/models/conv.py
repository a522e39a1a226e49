"""`Conv2D`: Keras' Conv2D with a native dilated convolution, and whose gradients run in float32
when it computes in bfloat16 on a CPU.

Dilated (atrous) convolutions: `tf.nn.convolution`, which Keras calls, runs a dilated conv as
SpaceToBatch -> dense conv -> BatchToSpace, because TensorFlow's own CPU kernels have no
dilated gradient. oneDNN's (on by default on x86 CPUs) and cuDNN's kernels have one, so where
they run, this layer calls the Conv2D op with its `dilations` attribute: no reshuffles of the
features, and the bias and ReLU fuse into the conv. DeepLab-v2's ResNet-101 has 30 dilated
convs (block3, block4 and the ASPP); its decoder-only bfloat16 step spent 44 % of its op time
in them and 2.3 % in the reshuffles. Same arithmetic, a different summation order: outputs
equal the SpaceToBatch path's to float rounding. With no GPU, Keras' path runs without oneDNN
(TF_ENABLE_ONEDNN_OPTS=0) and for float16 (TensorFlow's own kernel); so it does for a stride
above 1.

bfloat16 gradients:

TensorFlow's CPU kernels for bfloat16 `Conv2DBackpropFilter` / `Conv2DBackpropInput` are 4-25x
slower than the float32 ones (measured on an AVX-512/AMX CPU: a 3x3 256->256 conv on 41x41,
batch 2: 1.4 s vs 0.08 s each), while the bfloat16 forward is as fast as float32. Under
`mixed_bfloat16` that made RECALL's decoder-only step slower than float32 and the full step
~9x slower. This layer keeps the forward in bfloat16 and computes both gradients from the same
bfloat16 activations and upstream gradient, cast to float32 (then rounded back to bfloat16, the
dtype the rest of the backward pass carries). On a GPU, where bfloat16 convolutions are fast,
and under any other policy it is Keras' Conv2D unchanged. Weights and names are Keras' own.
"""

from __future__ import annotations

import weakref

import keras
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port as _util_port  # oneDNN on or off


@keras.saving.register_keras_serializable(package="recall")
class Conv2D(keras.layers.Conv2D):
    """keras.layers.Conv2D with float32 gradients for bfloat16 compute on a CPU-only host;
    it can apply the frozen BN that follows it (`frozen_bn.fold_into_conv`)."""

    _folded_bn = None  # weakref to a FrozenBatchNormalization: not a tracked sublayer

    def fold_batch_norm(self, bn) -> None:
        self._folded_bn = weakref.ref(bn)

    def call(self, inputs):
        bn = self._folded_bn() if self._folded_bn is not None else None
        if bn is None or not bn.folded:
            return super().call(inputs)
        scale, offset = bn.scale_and_offset()  # float32, per output channel
        dtype = self.compute_dtype
        kernel = tf.cast(tf.cast(self.kernel, tf.float32) * scale, dtype)
        outputs = tf.nn.bias_add(self.convolution_op(inputs, kernel), tf.cast(offset, dtype))
        return self.activation(outputs) if self.activation is not None else outputs

    def convolution_op(self, inputs, kernel):
        if not _float32_gradients(self.compute_dtype):
            return self._convolve(inputs, kernel)
        # Tensors, not the variable, enter the custom gradient (else it wants `variables`);
        # the cast's own gradient brings the kernel gradient back to float32.
        kernel = tf.cast(keras.ops.convert_to_tensor(kernel), self.compute_dtype)
        return _with_float32_gradients(self._convolve, tf.cast(inputs, self.compute_dtype),
                                       kernel)

    def _convolve(self, inputs, kernel):
        """The convolution itself: a dilated one as one native op where the kernels have it."""
        if (max(self.dilation_rate) == 1 or max(self.strides) > 1
                or self.data_format != "channels_last" or not _native_dilations(inputs.dtype)):
            return super().convolution_op(inputs, kernel)
        return tf.nn.conv2d(inputs, kernel, strides=1, padding=self.padding.upper(),
                            dilations=list(self.dilation_rate))


def _native_dilations(dtype: tf.DType) -> bool:
    """Whether the Conv2D op's kernels here have dilated gradients: cuDNN's, or oneDNN's
    (float32 and bfloat16; a float16 conv on a CPU runs TensorFlow's own kernel)."""
    if tf.config.list_logical_devices("GPU"):
        return True
    return dtype in (tf.float32, tf.bfloat16) and _util_port.IsMklEnabled()


def _float32_gradients(compute_dtype: str) -> bool:
    """bfloat16 compute with no GPU visible: TensorFlow's slow bfloat16 CPU backprop kernels."""
    return compute_dtype == "bfloat16" and not tf.config.list_logical_devices("GPU")


def _with_float32_gradients(conv, inputs, kernel):
    """conv(inputs, kernel) as is; its gradients from float32 copies of the same values."""

    @tf.custom_gradient
    def convolve(x, k):
        def gradient(upstream):
            x32, k32 = tf.cast(x, tf.float32), tf.cast(k, tf.float32)
            with tf.GradientTape() as tape:
                tape.watch([x32, k32])
                y32 = conv(x32, k32)  # only its gradient graph is kept: y32 itself is unused
            dx, dk = tape.gradient(y32, [x32, k32],
                                   output_gradients=tf.cast(upstream, tf.float32))
            return tf.cast(dx, x.dtype), tf.cast(dk, k.dtype)

        return conv(x, k), gradient

    return convolve(inputs, kernel)
