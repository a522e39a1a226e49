"""GDumb (Prabhu et al., ECCV 2020) as a baseline of RM (RM's `methods/gdumb.py`).

The stream only fills the memory, through GDumb's greedy class-balanced sampler
(`EpisodicBuffer.policy = 'greedy_class_balanced'`); nothing is trained on it. At the end of
each task (each evaluation point) the whole model is re-initialised (the same initial weights
each time, optimiser state cleared) and trained from scratch on the memory alone for
`memory_epochs` epochs under RM's / GDumb's lr schedule (warm-up epoch at 0.1 lr, then lr, then
warm-restart cosine). No data augmentation by default (RM's baseline rows ran without it,
clovaai/rainbow-memory issue #14).
Fix: RM's shipped GDumb chose a class-balanced random memory at the task end; binding
`EpisodicBuffer.policy = 'random_subset'` approximates that instead of the greedy sampler.
Deviation: GDumb's gradient clipping (norm 10) is not applied.
"""

from __future__ import annotations

from collections.abc import Sequence

import gin

from continual.bindings import passed_arguments
from continual.methods.base import Phase, StreamBatch
from continual.methods.rainbow_memory import schedule
from continual.methods.rainbow_memory.method import RainbowMemory
from continual.replay.buffers.policies.boundary import BoundarySelection

STREAM_POLICIES = ("greedy_class_balanced", "class_balanced_reservoir", "reservoir")


@gin.configurable
class GDumb(RainbowMemory):
    """Args: memory_epochs (GDumb / RM CIFAR: 256), warm_start_factor, eta_min_factor,
    transforms (none by default: RM's baselines ran without augmentation), sched_name,
    milestones, gamma (RM's lr schedule, 'cos' by default; see RainbowMemory), batch_size
    (the memory epochs' batch: RM's 16)."""

    name = "gdumb"
    data_parallel = True

    def __init__(self, *, memory_epochs: int = 256, warm_start_factor: float = 0.1,
                 eta_min_factor: float = 0.01, transforms=(), sched_name: str = "cos",
                 milestones: Sequence[int] = schedule.RM_MILESTONES,
                 gamma: float | None = None, batch_size: int = 16):
        owner = type(self).__name__
        own = {"memory_epochs": memory_epochs, "warm_start_factor": warm_start_factor,
               "eta_min_factor": eta_min_factor, "transforms": transforms,
               "batch_size": batch_size,
               **schedule.baseline_schedule(owner, sched_name, milestones, gamma)}
        super().__init__(**passed_arguments(owner, "RainbowMemory", own, fixed={
            "stream": "online", "offline_epochs": 1, "uncertainty_metric": "vr"}))

    def build(self, input_shape, num_classes, buffer, seed) -> None:
        super().build(input_shape, num_classes, buffer, seed)
        self._initial = [w.numpy() for w in self.model.weights]

    def _check_policy(self, buffer) -> None:
        policy = buffer.policy
        if not isinstance(policy, BoundarySelection) and policy.name not in STREAM_POLICIES:
            raise ValueError(f"GDumb: EpisodicBuffer.policy = {policy.name!r} is not a memory "
                             "that GDumb can fill; use 'greedy_class_balanced' (GDumb), "
                             f"another of {STREAM_POLICIES} or a task-end manager "
                             "('random_subset': RM's shipped GDumb)")

    def phases(self, experience) -> list[Phase]:
        """The stream fills the memory (no training); then memory-only epochs at
        `batch_size`, the last partial batch dropped (RM's GDumb.train)."""
        return [Phase("online"),
                Phase("memory", self.memory_epochs, self.batch_size, drop_last=True)]

    def train_step(self, batch: StreamBatch, step) -> dict:
        if batch.phase != "memory":
            return {}          # the stream only fills the memory (after_step)
        return super().train_step(batch, step)

    def end_phase(self, phase: Phase, experience, table) -> None:
        """After the stream pass: memory update (task-end managers), then a fresh model."""
        super().end_phase(phase, experience, table)
        if phase.kind == "memory":
            return
        for weight, initial in zip(self.model.weights, self._initial, strict=True):
            weight.assign(initial)
        self.reset_optimizer()
