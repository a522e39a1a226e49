"""The lr of Rainbow Memory's epochs: the original's `--sched_name` (its `select_optimizer`).

RM's `train()` runs epoch 0 at 0.1 lr (the warm start), sets the lr at epoch 1, and from
epoch 2 on steps a torch scheduler once per epoch, so epoch e >= 1 takes the scheduler's value
after e - 1 steps (`epoch_schedule(...)(e - 1)`):
- 'cos' (CIFAR, MNIST): CosineAnnealingWarmRestarts(T_0 1, T_mult 2, eta_min 0.01 lr);
- 'anneal': ExponentialLR(gamma 1 / 1.1): lr * gamma ** (e - 1);
- 'multistep' (ImageNet): MultiStepLR(milestones [30, 60, 80, 90], gamma 0.1): lr for epochs
  1-30, 0.1 lr for 31-60, 0.01 lr for 61-80, 1e-3 lr for 81-90, 1e-4 lr from 91.
The scheduler is made afresh with the optimiser at each task (`--init_opt`), so every task's
offline or memory-only epochs start again at epoch 0.
RM's baselines (GDumb, BiC, iCaRL, EWC, RWalk) take the same three settings as their own
bindings (`GDumb.sched_name`, ...; the original's `--sched_name` applies to every method) and
pass them on with `baseline_schedule`.
"""

from __future__ import annotations

from collections.abc import Sequence

from continual import planning
from continual.optim.schedules import PeriodSchedule, make_schedule

SCHEDULES = ("cos", "anneal", "multistep")
DEFAULT_GAMMA = {"anneal": 1 / 1.1, "multistep": 0.1}  # the original's factors
RM_MILESTONES = (30, 60, 80, 90)


def check_schedule(owner: str, sched_name: str, milestones: Sequence[int],
                   gamma: float | None) -> tuple[str, tuple[int, ...], float | None]:
    """The checked (sched_name, milestones, gamma) bindings of `owner`."""
    planning.check_choice(f"{owner}.sched_name", sched_name, SCHEDULES)
    if isinstance(milestones, str) or not isinstance(milestones, Sequence):
        raise TypeError(f"{owner}.milestones must be a list of epochs, got {milestones!r}; "
                        "fix the gin binding")
    steps = tuple(planning.check_int(f"{owner}.milestones", m, 1) for m in milestones)
    if list(steps) != sorted(set(steps)):
        raise ValueError(f"{owner}.milestones = {list(steps)} must be strictly increasing; "
                         "fix the gin binding")
    if gamma is not None:
        gamma = planning.check_float(f"{owner}.gamma", gamma)
    return sched_name, steps, gamma


def baseline_schedule(owner: str, sched_name: str, milestones: Sequence[int],
                      gamma: float | None) -> dict:
    """A baseline's own schedule bindings (`<owner>.sched_name`, `.milestones`, `.gamma`),
    checked, as keyword arguments for `RainbowMemory.__init__` (passed on through
    `continual.bindings.passed_arguments`, which refuses a differing `RainbowMemory.*` binding)."""
    sched_name, steps, gamma = check_schedule(owner, sched_name, milestones, gamma)
    return {"sched_name": sched_name, "milestones": steps, "gamma": gamma}


def epoch_schedule(sched_name: str, base_lr: float, *, eta_min_factor: float,
                   milestones: Sequence[int], gamma: float | None) -> PeriodSchedule:
    """The torch scheduler's lr after p steps (p = epoch - 1); `gamma` None takes the
    original's factor of `sched_name`; `eta_min_factor` is the cosine's floor / base lr."""
    if sched_name == "cos":
        return make_schedule("cosine_warm_restarts", base_lr=base_lr, t_0=1, t_mult=2,
                             eta_min=eta_min_factor * base_lr)
    factor = DEFAULT_GAMMA[sched_name] if gamma is None else gamma
    if sched_name == "anneal":
        return make_schedule("exponential", base_lr=base_lr, gamma=factor)
    return make_schedule("multistep", base_lr=base_lr, milestones=milestones, gamma=factor)
