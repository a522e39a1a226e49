"""Task-boundary random selection: equal shares per class, re-divided at each experience's end.

Nothing happens online. At `end_experience` the classes seen so far (those in memory plus the
experience's) each get capacity // classes slots, the remainder one each to the lowest class
ids. Each class keeps a seeded random subset of its candidates (its items in memory, then the
experience's items of it, in stream order): old classes are trimmed, new ones sampled. A class
with fewer candidates than its share keeps them all and leaves its spare slots empty. One
uniform key per candidate, keyed by (seed, experience index); the experience index is a
checkpointed variable. Host-side numpy, vectorised: O((capacity + experience items) log).
"""

from __future__ import annotations

import gin
import numpy as np
import tensorflow as tf

from continual.replay.buffers.policies.base import (
    BufferPolicy,
    append_rows,
    experience_rows,
)
from continual.replay.buffers.storage import BufferStorage


def equal_shares(capacity: int, classes: np.ndarray) -> np.ndarray:
    """Slots per class (classes sorted by id): capacity // n, plus one for the lowest ids."""
    shares = np.full(classes.size, capacity // max(classes.size, 1), np.int64)
    shares[: capacity % max(classes.size, 1)] += 1
    return shares


@gin.configurable(denylist=["num_classes"])
class TaskBoundaryRandomPolicy(BufferPolicy):
    """Random class-balanced memory rebuilt at every experience boundary."""

    def __init__(self, *, num_classes: int):
        super().__init__(num_classes=num_classes, name="task_boundary_random")
        with tf.device("/CPU:0"):
            self.experiences = tf.Variable(tf.constant(0, tf.int64), trainable=False,
                                           name="experiences")

    def end_experience(self, storage: BufferStorage, ids, labels, seed: int, *,
                       step: int = 0, logits=None, features=None) -> None:
        ids, labels, logits, features = experience_rows(storage, ids, labels, logits, features,
                                                        "end_experience")
        size = int(storage.size.numpy())
        candidates = np.concatenate([storage.labels.numpy()[:size], labels])
        classes = np.unique(candidates)
        share = np.zeros(self.num_classes, np.int64)
        share[classes] = equal_shares(storage.capacity, classes)
        key = [seed, int(self.experiences.numpy())]
        keys = tf.random.stateless_uniform([candidates.size], key, dtype=tf.float64).numpy()
        order = np.lexsort((keys, candidates))           # by class, random within a class
        rank = np.empty(candidates.size, np.int64)
        rank[order] = np.arange(candidates.size) - np.searchsorted(candidates[order],
                                                                   candidates[order])
        chosen = np.flatnonzero(rank < share[candidates])
        storage.keep(chosen[chosen < size].astype(np.int32))
        append_rows(storage, chosen[chosen >= size] - size, ids, labels, step, logits, features)
        self.experiences.assign_add(1)
