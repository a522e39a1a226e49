"""Preallocated storage of an episodic buffer: one row per slot, in non-trainable CPU variables.

Memory is fixed at construction (nothing grows with tasks), and the storage is a `tf.Module`,
so `tf.train.Checkpoint(buffer=storage)` saves and restores it with the model. An id is the row
index of the record in the experiment's record set: replay rows are gathered from the records by
id, never copied here. Invariant: the occupied slots are exactly [0, size). Policies append at
`size` (`write`) or compact (`keep`), so a sampler needs only `size`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

EMPTY = -1
RESERVED = ("slots", "ids", "labels", "inserted_at", "logits", "features")


def _variable(initial, name: str) -> tf.Variable:
    return tf.Variable(initial, trainable=False, name=name)


def _check_arguments(capacity: int, num_classes: int, stats: Sequence[str]) -> None:
    if capacity < 1:
        raise ValueError(f"EpisodicBuffer.capacity = {capacity}; expected >= 1")
    if num_classes < 1:
        raise ValueError(f"EpisodicBuffer num_classes = {num_classes}; expected >= 1")
    bad = sorted(set(stats) & set(RESERVED)) or sorted({s for s in stats if stats.count(s) > 1})
    if bad:
        raise ValueError(f"EpisodicBuffer.stats = {tuple(stats)} repeats or reuses a reserved "
                         f"name {bad}; reserved: {RESERVED}; rename the stat")


class BufferStorage(tf.Module):
    """Rows (id, label, insertion step[, logits][, features][, stats]) in `capacity` slots.

    Empty slots hold id -1 and label -1. `seen` counts the stream items offered so far (the n of
    reservoir sampling). Each name in `stats` gets a float32 [capacity] variable (e.g. 'loss',
    'times_seen') that restarts at 0 when its slot is written.
    """

    def __init__(self, capacity: int, *, num_classes: int, logits_dim: int | None = None,
                 feature_dim: int | None = None, stats: Sequence[str] = (),
                 name: str = "buffer"):
        super().__init__(name=name)
        _check_arguments(capacity, num_classes, list(stats))
        self.capacity, self.num_classes = int(capacity), int(num_classes)
        with tf.device("/CPU:0"):
            self.ids = _variable(tf.fill([capacity], tf.constant(EMPTY, tf.int64)), "ids")
            self.labels = _variable(tf.fill([capacity], EMPTY), "labels")
            self.inserted_at = _variable(tf.fill([capacity], tf.constant(EMPTY, tf.int64)),
                                         "inserted_at")
            self.size = _variable(tf.constant(0, tf.int32), "size")
            self.seen = _variable(tf.constant(0, tf.int64), "seen")
            self.logits = self._rows(logits_dim, "logits")
            self.features = self._rows(feature_dim, "features")
            self.stats = {stat: _variable(tf.zeros([capacity]), stat) for stat in sorted(stats)}

    def _rows(self, dim: int | None, name: str) -> tf.Variable | None:
        return None if dim is None else _variable(tf.zeros([self.capacity, dim]), name)

    def check_optional(self, hook: str, logits=None, features=None) -> None:
        """Logits / features must be given exactly when this storage keeps them."""
        for field, given in (("logits", logits), ("features", features)):
            kept = getattr(self, field) is not None
            if kept != (given is not None):
                fix = (f"pass {field}= to {hook}" if kept else
                       f"set EpisodicBuffer.{'logits_dim' if field == 'logits' else 'feature_dim'}")
                state = "keeps" if kept else "does not keep"
                raise ValueError(f"{hook}: the buffer {state} {field} but {field} was "
                                 f"{'not ' if kept else ''}given; {fix}")

    def write(self, slots, ids, labels, step, logits=None, features=None) -> None:
        """Scatter rows into distinct `slots` (in graph or eagerly); size = max(size, slot + 1).

        Append at `size` onwards (the occupied prefix must stay contiguous). Stats of the written
        rows restart at 0; `step` (the global step) becomes their insertion step.
        """
        self.check_optional("write", logits, features)
        index = tf.reshape(tf.cast(slots, tf.int32), [-1, 1])
        count = tf.shape(index)[:1]
        self.ids.scatter_nd_update(index, tf.cast(ids, tf.int64))
        self.labels.scatter_nd_update(index, tf.cast(labels, tf.int32))
        self.inserted_at.scatter_nd_update(index, tf.fill(count, tf.cast(step, tf.int64)))
        for variable, rows in ((self.logits, logits), (self.features, features)):
            if variable is not None:
                variable.scatter_nd_update(index, tf.cast(rows, tf.float32))
        for stat in self.stats.values():
            stat.scatter_nd_update(index, tf.zeros(count))
        self.size.assign(tf.maximum(self.size, tf.reduce_max(index) + 1))

    def keep(self, slots) -> None:
        """Keep only the rows at `slots`, moved in that order to [0, len(slots)); O(capacity)."""
        slots = tf.cast(tf.reshape(slots, [-1]), tf.int32)
        for variable, empty in self._columns():
            rows = tf.gather(variable, slots)
            shape = tf.concat([[self.capacity - tf.size(slots)], tf.shape(rows)[1:]], 0)
            variable.assign(tf.concat([rows, tf.fill(shape, empty)], 0))
        self.size.assign(tf.size(slots))

    def _columns(self) -> list[tuple[tf.Variable, object]]:
        columns = [(self.ids, tf.constant(EMPTY, tf.int64)), (self.labels, EMPTY),
                   (self.inserted_at, tf.constant(EMPTY, tf.int64))]
        optional = [self.logits, self.features, *self.stats.values()]
        return columns + [(variable, 0.0) for variable in optional if variable is not None]

    def gather(self, slots) -> dict[str, tf.Tensor]:
        """The rows at `slots`: ids, labels, inserted_at, and logits / features / stats if kept."""
        rows = {"ids": self.ids, "labels": self.labels, "inserted_at": self.inserted_at}
        rows.update({k: v for k, v in (("logits", self.logits), ("features", self.features))
                     if v is not None})
        rows.update(self.stats)
        return {name: tf.gather(variable, slots) for name, variable in rows.items()}

    def set_stat(self, name: str, slots, values) -> None:
        """Overwrite stat `name` at `slots` (e.g. a loss measured after a step)."""
        if name not in self.stats:
            raise ValueError(f"stat {name!r} is not kept; add it to EpisodicBuffer.stats "
                             f"(kept: {sorted(self.stats)})")
        index = tf.reshape(tf.cast(slots, tf.int32), [-1, 1])
        self.stats[name].scatter_nd_update(index, tf.cast(values, tf.float32))

    def occupied_slots(self) -> tf.Tensor:
        """int32 [size]: the occupied slots, which are always 0 .. size - 1."""
        return tf.range(self.size)

    def class_counts(self) -> tf.Tensor:
        """int32 [num_classes]: items of each class in memory."""
        return tf.math.bincount(self.labels[: self.size], minlength=self.num_classes,
                                maxlength=self.num_classes, dtype=tf.int32)

    def nbytes(self) -> int:
        """Bytes held by the storage's variables (fixed at construction)."""
        return int(sum(np.prod(v.shape) * v.dtype.size for v in self.variables))
