"""Class-sequential, temporally correlated streams for continuous SSL (Purushwalkam et al.,
ECCV 2022).

The stream visits the classes one after another in a seeded class order (as the continual
ImageNet-21K stream visits its class splits D0..D3 unshuffled). Within a class, records are
ordered by `group` then `time` where the set has them (so the frames of one object or video
stay together), then by manifest order. The class order is cut into `num_tasks` segments of
consecutive classes; each segment is one experience, i.e. one evaluation point.

`run_length` models shorter correlated runs, as the Kinetics stream's 64-frame groups do: each
class's ordered records are cut into runs of `run_length`, and the runs of a segment's classes
are streamed in seeded random order. Without it each class is one run.

Evaluation (a linear probe, typically) reads all test records; R[i, j] reads the test records
of segment j's classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import gin
import numpy as np

from continual.data.manifest import Manifest
from continual.data.scenarios.class_incremental import class_params, class_tasks, task_test_rows
from continual.data.scenarios.experience import Scenario, chain_experiences
from continual.data.scenarios.inputs import (
    metadata_column,
    positive_int,
    rows_with_labels,
    scenario_data,
    scenario_rng,
)

NAME = "class_sequential_runs"


def _class_records(labels: np.ndarray, cls: int, keys: Sequence[np.ndarray]) -> np.ndarray:
    """Rows of class `cls` ordered by the keys (most significant first), then by row."""
    rows = rows_with_labels(labels, [cls])
    return rows[np.lexsort([rows, *[key[rows] for key in reversed(keys)]])]


def _segment_stream(classes: Sequence[int], labels: np.ndarray, keys: Sequence[np.ndarray],
                    run_length: int | None, rng: np.random.Generator) -> np.ndarray:
    runs = []
    for cls in classes:
        ordered = _class_records(labels, cls, keys)
        if run_length is None:
            runs.append(ordered)
        else:
            runs.extend(np.split(ordered, np.arange(run_length, len(ordered), run_length)))
    if run_length is not None:
        runs = [runs[i] for i in rng.permutation(len(runs))]
    return np.concatenate(runs)


@gin.configurable(denylist=["train", "test", "seed"])
def class_sequential_runs(train: Manifest, test: Manifest, seed: int, *, num_tasks: int = 4,
                          run_length: int | None = None,
                          class_order: Sequence[int] | None = None,
                          shuffle_classes: bool = True,
                          classes_per_task: Sequence[int] | None = None) -> Scenario:
    """A stream visiting classes in turn, cut into `num_tasks` segments of consecutive classes.

    Args:
      num_tasks: evaluation points (4: the continual ImageNet stream's splits D0..D3).
      run_length: records per correlated run; runs of a segment are shuffled (seeded). None:
        each class is streamed whole, in class order.
      class_order, shuffle_classes, classes_per_task: as in `class_incremental`.
    """
    data = scenario_data(train, test, seed, NAME)
    if run_length is not None:
        run_length = positive_int(run_length, f"{NAME}.run_length")
    order, tasks = class_tasks(data, NAME, num_tasks, class_order, shuffle_classes,
                               classes_per_task)
    keys = [column for column in (metadata_column(train, name, NAME, required=False)
                                  for name in ("group", "time")) if column is not None]
    rng = scenario_rng(data.seed, NAME)
    streams = [_segment_stream(task, data.train_labels, keys, run_length, rng) for task in tasks]
    params = class_params(data, order, tasks, run_length=run_length,
                          shuffle_classes=bool(shuffle_classes))
    return Scenario(name=NAME, params=params,
                    experiences=chain_experiences(streams, tasks,
                                                  [data.all_test_ids] * len(tasks)),
                    task_test_ids=task_test_rows(data, tasks),
                    num_classes=train.num_classes)
