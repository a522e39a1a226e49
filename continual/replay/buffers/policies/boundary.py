"""Memory rebuilt once per task from (memory ∪ the task's stream): Rainbow Memory's managers.

The candidates are the items in memory (slot order) followed by the task's stream rows (stream
order). A method calls `candidates`, measures what `score_kind(task)` asks for ('uncertainty',
'features' or None) on them through its model, and calls `rebuild` with those values; the
policy picks at most `capacity` candidates and the storage then holds exactly those (kept
memory items first, in slot order, then new rows in stream order). If all candidates fit, all
are kept. Every draw is keyed by (seed, task), so the memory does not depend on a resume.
`RandomSubsetPolicy` is RM's `random`: a seeded shuffle of the candidates, the first K kept.
"""

from __future__ import annotations

import gin
import numpy as np
import tensorflow as tf

from continual.replay.buffers.policies.base import BufferPolicy, append_rows, check_labels
from continual.replay.buffers.storage import BufferStorage


def seeded_keys(count: int, seed, task: int, salt: int = 0) -> np.ndarray:
    """float64 [count] uniform keys keyed by (seed, task, salt)."""
    key = [int(seed) * 1_000_003 + salt, int(task)]
    return tf.random.stateless_uniform([count], key, dtype=tf.float64).numpy()


def seeded_order(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Positions sorted by `values` ascending, ties in the random order of `keys` (a
    seeded permutation, then a stable sort: reproducible where the originals' unstable sorts
    were not)."""
    shuffled = np.argsort(keys, kind="stable")
    return shuffled[np.argsort(values[shuffled], kind="stable")]


def fill_randomly(chosen: np.ndarray, count: int, capacity: int, keys: np.ndarray) -> np.ndarray:
    """`chosen` plus random unchosen positions of range(count) until `capacity` are chosen."""
    rest = np.setdiff1d(np.arange(count), chosen)
    rest = rest[np.argsort(keys[rest], kind="stable")]
    return np.concatenate([chosen, rest[: max(capacity - chosen.size, 0)]]).astype(np.int64)


class BoundarySelection(BufferPolicy):
    """Base of the once-per-task managers; subclasses implement `choose`."""

    def score_kind(self, task: int) -> str | None:
        """What `rebuild` needs for task `task`: 'uncertainty', 'features' or None."""
        return None

    def candidates(self, storage: BufferStorage, ids, labels) -> tuple[np.ndarray, np.ndarray]:
        """(ids, labels) of memory items then the stream rows given."""
        size = int(storage.size.numpy())
        ids = np.asarray(ids, np.int64).reshape(-1)
        labels = np.asarray(labels, np.int32).reshape(-1)
        check_labels(labels, storage.num_classes, "rebuild")
        return (np.concatenate([storage.ids.numpy()[:size], ids]),
                np.concatenate([storage.labels.numpy()[:size], labels]))

    def rebuild(self, storage: BufferStorage, ids, labels, *, task: int, seed: int,
                classes, step: int = 0, values=None) -> np.ndarray:
        """Select from memory ∪ (ids, labels) and rewrite the storage; returns the chosen
        candidate positions. `classes`: the classes exposed so far (the per-class budget is
        capacity // len(classes)); `values`: what `score_kind(task)` asked for, per candidate."""
        cand_ids, cand_labels = self.candidates(storage, ids, labels)
        kind = self.score_kind(task)
        if kind is not None and (values is None or len(values) != cand_ids.size):
            raise ValueError(f"{type(self).__name__} needs {kind} for each of the "
                             f"{cand_ids.size} candidates; pass values=")
        if cand_ids.size <= storage.capacity:
            chosen = np.arange(cand_ids.size)
        else:
            chosen = self.select(cand_labels, np.asarray(sorted(set(int(c) for c in classes))),
                                 storage.capacity, task, seed, values,
                                 memory_count=int(storage.size.numpy()))
        chosen = np.sort(np.asarray(chosen, np.int64))
        size = int(storage.size.numpy())
        storage.keep(chosen[chosen < size].astype(np.int32))
        new = chosen[chosen >= size] - size
        append_rows(storage, new, np.asarray(ids, np.int64).reshape(-1),
                    np.asarray(labels, np.int32).reshape(-1), step, None, None)
        return chosen

    def select(self, labels: np.ndarray, classes: np.ndarray, capacity: int, task: int,
               seed: int, values, *, memory_count: int) -> np.ndarray:
        """The chosen candidate positions; the first `memory_count` candidates are the memory's
        items. By default `choose`, which treats memory and stream rows alike."""
        return self.choose(labels, classes, capacity, task, seed, values)

    def choose(self, labels: np.ndarray, classes: np.ndarray, capacity: int, task: int,
               seed: int, values) -> np.ndarray:
        raise NotImplementedError


@gin.configurable(denylist=["num_classes"])
class RandomSubsetPolicy(BoundarySelection):
    """RM's `random`: shuffle memory ∪ stream (seeded), keep the first K."""

    def __init__(self, *, num_classes: int):
        super().__init__(num_classes=num_classes, name="random_subset")

    def choose(self, labels, classes, capacity, task, seed, values) -> np.ndarray:
        keys = seeded_keys(labels.size, seed, task)
        return np.argsort(keys, kind="stable")[:capacity]
