"""MoCo v2+'s queue of negatives (solo-learn / Kaizen `MoCoV2Plus`), one queue per view.

The queue holds the momentum branch's L2-normalised keys of past steps: `keys[v]` is a
[queue_size, d] float32 variable (rows, not solo-learn's columns) for view v, `pointer` the
slot the next batch is written at. It starts as seeded Gaussian rows, L2-normalised, as the
original's `randn` queue. Writes wrap around, so a queue size that is not a multiple of the
batch (Kaizen's 256 + 32 replay rows) is fine; a batch larger than the queue is refused. The
variables are part of the method's checkpoint, so a resumed run continues with the same queue,
and the queue carries over from task to task (as the original's, loaded with
`strict=False`).
"""

from __future__ import annotations

import tensorflow as tf

QUEUE_BINDING = "Kaizen.queue_size"


def check_queue_size(queue_size: int, batch_rows: int, batch_binding: str) -> None:
    """A batch must fit in the queue: the wrap-around writes each key once per step."""
    if queue_size < batch_rows:
        raise ValueError(f"{QUEUE_BINDING} = {queue_size} is smaller than a batch of "
                         f"{batch_rows} rows ({batch_binding}); MoCo v2+ enqueues every key of a "
                         f"step, so raise {QUEUE_BINDING} to at least {batch_rows}")


class NegativeQueue(tf.Module):
    """Two FIFO queues of keys (one per view) with a shared write pointer."""

    def __init__(self, queue_size: int, dim: int, seed: int, name: str = "moco_queue"):
        super().__init__(name=name)
        self.queue_size = int(queue_size)
        start = tf.random.stateless_normal((2, self.queue_size, dim), seed=[int(seed), 7919])
        self.keys = tf.Variable(tf.math.l2_normalize(start, axis=2), trainable=False,
                                name="keys")
        self.pointer = tf.Variable(0, dtype=tf.int64, trainable=False, name="pointer")

    def enqueue(self, key1: tf.Tensor, key2: tf.Tensor) -> None:
        """Write the batch's keys of view 1 and 2 at the pointer (wrapping), oldest out."""
        keys = tf.math.l2_normalize(tf.cast(tf.stack([key1, key2]), tf.float32), axis=2)
        rows = tf.shape(keys, out_type=tf.int64)[1]
        slots = (self.pointer + tf.range(rows, dtype=tf.int64)) % self.queue_size
        views = tf.repeat(tf.constant([0, 1], tf.int64), rows)
        indices = tf.stack([views, tf.tile(slots, [2])], axis=1)
        # A whole-variable assign: a mirrored variable (several replicas) has no scatter update.
        self.keys.assign(tf.tensor_scatter_nd_update(self.keys, indices,
                                                     tf.reshape(keys, [2 * rows, -1])))
        self.pointer.assign((self.pointer + rows) % self.queue_size)
