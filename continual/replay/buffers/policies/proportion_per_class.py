"""A fixed proportion of each finished task's classes: Kaizen's replay memory.

Kaizen (Tang et al., WACV 2024; `kaizen/utils/pretrain_dataloader.py`) replays, during task t,
the first ⌊n_c · p⌋ training images of every class c of the tasks before t, in dataset order
(p = `replay_proportion`, 0.01 on CIFAR-100: 5 images per class). The memory is fixed: it is
labelled, never updated and has no selection heuristic. Here the items of a task's classes are
added by `end_experience` with that task's rows; Kaizen calls it with task t-1's rows when task
t begins (so the saved state after task 0 does not depend on whether replay is on), and the
memory during task t holds exactly the classes of tasks 0..t-1. `mode='first'` takes the first
items in dataset order, i.e. the smallest record rows of the class (the original indexes
`dataset.targets`, not the shuffled stream); `mode='random'` a seeded random choice keyed by
(seed, class). The original's optional cap `replay_memory_bank_size` is unset, so inactive, in the
paper scripts and is not reproduced.
"""

from __future__ import annotations

import math

import gin
import numpy as np

from continual.replay.buffers.policies.base import (
    BufferPolicy,
    append_rows,
    experience_rows,
)
from continual.replay.buffers.policies.fixed_per_class import seeded_choice
from continual.replay.buffers.storage import BufferStorage

MODES = ("first", "random")


def items_per_class(count: int, proportion: float) -> int:
    """⌊count · proportion⌋ (with a tolerance, so 500 · 0.01 is 5, not 4)."""
    return int(math.floor(count * proportion + 1e-9))


@gin.configurable(denylist=["num_classes"])
class ProportionPerClassPolicy(BufferPolicy):
    """⌊n_c · replay_proportion⌋ items of each class of a task, added by `end_experience`."""

    def __init__(self, replay_proportion: float = 0.01, mode: str = "first", *,
                 num_classes: int):
        super().__init__(num_classes=num_classes, name="proportion_per_class")
        if isinstance(replay_proportion, bool) or not 0.0 < replay_proportion <= 1.0:
            raise ValueError(f"ProportionPerClassPolicy.replay_proportion = {replay_proportion!r}"
                             " must be in (0, 1]; e.g. 0.01 (Kaizen's CIFAR-100 scripts)")
        if mode not in MODES:
            raise ValueError(f"ProportionPerClassPolicy.mode = {mode!r} is unknown; use one of "
                             f"{MODES}")
        self.replay_proportion, self.mode = float(replay_proportion), mode

    def end_experience(self, storage: BufferStorage, ids, labels, seed: int, *,
                       step: int = 0, logits=None, features=None) -> None:
        ids, labels, logits, features = experience_rows(storage, ids, labels, logits, features,
                                                        "end_experience")
        present = storage.class_counts().numpy() > 0
        classes = [int(c) for c in np.unique(labels) if not present[c]]
        rows = [self._chosen(np.flatnonzero(labels == c), ids, seed, c) for c in classes]
        rows = np.sort(np.concatenate([np.empty(0, np.int64), *rows]))
        self._check_room(storage, rows.size)
        append_rows(storage, rows, ids, labels, step, logits, features)

    def _chosen(self, rows: np.ndarray, ids: np.ndarray, seed: int, label: int) -> np.ndarray:
        """The experience rows of class `label` kept: `rows` are its rows in stream order."""
        count = items_per_class(rows.size, self.replay_proportion)
        if count < 1:
            raise ValueError(
                f"ProportionPerClassPolicy.replay_proportion = {self.replay_proportion} keeps 0 "
                f"of the {rows.size} items of class {label}; raise it to at least "
                f"{1 / rows.size:.4g}")
        if self.mode == "first":   # dataset order: ids are record rows
            return rows[np.argsort(ids[rows], kind="stable")[:count]]
        return seeded_choice(rows, count, seed, label)

    def _check_room(self, storage: BufferStorage, added: int) -> None:
        size = int(storage.size.numpy())
        if size + added > storage.capacity:
            raise ValueError(
                f"ProportionPerClassPolicy adds {added} items to the {size} stored, more than "
                f"EpisodicBuffer.capacity = {storage.capacity}; raise EpisodicBuffer.capacity to "
                f"at least {size + added} or lower ProportionPerClassPolicy.replay_proportion")
