"""I.i.d. streams: a seeded shuffle of all train records cut into nearly equal experiences.

The reference point without any drift (MinRed's Flickr streams are i.i.d. but uncurated,
shuffled lists). The whole label space is declared at the first experience, so every class
counts as seen from task 0 on; evaluation and every R[i, j] read all test records.
"""

from __future__ import annotations

import gin
import numpy as np

from continual.data.manifest import Manifest
from continual.data.scenarios.experience import Scenario, as_ids, chain_experiences
from continual.data.scenarios.inputs import positive_int, scenario_data, scenario_rng


@gin.configurable(denylist=["train", "test", "seed"])
def iid(train: Manifest, test: Manifest, seed: int, *, num_tasks: int = 5) -> Scenario:
    """`num_tasks` experiences of shuffled train records; the first ones hold one extra record
    when `num_tasks` does not divide the record count."""
    data = scenario_data(train, test, seed, "iid")
    num_tasks = positive_int(num_tasks, "iid.num_tasks")
    if num_tasks > len(data.train_labels):
        raise ValueError(f"iid.num_tasks = {num_tasks} exceeds the {len(data.train_labels)} "
                         f"records of {train.path}; use at most that many tasks")
    streams = np.array_split(scenario_rng(data.seed, "iid").permutation(len(data.train_labels)),
                             num_tasks)
    new_classes = [data.classes] + [()] * (num_tasks - 1)
    evals = [data.all_test_ids] * num_tasks
    return Scenario(name="iid", params={"num_tasks": num_tasks, **data.identity()},
                    experiences=chain_experiences(streams, new_classes, evals),
                    task_test_ids=(as_ids(data.all_test_ids),) * num_tasks,
                    num_classes=train.num_classes)
