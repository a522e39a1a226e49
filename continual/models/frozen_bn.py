"""Batch normalisation with frozen statistics, as the DeepLab-v2 encoder of RECALL uses it.

The original calls BN with `is_training=False`: moving mean and variance never change. Gamma and
beta are frozen too unless `affine_trainable=True` (the gin ablation `bn_affine_trainable`).
Under a float16 / bfloat16 compute policy the layer applies its per-channel scale and offset
(computed in float32 from the statistics, then rounded) in the compute dtype: Keras' BN would
cast the whole activation to float32 and back around two float32 ops, a tenth of a bfloat16
DeepLab forward. In float32 it is Keras' BN unchanged.

`fold_into_conv(conv, bn)` pairs a bias-free `continual.models.conv.Conv2D` with the frozen BN
that directly follows it (the DeepLab encoder's conv_bn): under a float16 / bfloat16 compute
policy the conv then convolves with the kernel scaled per output channel and adds the offset
(BN folded into the convolution, as an inference graph does), and the BN passes its input
through, so the activation is read and written once instead of three times. Equal up to
rounding in the compute dtype (test); in float32 nothing is folded: bit for bit Keras' conv
and BN. A model rebuilt from its config (the pairing is not serialised) runs unfolded, with
the same results up to that rounding.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="recall")
class FrozenBatchNormalization(keras.layers.BatchNormalization):
    """BatchNormalization that always normalises with its moving statistics.

    `affine_trainable` decides whether gamma and beta are trainable weights. It survives
    `model.trainable = True` (which Keras would otherwise propagate to every variable), so an
    encoder that is unfrozen for step 0 still trains only what was declared trainable.
    """

    def __init__(self, affine_trainable: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.affine_trainable = bool(affine_trainable)
        self._sync_affine()

    def build(self, input_shape):
        super().build(input_shape)
        self._sync_affine()

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        keras.layers.Layer.trainable.fset(self, value)
        self._sync_affine()

    def _sync_affine(self) -> None:
        affine = bool(getattr(self, "affine_trainable", False)) and self._trainable
        for variable in (getattr(self, "gamma", None), getattr(self, "beta", None)):
            if variable is not None:
                variable.trainable = affine

    @property
    def folded(self) -> bool:
        """True when the conv before this layer applies it (see `fold_into_conv`)."""
        return getattr(self, "_folded_into_conv", False) and self.compute_dtype != "float32"

    def call(self, inputs, training=None, mask=None):
        del training  # statistics are frozen: always inference-mode normalisation
        if self.folded and mask is None:
            return tf.cast(inputs, self.compute_dtype)  # the conv before applied scale, offset
        rank = len(inputs.shape)
        if (self.compute_dtype == "float32" or mask is not None
                or self.axis % rank != rank - 1):
            return super().call(inputs, training=False, mask=mask)
        scale, offset = self.scale_and_offset()
        dtype = self.compute_dtype
        return tf.cast(inputs, dtype) * tf.cast(scale, dtype) + tf.cast(offset, dtype)

    def scale_and_offset(self) -> tuple[tf.Tensor, tf.Tensor]:
        """float32 per-channel (scale, offset) with BN(x) = x * scale + offset."""
        scale = tf.math.rsqrt(tf.cast(self.moving_variance, tf.float32) + self.epsilon)
        if self.scale:
            scale *= tf.cast(self.gamma, tf.float32)
        offset = -tf.cast(self.moving_mean, tf.float32) * scale
        if self.center:
            offset += tf.cast(self.beta, tf.float32)
        return scale, offset

    def get_config(self) -> dict:
        return {**super().get_config(), "affine_trainable": self.affine_trainable}


def fold_into_conv(conv: keras.layers.Conv2D, bn: FrozenBatchNormalization) -> None:
    """Let `conv` (a `continual.models.conv.Conv2D`, bias-free, channels last) apply `bn`,
    the frozen BN called on its output and on nothing else, under a non-float32 policy."""
    if conv.use_bias or conv.data_format != "channels_last" or bn.axis not in (-1, 3):
        raise ValueError(f"fold_into_conv({conv.name}, {bn.name}): needs a bias-free "
                         "channels-last conv and BN over the last axis")
    conv.fold_batch_norm(bn)
    bn._folded_into_conv = True
