"""Joint training: one experience holding every train record, the upper bound of a stream.

Its task test sets are those of the class-incremental stream with the same arguments and seed,
so a joint run's R[0, j] is the a*_j that intransigence compares a continual run's R[j, j]
with (Chaudhry et al., ECCV 2018; intransigence only against a linked joint run, never against
RM's default joint_acc of 0).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import gin

from continual.data.manifest import Manifest
from continual.data.scenarios.class_incremental import build_class_incremental
from continual.data.scenarios.experience import Experience, Scenario, as_ids
from continual.data.scenarios.inputs import scenario_data, scenario_rng


@gin.configurable(denylist=["train", "test", "seed"])
def joint(train: Manifest, test: Manifest, seed: int, *, num_tasks: int = 5,
          class_order: Sequence[int] | None = None, shuffle_classes: bool = True,
          classes_per_task: Sequence[int] | None = None) -> Scenario:
    """All train records (seeded shuffle) in one experience evaluated on all test records;
    `task_test_ids` follow `class_incremental(num_tasks, class_order, ...)`."""
    data = scenario_data(train, test, seed, "joint")
    tasks = build_class_incremental(
        data, "joint", num_tasks=num_tasks, class_order=class_order,
        shuffle_classes=shuffle_classes, shuffle_within_task=False,
        classes_per_task=classes_per_task)
    stream = scenario_rng(data.seed, "joint").permutation(len(data.train_labels))
    experience = Experience(index=0, train_ids=as_ids(stream), classes=data.classes,
                            seen_classes=data.classes, eval_ids=as_ids(data.all_test_ids))
    params = {key: value for key, value in tasks.params.items() if key != "shuffle_within_task"}
    return dataclasses.replace(tasks, name="joint", params=params, experiences=(experience,))
