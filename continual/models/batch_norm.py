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
    return keras.layers.BatchNormalization(synchronized=False, **kwargs)


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
