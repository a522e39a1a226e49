"""Batch normalisation that trains, with statistics synchronised across replicas.

A training BN layer normalises each batch with that batch's mean and variance. Under a
tf.distribute strategy with N replicas every replica holds 1/N of the global batch, so plain BN
computes its statistics over fewer images and the result depends on N. Keras'
`BatchNormalization(synchronized=True)` all-reduces the moments across the replicas, so every
replica normalises with the statistics of the whole global batch, as one device would.

With one replica the two are the same computation. That is why the switch resolves to plain BN
there, and why it never enters an artefact key: only the replica count could make it matter,
and a one-replica run gives the same numbers whatever the switch says. RECALL's ResNet-101
freezes its BN (continual/models/frozen_bn.py) and does not use this.
"""

from __future__ import annotations

import gin
import keras
import tensorflow as tf


@gin.configurable
def sync_batch_norm(enabled: bool | None = None) -> bool:
    """Whether BN layers built now synchronise their batch statistics across replicas.

    `enabled`: None (auto) means on when the strategy in scope has more than one replica; False
    keeps per-replica statistics (results then depend on the number of replicas). Resolved when
    a model is built, so build models inside `strategy.scope()`.
    """
    if enabled is not None and not isinstance(enabled, bool):
        raise TypeError(f"sync_batch_norm.enabled = {enabled!r}; use True, False or None "
                        "(None: on when training on more than one replica)")
    if tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return False  # one replica: synchronised BN is plain BN
    return True if enabled is None else enabled


def batch_normalization(**kwargs) -> keras.layers.BatchNormalization:
    """A Keras BN layer (arguments as Keras'), synchronised as `sync_batch_norm` decides."""
    if sync_batch_norm():
        return SynchronizedBatchNormalization(synchronized=True, **kwargs)
    return FusedBatchNormalization(synchronized=False, **kwargs)


class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras' BN whose training step on image features runs as one fused kernel.

    Keras computes a training BN as separate ops (mean, squared difference, mean, scale, shift)
    and differentiates each of them, about eighteen element-wise passes over the features
    forward and backward. TensorFlow's FusedBatchNormV3 (oneDNN on a CPU, cuDNN on a GPU) does
    the same arithmetic in one op and its gradient in another: on this project's CPU the
    ResNet-18 CIFAR step at batch 32 took 10 % less time (`bench/stream_step.py`, 633 -> 570
    ms; bench/README.md). The
    semantics stay Keras': features normalised with the batch's biased variance, computed in
    float32 under a mixed policy and cast to the compute dtype, and the moving averages
    updated with `momentum` from the batch mean and the biased batch variance (the fused op
    returns the unbiased one; it is scaled back). Results equal Keras' to float rounding.
    Anything else (inference, a frozen layer, a mask, renorm, features that are not 4-D
    channels-last) takes Keras' own path.
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable and mask is None and not self.renorm
                and len(inputs.shape) == 4 and self.axis in (-1, 3)):
            return super().call(inputs, training=training, mask=mask)
        scale = self.gamma if self.scale else tf.ones_like(self.moving_mean)
        offset = self.beta if self.center else tf.zeros_like(self.moving_mean)
        features, mean, unbiased, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=tf.cast(scale, tf.float32), offset=tf.cast(offset, tf.float32),
            mean=tf.constant([], tf.float32), variance=tf.constant([], tf.float32),
            epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC",
            is_training=True)
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:3]), tf.float32)
        variance = unbiased * (tf.maximum(count - 1.0, 1.0) / count)  # 1 row: the op's is 0
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum
                                    + variance * (1.0 - self.momentum))
        return tf.cast(features, self.compute_dtype)


class SynchronizedBatchNormalization(keras.layers.BatchNormalization):
    """Keras' synchronised BN with its moments computed in two passes over the replicas.

    Keras takes the variance as E[x^2] - E[x]^2 of the all-reduced sums, which loses digits
    when a channel's mean is large against its spread (small batches, a projector's outputs);
    here the replicas first agree on the mean, then sum the squared deviations from it, as one
    device's `tf.nn.moments` does, so several replicas give one device's statistics to float
    rounding.
    """

    def _moments(self, inputs, mask):
        context = tf.distribute.get_replica_context()
        if mask is not None or context is None or context.num_replicas_in_sync == 1:
            return super()._moments(inputs, mask)
        axes = list(self._reduction_axes)
        total = tf.cast(tf.reduce_prod(tf.gather(tf.shape(inputs), axes)), inputs.dtype)
        count = context.all_reduce(tf.distribute.ReduceOp.SUM, total)
        mean = tf.math.divide_no_nan(context.all_reduce(
            tf.distribute.ReduceOp.SUM, tf.reduce_sum(inputs, axis=axes, keepdims=True)), count)
        deviations = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(
            tf.square(inputs - mean), axis=axes, keepdims=True))
        variance = tf.math.divide_no_nan(deviations, count)
        return tf.squeeze(mean, axes), tf.squeeze(variance, axes)
