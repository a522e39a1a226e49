"""Reservoir sampling (Vitter's algorithm R) over the stream.

Item n of the stream (0-based; n = storage.seen before it) fills the next free slot while the
memory is not full; afterwards it draws j uniformly from [0, n] and replaces slot j if
j < capacity, so it is kept with probability capacity / (n + 1) and every item seen so far is
in memory with the same probability. j comes from `tf.random.stateless_uniform` keyed by
(seed, n), so the memory does not depend on how the stream is cut into batches.
"""

from __future__ import annotations

import gin
import tensorflow as tf

from continual.replay.buffers.policies.base import BufferPolicy
from continual.replay.buffers.storage import BufferStorage


def position_draws(seed, positions) -> tf.Tensor:
    """int64 [batch]: for each stream position n, j ~ U{0, ..., n} keyed by (seed, n)."""

    def draw(n):
        return tf.random.stateless_uniform([], seed=tf.stack([seed, n]), minval=0,
                                           maxval=n + 1, dtype=tf.int64)

    return tf.map_fn(draw, positions, fn_output_signature=tf.int64)


@gin.configurable(denylist=["num_classes"])
class ReservoirPolicy(BufferPolicy):
    """Every item seen so far is in memory with probability capacity / seen."""

    def __init__(self, *, num_classes: int):
        super().__init__(num_classes=num_classes, name="reservoir")

    def stream_slots(self, storage: BufferStorage, labels, seed) -> tf.Tensor:
        order = tf.range(tf.size(labels))
        offered = storage.seen + tf.cast(order, tf.int64)
        draws = position_draws(seed, offered)
        replaced = tf.where(draws < storage.capacity, tf.cast(draws, tf.int32), -1)
        free = storage.capacity - storage.size
        return tf.where(order < free, storage.size + order, replaced)
