"""Rainbow Memory's memory update (RM's `uncertainty` manager in `methods/finetune.py`).

Per task, over memory ∪ the task's stream, with k = capacity // (classes exposed so far): task 0
takes a random k of each class; later tasks rank each class's candidates by their uncertainty under
perturbation (most certain first; ties in a seeded random order, then a stable sort, where RM's
pandas sort is unstable) and take every j-th, j = floor(n_c / k), keeping the first k: samples
spread evenly over the certainty ranking. A class with at most k candidates keeps them all. Slots
left over are filled with random unchosen candidates.
"""

from __future__ import annotations

import gin
import numpy as np

from continual.replay.buffers.policies.boundary import (
    BoundarySelection,
    fill_randomly,
    seeded_keys,
    seeded_order,
)


def per_class_budget(capacity: int, classes: np.ndarray) -> int:
    """k = capacity // number of exposed classes (>= 1: EpisodicBuffer checks capacity)."""
    if classes.size == 0:
        raise ValueError("rebuild: no exposed classes were given; pass classes=")
    return capacity // classes.size


def stride_pick(order: np.ndarray, budget: int) -> np.ndarray:
    """Every j-th of `order` (j = floor(len / budget)), the first `budget` of them."""
    if order.size <= budget:
        return order
    return order[:: order.size // budget][:budget]


@gin.configurable(denylist=["num_classes"])
class RainbowPolicy(BoundarySelection):
    """RM's uncertainty manager (`mem_manage` default / uncertainty)."""

    def __init__(self, *, num_classes: int):
        super().__init__(num_classes=num_classes, name="rainbow")

    def score_kind(self, task: int) -> str | None:
        return None if task == 0 else "uncertainty"

    def choose(self, labels, classes, capacity, task, seed, values) -> np.ndarray:
        budget = per_class_budget(capacity, classes)
        keys = seeded_keys(labels.size, seed, task)
        certainty = np.zeros(labels.size) if values is None else np.asarray(values, np.float64)
        picks = []
        for label in classes:
            members = np.flatnonzero(labels == label)
            ranked = members[seeded_order(certainty[members], keys[members])]
            picks.append(stride_pick(ranked, budget) if values is not None
                         else ranked[:budget])
        chosen = np.concatenate([np.empty(0, np.int64), *picks])
        return fill_randomly(chosen, labels.size, capacity, seeded_keys(labels.size, seed,
                                                                        task, salt=1))
