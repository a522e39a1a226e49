"""Fixed per class: the first (or a seeded random) n items of each new class, never evicted.

Kaizen's replay memory (as Kaizen / CaSSLe build it): at the start of each experience,
each class not yet in memory adds `n_per_class` of its items (all of them if it has fewer) in
stream order, `mode='first'` the first ones as the original does, `mode='random'` a seeded random
choice keyed by (seed, class). Memory only grows; if the additions would not fit, nothing is
written and a ValueError names the bindings and the sizes.
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

MODES = ("first", "random")


def seeded_choice(rows: np.ndarray, count: int, seed: int, label: int) -> np.ndarray:
    """`count` of `rows` (all if fewer), a random choice keyed by (seed, label), in row order."""
    keys = tf.random.stateless_uniform([rows.size], seed=[seed, label], dtype=tf.float64)
    return np.sort(rows[np.argsort(keys.numpy(), kind="stable")[:count]])


@gin.configurable(denylist=["num_classes"])
class FixedPerClassPolicy(BufferPolicy):
    """n_per_class items of each class, chosen when the class first appears."""

    def __init__(self, n_per_class: int = 5, mode: str = "first", *, num_classes: int):
        super().__init__(num_classes=num_classes, name="fixed_per_class")
        if n_per_class < 1:
            raise ValueError(f"FixedPerClassPolicy.n_per_class = {n_per_class}; expected >= 1")
        if mode not in MODES:
            raise ValueError(f"FixedPerClassPolicy.mode = {mode!r} is unknown; use one of {MODES}")
        self.n_per_class, self.mode = int(n_per_class), mode

    def begin_experience(self, storage: BufferStorage, ids, labels, seed: int, *,
                         step: int = 0, logits=None, features=None) -> None:
        ids, labels, logits, features = experience_rows(storage, ids, labels, logits, features,
                                                        "begin_experience")
        present = storage.class_counts().numpy() > 0
        new_classes = [c for c in np.unique(labels) if not present[c]]
        rows = [self._chosen(np.flatnonzero(labels == c), seed, int(c)) for c in new_classes]
        rows = np.sort(np.concatenate([np.empty(0, np.int64), *rows]))
        self._check_room(storage, len(new_classes), rows.size)
        append_rows(storage, rows, ids, labels, step, logits, features)

    def _chosen(self, rows: np.ndarray, seed: int, label: int) -> np.ndarray:
        if self.mode == "first":
            return rows[: self.n_per_class]
        return seeded_choice(rows, self.n_per_class, seed, label)

    def _check_room(self, storage: BufferStorage, new_classes: int, added: int) -> None:
        size = int(storage.size.numpy())
        if size + added > storage.capacity:
            raise ValueError(
                f"FixedPerClassPolicy: {new_classes} new classes x FixedPerClassPolicy."
                f"n_per_class = {self.n_per_class} add {added} items to the {size} stored, more "
                f"than EpisodicBuffer.capacity = {storage.capacity}; raise "
                f"EpisodicBuffer.capacity to at least {size + added} or lower n_per_class")
