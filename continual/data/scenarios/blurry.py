"""Rainbow Memory's Blurry-M streams (Bang et al., CVPR 2021): each task is mostly its own classes.

Construction, as in RM's split notebook: the data's classes are ordered and cut into equal
tasks exactly like `class_incremental` (same seed, same order); these are a task's "major"
classes. Each task's records are shuffled; (100 - M) % stay in the task, and the other M % (its
minor pool, floor(n * M / 100) of its n records) are cut into T - 1 equal parts, part k going to
the k-th other task in task order (the notebook's `pop(0)` order). Task t streams its own
records plus the parts donated to it, shuffled.

Deviation (fixed defect): the notebook draws the T - 1 parts independently from the whole pool
(`taskN.sample(n)` T - 1 times), so parts overlap: a sample can be streamed in two tasks and
others in none. Here the parts are disjoint and every train record is streamed exactly once;
when T - 1 does not divide the pool, its remainder (< T - 1 records) stays in its own task.
The notebook also hard-codes 0.9 even for blurry30 (the shipped blurry30
JSONs are about 76 / 24); here M is the argument.

Evaluation reads all test records after every task (RM's blurry test set); R[i, j] reads the
test records of task j's major classes (RM's class blocks).
"""

from __future__ import annotations

from collections.abc import Sequence

import gin
import numpy as np

from continual.data.manifest import Manifest
from continual.data.scenarios.class_incremental import class_params, class_tasks, task_test_rows
from continual.data.scenarios.experience import Scenario, chain_experiences
from continual.data.scenarios.inputs import rows_with_labels, scenario_data, scenario_rng


def _check_percent(blurry_percent: int, num_tasks: int) -> int:
    if isinstance(blurry_percent, bool) or not isinstance(blurry_percent, int | np.integer) \
            or not 0 <= blurry_percent < 100:
        raise ValueError("blurry.blurry_percent must be an integer percentage in 0..99 "
                         f"(10 for Blurry10, 30 for Blurry30), got {blurry_percent!r}")
    if blurry_percent > 0 and num_tasks < 2:
        raise ValueError(f"blurry.num_tasks = {num_tasks} leaves no other task to take the "
                         "minor samples; use num_tasks >= 2 or blurry_percent = 0")
    return int(blurry_percent)


def _major_and_donations(rows: np.ndarray, percent: int, num_tasks: int,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(rows kept by the task, [T - 1, k] rows donated: row k to the k-th other task)."""
    rows = rng.permutation(rows)
    per_part = (len(rows) * percent // 100) // max(num_tasks - 1, 1)
    donated = num_tasks - 1 if percent else 0
    cut = donated * per_part
    return rows[cut:], rows[:cut].reshape(donated, per_part)


def _received(task: int, donations: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The parts other tasks donate to `task`: task j's part k goes to its k-th other task."""
    return [parts[task if task < j else task - 1]
            for j, parts in enumerate(donations) if j != task and len(parts)]


@gin.configurable(denylist=["train", "test", "seed"])
def blurry(train: Manifest, test: Manifest, seed: int, *, num_tasks: int = 5,
           blurry_percent: int = 10, class_order: Sequence[int] | None = None,
           shuffle_classes: bool = True) -> Scenario:
    """RM's Blurry-M stream: M = `blurry_percent` % of every task are other tasks' classes.

    `class_order` / `shuffle_classes` choose the major classes as in `class_incremental`.
    `seen_classes` grows with the classes whose records have been streamed (majors and minors).
    """
    data = scenario_data(train, test, seed, "blurry")
    order, tasks = class_tasks(data, "blurry", num_tasks, class_order, shuffle_classes)
    percent = _check_percent(blurry_percent, len(tasks))
    rng = scenario_rng(data.seed, "blurry")
    kept, donations = zip(*(
        _major_and_donations(rows_with_labels(data.train_labels, task), percent, len(tasks), rng)
        for task in tasks), strict=True)
    streams = [rng.permutation(np.concatenate([kept[t], *_received(t, donations)]))
               for t in range(len(tasks))]
    new_classes = [data.train_labels[rows] for rows in streams]
    evals = [data.all_test_ids] * len(tasks)
    params = class_params(data, order, tasks, blurry_percent=percent,
                          shuffle_classes=bool(shuffle_classes))
    return Scenario(name="blurry", params=params,
                    experiences=chain_experiences(streams, new_classes, evals),
                    task_test_ids=task_test_rows(data, tasks),
                    num_classes=data.train.num_classes)
