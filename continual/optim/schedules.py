"""Learning-rate schedules of the originals, as Keras schedules of `optimizer.iterations`.

Each schedule counts *periods*: with `steps_per_epoch = 1` (the default) a period is one step,
and the lr changes every step; with `steps_per_epoch = N` a period is an epoch of N steps, the lr
is constant within it, and milestones / warm-up / totals / T_0 count epochs, as torch schedulers
stepped once per epoch (RM's warm restarts, Kaizen's per-epoch warm-up cosine).

Formulas (e = the period index, an integer):
- `MultiStepDecay`: base * gamma ** (number of milestones <= e)  (torch MultiStepLR).
- `ExponentialDecay`: base * gamma ** e  (torch ExponentialLR).
- `CosineDecay`: final + (base - final) * (1 + cos(pi * min(e, total) / total)) / 2; torch's
  CosineAnnealingLR formula, held at `final` after `total` (torch would rise again).
- `WarmupCosine`: pl_bolts' LinearWarmupCosineAnnealingLR (solo-learn / Kaizen): for e < W,
  start + e * (base - start) / max(1, W - 1) (base is reached at e = W - 1); then
  final + (base - final) * (1 + cos(pi * (e - W) / (total - W))) / 2, held at `final` after.
- `CosineWarmRestarts`: torch CosineAnnealingWarmRestarts(T_0, T_mult, eta_min) stepped once per
  period; optional Rainbow Memory warm start (see the class).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import gin
import keras
from keras import ops

_SCHEDULES: dict[str, type] = {}


def _registered(name: str):
    def register(cls):
        _SCHEDULES[name] = cls
        return keras.saving.register_keras_serializable(package="continual")(cls)
    return register


class PeriodSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Base: turns the optimiser step into a period index and evaluates `value_at(period)`."""

    def __init__(self, base_lr: float, steps_per_epoch: int = 1):
        _require(steps_per_epoch >= 1, "steps_per_epoch", steps_per_epoch, "an integer >= 1")
        _require(base_lr >= 0, "base_lr", base_lr, ">= 0")
        self.base_lr = float(base_lr)
        self.steps_per_epoch = int(steps_per_epoch)

    def __call__(self, step):
        step = ops.cast(step, "int64")
        period = ops.cast(ops.floor_divide(step, self.steps_per_epoch), "float64")
        return ops.cast(self.value_at(period), "float32")

    def value_at(self, period):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"base_lr": self.base_lr, "steps_per_epoch": self.steps_per_epoch}


def _cosine(base: float, final: float, progress):
    """final + (base - final) * (1 + cos(pi * progress)) / 2, progress clipped to [0, 1]."""
    progress = ops.clip(progress, 0.0, 1.0)
    return final + (base - final) * 0.5 * (1.0 + ops.cos(math.pi * progress))


@_registered("multistep")
class MultiStepDecay(PeriodSchedule):
    """torch MultiStepLR: lr multiplied by `gamma` at each milestone period."""

    def __init__(self, base_lr: float, milestones: Sequence[int], gamma: float = 0.1,
                 steps_per_epoch: int = 1):
        super().__init__(base_lr, steps_per_epoch)
        self.milestones = tuple(int(m) for m in milestones)
        _require(list(self.milestones) == sorted(self.milestones), "milestones", milestones,
                 "increasing")
        self.gamma = float(gamma)

    def value_at(self, period):
        passed = sum((ops.cast(period >= m, "float64") for m in self.milestones),
                     ops.zeros_like(period))
        return self.base_lr * ops.power(ops.cast(self.gamma, "float64"), passed)

    def get_config(self) -> dict:
        return {**super().get_config(), "milestones": list(self.milestones), "gamma": self.gamma}


@_registered("exponential")
class ExponentialDecay(PeriodSchedule):
    """torch ExponentialLR: lr multiplied by `gamma` every period (RM's 'anneal': 1 / 1.1)."""

    def __init__(self, base_lr: float, gamma: float, steps_per_epoch: int = 1):
        super().__init__(base_lr, steps_per_epoch)
        _require(gamma > 0, "gamma", gamma, "> 0")
        self.gamma = float(gamma)

    def value_at(self, period):
        return self.base_lr * ops.power(ops.cast(self.gamma, "float64"), period)

    def get_config(self) -> dict:
        return {**super().get_config(), "gamma": self.gamma}


@_registered("cosine")
class CosineDecay(PeriodSchedule):
    """Cosine from `base_lr` to `final_lr` over `total` periods, then constant."""

    def __init__(self, base_lr: float, total: int, final_lr: float = 0.0,
                 steps_per_epoch: int = 1):
        super().__init__(base_lr, steps_per_epoch)
        _require(total >= 1, "total", total, "an integer >= 1")
        self.total = int(total)
        self.final_lr = float(final_lr)

    def value_at(self, period):
        return _cosine(self.base_lr, self.final_lr, period / self.total)

    def get_config(self) -> dict:
        return {**super().get_config(), "total": self.total, "final_lr": self.final_lr}


