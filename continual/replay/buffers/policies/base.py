"""What every buffer policy shares: the three hooks, input checks, and writing stream decisions.

A policy decides which incoming items enter which slots. The loop calls `begin_experience` with
all of an experience's ids and labels, `observe` after each training step with the stream batch
(online policies act here), and `end_experience` at the end (boundary policies act here). A
policy's own state lives in its tf.Variables, so checkpointing the buffer checkpoints it too.
Seeds are integers; a policy keys every draw by (seed, a position it knows), e.g. the stream
position n, so results do not depend on batch boundaries.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from continual.replay.buffers.storage import BufferStorage


def check_labels(labels, num_classes: int, hook: str) -> None:
    """Eagerly given labels must be class ids in [0, num_classes) (in graph: not checked)."""
    if not tf.executing_eagerly():
        return
    values = np.asarray(labels)
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(f"{hook}: labels must be class ids in [0, {num_classes}) "
                         f"(EpisodicBuffer num_classes); got {values.min()} .. {values.max()}")


def write_decisions(storage: BufferStorage, slots, ids, labels, step, logits, features) -> None:
    """Write item i to slots[i] (-1: not kept); of items sharing a slot, the last one wins.

    Also counts the batch into `storage.seen`. O(batch + capacity).
    """
    position = tf.range(tf.size(slots))
    kept = slots >= 0
    segment = tf.where(kept, slots, storage.capacity)
    last = tf.math.unsorted_segment_max(position, segment, storage.capacity + 1)
    rows = tf.where(kept & (tf.gather(last, segment) == position))[:, 0]

    def pick(values):
        return None if values is None else tf.gather(values, rows)

    storage.write(pick(slots), pick(ids), pick(labels), step, pick(logits), pick(features))
    storage.seen.assign_add(tf.size(slots, out_type=tf.int64))


class BufferPolicy(tf.Module):
    """Base: hooks that do nothing but count the stream; subclasses override what they use."""

    def __init__(self, *, num_classes: int, name: str | None = None):
        super().__init__(name=name)
        self.num_classes = int(num_classes)

    def observe(self, storage: BufferStorage, ids, labels, step, seed, logits=None,
                features=None) -> None:
        """After a training step: offer the stream batch (ids, labels[, logits, features])."""
        storage.check_optional("observe", logits, features)
        check_labels(labels, storage.num_classes, "observe")
        self._observe_graph(storage, tf.cast(ids, tf.int64), tf.cast(labels, tf.int32),
                            tf.cast(step, tf.int64), tf.cast(seed, tf.int64),
                            None if logits is None else tf.cast(logits, tf.float32),
                            None if features is None else tf.cast(features, tf.float32))

    @tf.function(reduce_retracing=True)
    def _observe_graph(self, storage, ids, labels, step, seed, logits, features):
        slots = self.stream_slots(storage, labels, seed)
        write_decisions(storage, slots, ids, labels, step, logits, features)

    def stream_slots(self, storage: BufferStorage, labels, seed) -> tf.Tensor:
        """int32 [batch]: the slot each stream item goes to, -1 for none (in graph)."""
        return tf.fill(tf.shape(labels), -1)

    def begin_experience(self, storage: BufferStorage, ids, labels, seed: int, *,
                         step: int = 0, logits=None, features=None) -> None:
        """Before an experience's first step, with all its ids and labels in stream order."""

    def end_experience(self, storage: BufferStorage, ids, labels, seed: int, *,
                       step: int = 0, logits=None, features=None) -> None:
        """After an experience's last step, with all its ids and labels in stream order."""


def experience_rows(storage: BufferStorage, ids, labels, logits, features, hook: str):
    """The boundary hooks' inputs as numpy arrays, checked."""
    storage.check_optional(hook, logits, features)
    check_labels(labels, storage.num_classes, hook)
    ids, labels = np.asarray(ids, np.int64).reshape(-1), np.asarray(labels, np.int32).reshape(-1)
    if ids.shape != labels.shape:
        raise ValueError(f"{hook}: {ids.size} ids but {labels.size} labels; pass one label per id")
    return ids, labels, logits, features


def append_rows(storage: BufferStorage, rows: np.ndarray, ids, labels, step, logits,
                features) -> None:
    """Write experience rows `rows` at slots size, size + 1, ... (host side)."""
    if rows.size == 0:
        return
    start = int(storage.size.numpy())
    slots = np.arange(start, start + rows.size, dtype=np.int32)

    def pick(values):
        return None if values is None else tf.gather(values, rows)

    storage.write(slots, ids[rows], labels[rows], step, pick(logits), pick(features))
