"""Class-incremental ("disjoint" in Rainbow Memory) streams: each task holds only its own classes.

Task t trains on every train record of its classes. The evaluation after task t reads the test
records of all classes seen so far (RM's disjoint test set: the union of tasks 0..t), and
R[i, j] reads the test records of task j's classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import gin

from continual.data.manifest import Manifest
from continual.data.scenarios.class_order import resolve_class_order, split_into_tasks
from continual.data.scenarios.experience import Scenario, as_ids, chain_experiences
from continual.data.scenarios.inputs import (
    ScenarioData,
    rows_with_labels,
    scenario_data,
    scenario_rng,
)


def class_tasks(data: ScenarioData, name: str, num_tasks: int,
                class_order: Sequence[int] | None, shuffle_classes: bool,
                classes_per_task: Sequence[int] | None = None
                ) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """(class order, task classes) of the data; errors name `name`'s bindings."""
    order = resolve_class_order(data.classes, class_order, shuffle_classes, data.seed, name)
    return order, split_into_tasks(order, num_tasks, classes_per_task, name)


def class_params(data: ScenarioData, order: Sequence[int],
                 tasks: Sequence[Sequence[int]], **args) -> dict:
    """Params of a class-based scenario: its arguments, the resolved order and task sizes."""
    return {**args, "num_tasks": len(tasks), "class_order": list(order),
            "classes_per_task": [len(task) for task in tasks], **data.identity()}


def task_test_rows(data: ScenarioData, tasks: Sequence[Sequence[int]]) -> tuple:
    """Per task, the test rows of its classes (ascending)."""
    return tuple(as_ids(rows_with_labels(data.test_labels, task)) for task in tasks)


def build_class_incremental(data: ScenarioData, name: str, *, num_tasks: int,
                            class_order: Sequence[int] | None, shuffle_classes: bool,
                            shuffle_within_task: bool,
                            classes_per_task: Sequence[int] | None) -> Scenario:
    """The class-incremental scenario of `data`; `name` is the binding named in errors."""
    order, tasks = class_tasks(data, name, num_tasks, class_order, shuffle_classes,
                               classes_per_task)
    rng = scenario_rng(data.seed, "class_incremental")
    streams = []
    for task in tasks:
        rows = rows_with_labels(data.train_labels, task)
        streams.append(rng.permutation(rows) if shuffle_within_task else rows)
    seen = [sorted(c for task in tasks[:t + 1] for c in task) for t in range(len(tasks))]
    evals = [rows_with_labels(data.test_labels, classes) for classes in seen]
    params = class_params(data, order, tasks, shuffle_classes=bool(shuffle_classes),
                          shuffle_within_task=bool(shuffle_within_task))
    return Scenario(name="class_incremental", params=params,
                    experiences=chain_experiences(streams, tasks, evals),
                    task_test_ids=task_test_rows(data, tasks),
                    num_classes=data.train.num_classes)


@gin.configurable(denylist=["train", "test", "seed"])
def class_incremental(train: Manifest, test: Manifest, seed: int, *, num_tasks: int = 5,
                      class_order: Sequence[int] | None = None, shuffle_classes: bool = True,
                      shuffle_within_task: bool = True,
                      classes_per_task: Sequence[int] | None = None) -> Scenario:
    """Disjoint class-incremental stream of `num_tasks` tasks.

    Args:
      class_order: explicit order of the data's classes (a permutation); default a seeded one,
        or the sorted classes when `shuffle_classes` is False.
      shuffle_within_task: stream a task's records in seeded random order (else manifest order).
      classes_per_task: unequal task sizes (summing to the data's class count); default equal.
    """
    data = scenario_data(train, test, seed, "class_incremental")
    return build_class_incremental(
        data, "class_incremental", num_tasks=num_tasks, class_order=class_order,
        shuffle_classes=shuffle_classes, shuffle_within_task=shuffle_within_task,
        classes_per_task=classes_per_task)
