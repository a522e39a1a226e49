"""Herding exemplars (iCaRL; RM's `prototype` manager, reference §3.2 / §6).

Per class, with k = capacity // (classes exposed so far): the features of the class's
candidates (memory ∪ stream) are L2-normalised, their mean is the class prototype, and k
exemplars are picked greedily so that the mean of the picked stays closest to it. Ties go to
the lower candidate position. Slots left over stay empty (iCaRL keeps k per class).
Deviation: the original fixes a class's mean the first time it is computed and first cuts the
old exemplars to k at random; here the mean is recomputed from all of the class's candidates
at each task, and herding runs over all of them.
"""

from __future__ import annotations

import gin
import numpy as np

from continual.replay.buffers.policies.boundary import BoundarySelection
from continual.replay.buffers.policies.rainbow import per_class_budget


def herd(features: np.ndarray, budget: int) -> np.ndarray:
    """Positions of `budget` rows of L2-normalised `features` chosen by herding, in pick order."""
    if len(features) == 0:
        return np.empty(0, np.int64)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    unit = features / np.maximum(norms, 1e-12)
    prototype = unit.mean(axis=0)
    picked, running = [], np.zeros_like(prototype)
    available = np.ones(len(unit), bool)
    for count in range(1, min(budget, len(unit)) + 1):
        distance = np.linalg.norm(prototype - (running + unit) / count, axis=1)
        distance[~available] = np.inf
        best = int(np.argmin(distance))
        picked.append(best)
        available[best] = False
        running += unit[best]
    return np.asarray(picked, np.int64)


@gin.configurable(denylist=["num_classes"])
class HerdingPolicy(BoundarySelection):
    """k exemplars per exposed class, closest running mean to the class prototype."""

    def __init__(self, *, num_classes: int):
        super().__init__(num_classes=num_classes, name="herding")

    def score_kind(self, task: int) -> str | None:
        return "features"

    def choose(self, labels, classes, capacity, task, seed, values) -> np.ndarray:
        budget = per_class_budget(capacity, classes)
        features = np.asarray(values, np.float64)
        picks = [np.empty(0, np.int64)]
        for label in classes:
            members = np.flatnonzero(labels == label)
            picks.append(members[herd(features[members], budget)])
        return np.concatenate(picks)
