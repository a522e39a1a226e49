"""Herding exemplars (iCaRL; RM's `prototype` manager `Finetune.mean_feature_sampling`
in `methods/finetune.py`).

Per class, with k = capacity // (classes exposed so far), as RM's code:
- a class whose old exemplars (memory items) number k or more keeps a seeded random k of them
  (RM cuts each class's old exemplars to k at random, then keeps a class at its share): in a
  blurry stream, where every class is exposed at task 0, the memory freezes after task 0;
- any other class herds k exemplars from its stream rows followed by its old exemplars: the
  features are L2-normalised, the prototype mu is their mean, normalised again, and each pick
  makes the running mean of the picked (normalised again) closest to mu. Ties go to the lower
  candidate position; a class with k or fewer candidates keeps them all. Slots left over stay
  empty (iCaRL keeps k per class).
RM also keeps a class's mu from the first time it herds the class; with shares that never
grow, a herded class is at its share from then on and is never herded again, so that rule
never acts and is not kept here.
"""

from __future__ import annotations

import gin
import numpy as np

from continual.replay.buffers.policies.boundary import BoundarySelection, seeded_keys
from continual.replay.buffers.policies.rainbow import per_class_budget


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)


def herd(features: np.ndarray, budget: int) -> np.ndarray:
    """Positions of `budget` rows of `features` chosen by herding (RM's arithmetic: normalised
    features, prototype and running means), in pick order."""
    if len(features) == 0:
        return np.empty(0, np.int64)
    unit = _unit(np.asarray(features, np.float64))
    prototype = _unit(unit.mean(axis=0))
    picked, running = [], np.zeros_like(prototype)
    available = np.ones(len(unit), bool)
    for _ in range(min(budget, len(unit))):
        distance = np.linalg.norm(prototype - _unit(running + unit), axis=1)
        distance[~available] = np.inf
        best = int(np.argmin(distance))
        picked.append(best)
        available[best] = False
        running += unit[best]
    return np.asarray(picked, np.int64)


@gin.configurable(denylist=["num_classes"])
class HerdingPolicy(BoundarySelection):
    """k exemplars per exposed class: a class at its share keeps its old exemplars, any other
    herds over its stream rows and old exemplars."""

    def __init__(self, *, num_classes: int):
        super().__init__(num_classes=num_classes, name="herding")

    def score_kind(self, task: int) -> str | None:
        return "features"

    def select(self, labels, classes, capacity, task, seed, values, *,
               memory_count: int) -> np.ndarray:
        budget = per_class_budget(capacity, classes)
        features = np.asarray(values, np.float64)
        keys = seeded_keys(labels.size, seed, task, salt=2)
        is_old = np.arange(labels.size) < memory_count
        picks = [np.empty(0, np.int64)]
        for label in classes:
            old = np.flatnonzero((labels == label) & is_old)
            if old.size >= budget:
                picks.append(old[np.argsort(keys[old], kind="stable")][:budget])
                continue
            members = np.concatenate([np.flatnonzero((labels == label) & ~is_old), old])
            picks.append(members[herd(features[members], budget)])
        return np.concatenate(picks)

    def choose(self, labels, classes, capacity, task, seed, values) -> np.ndarray:
        return self.select(labels, classes, capacity, task, seed, values, memory_count=0)
