"""The rows Kaizen's online probe trains on: every seen task's labelled data, once per epoch.

The original (`online_evaluation_training_data_source=seen_tasks`, `main_pretrain.py`) gives the
online probe its own loader over the training data of tasks 0..t, with a batch of
⌈N_seen / N_batches⌉ rows (N_batches: the task loader's length, ⌊N_task / batch⌋ with its
drop_last, the count Kaizen's epoch trains on), so one epoch of task t is one pass of the probe
over everything seen so far. Here each epoch's order is a seeded
permutation keyed by (seed, task, epoch), a pure function like the loop's batch order, so a
resumed run feeds the probe exactly the rows an uninterrupted one would.
"""

from __future__ import annotations

import math

import numpy as np


def seen_rows(experiences, task: int) -> np.ndarray:
    """int64: the train rows of tasks 0..task, in task order."""
    parts = [np.asarray(e.train_ids, dtype=np.int64) for e in experiences[:task + 1]]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def probe_rows(experiences, task: int, batches: int, step_in_task: int, seed: int
               ) -> np.ndarray:
    """The seen-task rows of step `step_in_task` of task `task`, whose epochs train on
    `batches` stream batches: batch `b` of epoch `e` reads slice `b` of that epoch's
    permutation."""
    seen = seen_rows(experiences, task)
    batches = max(int(batches), 1)
    epoch, index = divmod(int(step_in_task), batches)
    size = math.ceil(seen.size / batches)
    order = np.random.default_rng([seed, task, epoch, 0x9B0BE]).permutation(seen.size)
    return seen[order[index * size:(index + 1) * size]]