@_registered("warmup_cosine")
class WarmupCosine(PeriodSchedule):
    """Linear warm-up from `warmup_start_lr`, then cosine to `final_lr` (pl_bolts' form).

    Kaizen: base 1.0, warmup 10, total 500 epochs, start 0.003, final 0, steps_per_epoch = the
    number of steps of an epoch. `warmup = 0` starts the cosine at period 0 (pl_bolts would
    still run period 0 at `warmup_start_lr`).
    """

    def __init__(self, base_lr: float, warmup: int, total: int,
                 warmup_start_lr: float = 0.003, final_lr: float = 0.0,
                 steps_per_epoch: int = 1):
        super().__init__(base_lr, steps_per_epoch)
        _require(0 <= warmup < total, "warmup", warmup, f"in [0, total={total})")
        self.warmup = int(warmup)
        self.total = int(total)
        self.warmup_start_lr = float(warmup_start_lr)
        self.final_lr = float(final_lr)

    def value_at(self, period):
        slope = (self.base_lr - self.warmup_start_lr) / max(1, self.warmup - 1)
        warming = self.warmup_start_lr + period * slope
        cosine = _cosine(self.base_lr, self.final_lr,
                         (period - self.warmup) / (self.total - self.warmup))
        return ops.where(period < self.warmup, warming, cosine)

    def get_config(self) -> dict:
        return {**super().get_config(), "warmup": self.warmup, "total": self.total,
                "warmup_start_lr": self.warmup_start_lr, "final_lr": self.final_lr}


@_registered("cosine_warm_restarts")
class CosineWarmRestarts(PeriodSchedule):
    """torch CosineAnnealingWarmRestarts(T_0=t_0, T_mult=t_mult, eta_min) per period.

    Cycle i lasts t_0 * t_mult**i periods; within it lr = eta_min + (base - eta_min) *
    (1 + cos(pi * t_cur / t_i)) / 2. `warm_start_factor` adds Rainbow Memory's warm start (its
    `methods/finetune.py`): period 0 runs at factor * base and the restarts begin at period 1 (so
    period 1 is at base, and period p >= 1 takes the restart value of p - 1). RM: t_0 1, t_mult 2,
    eta_min 0.01 * base, factor 0.1, steps_per_epoch = steps of an epoch.
    """

    def __init__(self, base_lr: float, t_0: int, t_mult: int = 1, eta_min: float = 0.0,
                 warm_start_factor: float | None = None, steps_per_epoch: int = 1):
        super().__init__(base_lr, steps_per_epoch)
        _require(t_0 >= 1, "t_0", t_0, "an integer >= 1")
        _require(t_mult >= 1, "t_mult", t_mult, "an integer >= 1")
        self.t_0, self.t_mult = int(t_0), int(t_mult)
        self.eta_min = float(eta_min)
        self.warm_start_factor = None if warm_start_factor is None else float(warm_start_factor)

    def value_at(self, period):
        if self.warm_start_factor is None:
            return self._restart_value(period)
        restarted = self._restart_value(ops.maximum(period - 1.0, 0.0))
        return ops.where(period < 1, self.warm_start_factor * self.base_lr, restarted)

    def _restart_value(self, period):
        t_cur, t_i = self._position_in_cycle(period)
        return self.eta_min + (self.base_lr - self.eta_min) * 0.5 * (
            1.0 + ops.cos(math.pi * t_cur / t_i))

    def _position_in_cycle(self, period):
        if self.t_mult == 1:
            return ops.mod(period, float(self.t_0)), ops.cast(self.t_0, "float64")
        mult = float(self.t_mult)
        cycle = ops.floor(ops.log(period / self.t_0 * (mult - 1) + 1) / math.log(mult))
        # Correct a float rounding of the log by one cycle either way (integer periods).
        cycle = ops.where(self._cycle_start(cycle + 1) <= period, cycle + 1, cycle)
        cycle = ops.where(self._cycle_start(cycle) > period, cycle - 1, cycle)
        return period - self._cycle_start(cycle), self.t_0 * ops.power(mult, cycle)

    def _cycle_start(self, cycle):
        mult = float(self.t_mult)
        return self.t_0 * (ops.power(mult, cycle) - 1) / (mult - 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "t_0": self.t_0, "t_mult": self.t_mult,
                "eta_min": self.eta_min, "warm_start_factor": self.warm_start_factor}


@gin.configurable
def make_schedule(name: str = "cosine", **kwargs) -> PeriodSchedule | float:
    """Build a schedule by name ('constant' returns `base_lr` itself, a float).

    kwargs are the class's arguments, e.g. `make_schedule('multistep', base_lr=0.05,
    milestones=[30, 60, 80, 90], steps_per_epoch=391)`.
    """
    if name == "constant":
        if set(kwargs) != {"base_lr"}:
            raise ValueError(f"make_schedule('constant') takes only base_lr, got {sorted(kwargs)}.")
        return float(kwargs["base_lr"])
    if name not in _SCHEDULES:
        raise ValueError(f"make_schedule.name = {name!r} is not a schedule; registered: "
                         f"{sorted(['constant', *_SCHEDULES])}.")
    return _SCHEDULES[name](**kwargs)


def _require(ok: bool, argument: str, value, expected: str) -> None:
    if not ok:
        raise ValueError(f"schedule argument {argument} must be {expected}, got {value!r}.")
