"""GDumb's greedy class-balanced sampler (Prabhu et al., ECCV 2020), for RM's GDumb baseline.

Each stream item enters while the memory has room. Once it is full, an item of class c enters
only if c holds fewer than capacity / (classes seen so far, c included) items; it then evicts
a random item of the largest class in memory (ties: the lowest class id). Otherwise it is
dropped. The victim draw is keyed by (seed, stream position n), so batch boundaries do not
matter; the classes seen are the policy's checkpointed state.
RM's shipped GDumb used a class-balanced *random* selection at the task end instead.
"""

from __future__ import annotations

import gin
import numpy as np
import tensorflow as tf

from continual.replay.buffers.policies.base import BufferPolicy
from continual.replay.buffers.policies.class_balanced import position_uniforms
from continual.replay.buffers.storage import BufferStorage


def greedy_slots(labels, memory, seen, size, draws):
    """Numpy: (slot per item, -1 = not kept; classes seen after the batch). Pure.

    `memory`: labels of all slots (-1 empty); `seen`: 1 for each class seen so far;
    `draws[i]`: a uniform in [0, 1) choosing item i's victim within the largest class.
    """
    memory, seen, size = memory.copy(), seen.copy(), int(size)
    counts = np.bincount(memory[memory >= 0], minlength=seen.size)
    slots = np.full(labels.size, -1, np.int32)
    for i, (label, draw) in enumerate(zip(labels, draws, strict=True)):
        seen[label] = 1
        if size < memory.size:
            slot, size = size, size + 1
        elif counts[label] < memory.size / seen.sum():
            largest = int(np.argmax(counts))
            slot = np.flatnonzero(memory == largest)[int(draw * counts[largest])]
            counts[largest] -= 1
        else:
            continue
        counts[label] += 1
        memory[slot], slots[i] = label, slot
    return slots, seen


@gin.configurable(denylist=["num_classes"])
class GreedyClassBalancedPolicy(BufferPolicy):
    """GDumb's sampler; its state is which classes were seen (a checkpointed variable)."""

    def __init__(self, *, num_classes: int):
        super().__init__(num_classes=num_classes, name="greedy_class_balanced")
        with tf.device("/CPU:0"):
            self.class_seen = tf.Variable(tf.zeros([num_classes], tf.int64), trainable=False,
                                          name="class_seen")

    def stream_slots(self, storage: BufferStorage, labels, seed) -> tf.Tensor:
        positions = storage.seen + tf.range(tf.size(labels, out_type=tf.int64))
        draws = position_uniforms(seed, positions)[:, 0]
        slots, seen = tf.numpy_function(
            greedy_slots, [labels, storage.labels.read_value(), self.class_seen.read_value(),
                           storage.size.read_value(), draws],
            [tf.int32, tf.int64], stateful=False, name="greedy_slots")
        self.class_seen.assign(tf.ensure_shape(seen, [self.num_classes]))
        return tf.ensure_shape(slots, labels.shape)
