"""What a phase of the experience loop shows while it trains: a tqdm bar (experience, phase,
epoch, loss, lr, images/s, ETA) and, every `TrainingCurves.every_steps` global steps, the
training scalars that go to the run's TensorBoard.

The interval is a reporting choice: `TrainingCurves` is left out of the stage keys, so changing
it retrains nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import gin
import keras
from tqdm import tqdm

from continual.bindings import check_int

log = logging.getLogger(__name__)
REFRESH_SECONDS = 1.0


@gin.configurable
@dataclasses.dataclass(frozen=True)
class TrainingCurves:
    """How often (in global train steps) a stream stage records its training scalars and
    refreshes the numbers on its progress bar (gin: `TrainingCurves.every_steps`)."""

    every_steps: int = 20

    def __post_init__(self):
        check_int("TrainingCurves.every_steps", self.every_steps, minimum=1)


def learning_rate(method) -> float | None:
    """The current learning rate of the method's first Keras optimiser (None without one)."""
    for trackable in method.trackables().values():
        if isinstance(trackable, keras.optimizers.Optimizer):
            return float(keras.ops.convert_to_numpy(trackable.learning_rate))  # mirrored too
    return None


def scalar_outputs(method, outputs: dict) -> dict[str, float]:
    """A train step's outputs as floats; each must be a scalar (the StreamMethod contract)."""
    values = {}
    for name, value in outputs.items():
        shape = getattr(value, "shape", ())
        if len(shape) != 0:
            raise ValueError(f"{type(method).__name__}.train_step returned {name!r} with shape "
                             f"{tuple(shape)}; a train step returns scalars only (reduce it, "
                             "e.g. with tf.reduce_mean, or keep it out of the returned dict)")
        values[name] = float(value)
    return values


class PhaseProgress:
    """The bar of one phase; `step()` after every train step returns the scalars to record
    (every `every_steps` global steps) or None."""

    def __init__(self, method, experience_index: int, phase, phase_index: int,
                 num_phases: int, total: int, done: int, every_steps: int):
        self.method, self.phase, self.every_steps = method, phase, every_steps
        self.experience_index = experience_index
        self.last: dict[str, float] = {}
        self.shown: float | None = None  # when the bar's numbers were last refreshed
        self.bar = tqdm(total=total, initial=done, unit="batch", leave=False,
                        desc=f"exp {experience_index} phase {phase_index + 1}/{num_phases} "
                             f"{phase.kind}")

    def step(self, global_step: int, epoch: int, outputs: dict, state,
             last: bool = False) -> dict | None:
        """Advance the bar; its numbers are refreshed on the phase's first step, every
        `every_steps` global steps and on the phase's `last` step (then the scalars are
        returned to be recorded, so a phase shorter than `every_steps` still leaves a point)
        and at least every `REFRESH_SECONDS`."""
        self.bar.update(1)
        record = global_step % self.every_steps == 0 or last
        now = time.monotonic()
        if not (record or self.shown is None or now - self.shown >= REFRESH_SECONDS):
            return None
        self.shown = now
        values = scalar_outputs(self.method, outputs)
        lr = learning_rate(self.method)
        seconds = float(state.train_seconds)
        speed = float(state.images_seen) / seconds if seconds > 0 else None
        values.update({k: v for k, v in (("lr", lr), ("images_per_sec", speed)) if v is not None})
        self.last = values
        self.bar.set_postfix(self._postfix(epoch, values))
        return values if record else None

    def _postfix(self, epoch: int, values: dict) -> dict:
        loss = values.get("loss", next(iter(values.values()), None))
        postfix = {"epoch": f"{epoch + 1}/{self.phase.epochs}"}
        for name, value, form in (("loss", loss, "{:.4g}"), ("lr", values.get("lr"), "{:.3g}"),
                                  ("img/s", values.get("images_per_sec"), "{:.1f}")):
            if value is not None:
                postfix[name] = form.format(value)
        return postfix

    def close(self) -> None:
        self.bar.close()
        if self.last:
            log.info("experience %d, %s phase done: %s", self.experience_index, self.phase.kind,
                     ", ".join(f"{k} {v:.4g}" for k, v in sorted(self.last.items())))
