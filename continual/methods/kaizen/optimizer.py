"""Kaizen's optimisation (paper scripts, `bash_files/*`): one LARS per parameter group.

Groups: encoder + projector (+ BYOL's predictor) at `learning_rate` / `weight_decay`; the
classifier at `classifier_lr`, wd 0; the online probe at `probe_lr`, wd 0; the distillation
predictor at `learning_rate` (divided by λ_f when λ_f < 1), `weight_decay`. LARS's trust
coefficient, clipping, 1-D exclusion and momentum are `LARS.*` bindings. Each group follows
its own warm-up cosine (pl_bolts' `LinearWarmupCosineAnnealingLR`, stepped once per epoch),
and every task restarts the schedules, the momentum buffers and the step counts (the original
builds a fresh optimiser per task).
"""

from __future__ import annotations

import tensorflow as tf

from continual.optim.groups import ParameterGroups
from continual.optim.lars import LARS
from continual.optim.schedules import make_schedule


def group_settings(name: str, s: dict) -> tuple[float, float]:
    """(base lr, weight decay) of group `name` from Kaizen's settings `s`."""
    if name == "classifier":
        return s["classifier_lr"], 0.0
    if name == "probe":
        return s["probe_lr"], 0.0
    if name == "distill_predictor":
        weight = s["feature_distill_weight"]
        lr = s["learning_rate"] if weight >= 1 or weight == 0 else s["learning_rate"] / weight
        return lr, s["weight_decay"]
    return s["learning_rate"], s["weight_decay"]


class KaizenOptimizer:
    """LARS per group, routed by `ParameterGroups` (`groups`: what a checkpoint saves);
    per-epoch learning rates."""

    def __init__(self, groups: dict[str, list], settings: dict):
        pairs, self.schedules = [], []
        for name in groups:
            lr, wd = group_settings(name, settings)
            pairs.append((groups[name], LARS(learning_rate=lr, weight_decay=wd,
                                             name=f"lars_{name}")))
            self.schedules.append(make_schedule(
                "warmup_cosine", base_lr=lr, warmup=settings["warmup_epochs"],
                total=settings["epochs"], warmup_start_lr=settings["warmup_start_lr"]))
        self.groups = ParameterGroups(pairs)
        self.names = tuple(groups)
        self.variables_to_train = [v for variables in groups.values() for v in variables]

    def learning_rates(self, epoch: int, idle: tuple[str, ...] = ()) -> tf.Tensor:
        """float32 [groups]: each group's lr in epoch `epoch` of the task; 0 for the groups
        named in `idle`, which get no gradient this step (so their saved lr is the same
        whatever their schedule: the state after task 0 does not depend on λ_f)."""
        return tf.stack([tf.constant(0.0) if name in idle else tf.cast(schedule(epoch), tf.float32)
                         for name, schedule in zip(self.names, self.schedules, strict=True)])

    def set_learning_rates(self, learning_rates: tf.Tensor) -> None:
        for index, optimizer in enumerate(self.groups.optimizers):
            optimizer.learning_rate = learning_rates[index]

    def apply(self, grads, variables) -> None:
        self.groups.apply(grads, variables)

    def task_iterations(self) -> tf.Tensor:
        """Steps taken in the current task (the first group's counter)."""
        return self.groups.optimizers[0].iterations

    def restart(self) -> None:
        """A fresh optimiser: zero step counts and momentum buffers."""
        for optimizer in self.groups.optimizers:
            for variable in [optimizer.iterations, *optimizer.momentums, *optimizer.started]:
                variable.assign(tf.zeros_like(variable))
