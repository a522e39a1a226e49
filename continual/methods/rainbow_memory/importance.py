"""What EWC and RWalk share (RM's `methods/regularization.py`, defects fixed): a
per-parameter importance, anchors written once per task, and the quadratic penalty they define.

RM's EWC and RWalk are **reservoir replay + regulariser** baselines: the original's baseline
loop (online: one shuffled pass over stream ∪ memory at batch 16, memory update, memory-only
epochs at batch 16; `batch_size`; no augmentation by default, as RM's baseline rows)
whose loss adds reg_coef * sum_t sum_i F_t,i (theta_i - theta*_t,i)^2 over every parameter but
the head's (the head is re-initialised each task). The anchors (F_t, theta*_t) are written once
per task, at its end (the original wrote them at the end of every `train()` call: twice per
task in online mode). With `keep_every_task` one anchor per past task is kept, as in
Kirkpatrick et al.; without it one slot is overwritten each task, as the original's online
mode does.

The sum over tasks is held as one quadratic per parameter, A (theta - m)^2 + c, with
A = sum_t F_t, m the F-weighted mean of the theta*_t and c a scalar: the same penalty and
gradient as one term per task, in memory that does not grow with the number of tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from continual import planning
from continual.bindings import passed_arguments
from continual.methods.rainbow_memory import schedule
from continual.methods.rainbow_memory.method import RainbowMemory

log = logging.getLogger(__name__)


class QuadraticAnchors(tf.Module):
    """sum_t F_t (theta - theta*_t)^2 over a list of parameters, as A (theta - m)^2 + c."""

    def __init__(self, parameters, name: str = "anchors"):
        super().__init__(name=name)
        with tf.name_scope(name):
            self.importance = [tf.Variable(tf.zeros_like(p), trainable=False) for p in parameters]
            self.mean = [tf.Variable(tf.zeros_like(p), trainable=False) for p in parameters]
        self.offset = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="offset")
        self.tasks = tf.Variable(0, dtype=tf.int64, trainable=False, name="tasks")

    def penalty(self, parameters) -> tf.Tensor:
        """float32 scalar: sum_t sum_i F_t,i (theta_i - theta*_t,i)^2 at `parameters`."""
        total = tf.cast(self.offset, tf.float32)
        for importance, mean, value in zip(self.importance, self.mean, parameters, strict=True):
            total += tf.reduce_sum(importance * tf.square(tf.cast(value, tf.float32) - mean))
        return total

    def add(self, importance, anchor, *, keep_every_task: bool = True) -> None:
        """Write the anchor (F, theta*) of a finished task (host side; lists of arrays).

        Merging a(x - p)^2 + b(x - q)^2 = (a + b)(x - (ap + bq) / (a + b))^2 + ab/(a + b)(p - q)^2.
        """
        offset = float(self.offset.numpy()) if keep_every_task else 0.0
        for slot_a, slot_m, new_f, new_p in zip(self.importance, self.mean, importance, anchor,
                                                strict=True):
            old_a = slot_a.numpy().astype(np.float64) if keep_every_task else 0.0
            old_m = slot_m.numpy().astype(np.float64)
            new_f, new_p = np.asarray(new_f, np.float64), np.asarray(new_p, np.float64)
            total = old_a + new_f
            safe = np.where(total > 0, total, 1.0)
            merged = np.where(total > 0, (old_a * old_m + new_f * new_p) / safe, new_p)
            offset += float(np.sum(np.where(total > 0, old_a * new_f / safe, 0.0)
                                   * np.square(old_m - new_p)))
            slot_a.assign(np.broadcast_to(total, slot_a.shape).astype(np.float32))
            slot_m.assign(merged.astype(np.float32))
        self.offset.assign(offset)
        self.tasks.assign_add(1)


def fisher_diagonal(batch_gradients, total: int) -> list[np.ndarray]:
    """RM's EWC importance: sum over mini-batches of (batch-mean gradient)^2 * batch / N.

    `batch_gradients`: (list of per-parameter gradient arrays, batch size) per mini-batch;
    `total`: N, the rows over all batches (RM's estimate: not per-sample squared gradients).
    """
    fisher = None
    for grads, size in batch_gradients:
        terms = [np.square(np.asarray(g, np.float64)) * size / total for g in grads]
        fisher = terms if fisher is None else [f + t for f, t in zip(fisher, terms, strict=True)]
    if fisher is None:
        raise ValueError("fisher_diagonal: no batches were given (an experience without rows?)")
    return fisher


class RegularizedReplay(RainbowMemory):
    """Base of EWC and RWalk: RM's loop with a reservoir memory and a quadratic penalty.

    Subclasses return the finished task's importance from `task_importance`. RM's lr
    schedule: `<subclass>.sched_name`, `.milestones`, `.gamma` ('cos' by default; see
    RainbowMemory). `batch_size`: the original's loop for its baselines, one shuffled loader
    over stream ∪ memory (RM's batch 16; see RainbowMemory).
    """

    def __init__(self, *, reg_coef: float = 100.0, keep_every_task: bool = True,
                 stream: str = "online", memory_epochs: int = 256, offline_epochs: int = 256,
                 warm_start_factor: float = 0.1, eta_min_factor: float = 0.01,
                 transforms=(), sched_name: str = "cos",
                 milestones: Sequence[int] = schedule.RM_MILESTONES,
                 gamma: float | None = None, batch_size: int = 16):
        owner = type(self).__name__
        self.reg_coef = planning.check_float(f"{owner}.reg_coef", reg_coef, positive=False)
        if self.reg_coef < 0:
            raise ValueError(f"{owner}.reg_coef = {reg_coef} must be >= 0 (0: plain reservoir "
                             "replay); fix the gin binding")
        self.keep_every_task = planning.check_bool(f"{owner}.keep_every_task", keep_every_task)
        super().__init__(**passed_arguments(owner, "RainbowMemory", {
            "stream": stream, "memory_epochs": memory_epochs, "offline_epochs": offline_epochs,
            "warm_start_factor": warm_start_factor, "eta_min_factor": eta_min_factor,
            "transforms": transforms, "batch_size": batch_size,
            **schedule.baseline_schedule(owner, sched_name, milestones, gamma)},
            fixed={"uncertainty_metric": "vr"}))

    def build(self, input_shape, num_classes, buffer, seed) -> None:
        super().build(input_shape, num_classes, buffer, seed)
        self.regularized = list(self.model.backbone.trainable_variables)
        self.anchors = QuadraticAnchors(self.regularized)

    def trackables(self) -> dict:
        return {**super().trackables(), "anchors": self.anchors}

    def penalty(self) -> tf.Tensor:
        return self.reg_coef * self.anchors.penalty(self.regularized)

    def end_experience(self, experience, table) -> None:
        """Write the task's anchor once (RM wrote it at every `train()` call): its importance
        and the parameters now."""
        super().end_experience(experience, table)
        importance = self.task_importance(experience, table)
        self.anchors.add(importance, [v.numpy() for v in self.regularized],
                         keep_every_task=self.keep_every_task)
        self.warn_if_too_stiff()

    def warn_if_too_stiff(self) -> float:
        """lr * 2 * reg_coef * max importance: above 2, plain SGD on the penalty overshoots
        and diverges (the importance scale depends on the model: RM's values suit ResNet-18
        on CIFAR, not every model). Logged as a warning; returned for tests."""
        largest = max(float(np.max(a.numpy())) for a in self.anchors.importance)
        stiffness = self.base_lr * 2.0 * self.reg_coef * largest
        if stiffness > 2.0:
            owner = type(self).__name__
            log.warning("%s: lr * 2 * reg_coef * max importance = %.3g > 2: SGD on the penalty "
                        "will diverge; lower %s.reg_coef (max importance %.3g)", owner,
                        stiffness, owner, largest)
        return stiffness

    def task_importance(self, experience, table) -> list[np.ndarray]:
        raise NotImplementedError
