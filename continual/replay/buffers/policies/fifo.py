"""FIFO: a ring over the slots; when full, each new item replaces the oldest insertion.

Every offered item enters, so item n of the stream (n = storage.seen before it) goes to slot
n mod capacity: the ring position needs no state of its own. Used by continuous SSL's FIFO
buffer (as the continuous-SSL original's FIFO: a deque of the capacity).
"""

from __future__ import annotations

import gin
import tensorflow as tf

from continual.replay.buffers.policies.base import BufferPolicy
from continual.replay.buffers.storage import BufferStorage


@gin.configurable(denylist=["num_classes"])
class FifoPolicy(BufferPolicy):
    """Keep the `capacity` most recent stream items."""

    def __init__(self, *, num_classes: int):
        super().__init__(num_classes=num_classes, name="fifo")

    def stream_slots(self, storage: BufferStorage, labels, seed) -> tf.Tensor:
        offered = storage.seen + tf.range(tf.size(labels, out_type=tf.int64))
        return tf.cast(offered % storage.capacity, tf.int32)
