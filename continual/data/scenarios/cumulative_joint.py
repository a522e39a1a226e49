"""Joint references per task count: experience k holds every train row of tasks 0..k.

Chaudhry et al.'s intransigence (RWalk, ECCV 2018) compares a continual model's accuracy on
task k after learning it, R[k, k], with a*_k: the accuracy on task k of a model trained jointly
on tasks 0..k. This scenario cuts that reference out of any stream scenario (`scenario`, e.g.
@blurry with the same bindings and seed as the experiments it serves): experience k streams
the union of the base stream's train rows of experiences 0..k (seeded shuffle), and its
evaluation reads the base's experience-k rows, so R_joint[k, k] is a*_k. Train it with a
method that starts every experience from scratch (`JointFromScratch`), link it with
`StreamPlan.joint_experiment`, and the summary's intransigence uses R_joint's diagonal.
"""

from __future__ import annotations

import dataclasses

import gin
import numpy as np

from continual.data.manifest import Manifest
from continual.data.scenarios.experience import Scenario, as_ids


@gin.configurable(denylist=["train", "test", "seed"])
def cumulative_joint(train: Manifest, test: Manifest, seed: int, *, scenario=None) -> Scenario:
    """T experiences; experience k = the train rows of `scenario`'s experiences 0..k."""
    if scenario is None or not callable(scenario):
        raise ValueError("cumulative_joint.scenario must name the stream the joint references "
                         f"are for, e.g. @blurry or @class_incremental; got {scenario!r}")
    base = scenario(train, test, seed)
    rows, experiences = [], []
    for experience in base.experiences:
        rows.extend(experience.train_ids)
        order = np.random.default_rng([int(seed), experience.index, 0xC0]).permutation(len(rows))
        experiences.append(dataclasses.replace(
            experience, train_ids=as_ids(np.asarray(rows, dtype=np.int64)[order])))
    params = {"base": base.name, **base.params}
    return dataclasses.replace(base, name="cumulative_joint", params=params,
                               experiences=tuple(experiences))
