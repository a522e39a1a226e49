"""Divergence is an error: no stage with a non-finite loss or state is ever marked complete.

Two checks, one message shape. While training, the loop calls `check_finite_outputs` on every
step's outputs, so a run stops at the step that diverged (`diverged at experience E, step S
(loss nan)`). Before any stage is marked complete, `check_finite_state` reads back every
checkpoint the stage wrote and refuses one holding a NaN or infinity, whatever the stage
kind. A float16 step that the dynamic loss scale skipped is not divergence: its weights did not
move, and the loop is told so (`skipped`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import tensorflow as tf

from continual.errors import InputError

ADVICE = ("lower the learning rate (or the loss weights), or check the data for extreme "
          "values; nothing was marked complete")


class DivergedError(InputError):
    """Training produced a non-finite loss or state."""


def check_finite_outputs(outputs: dict, where: str, skipped: bool = False) -> None:
    """Raise DivergedError when a scalar output of a train step is NaN or infinite (unless the
    loss scale skipped the step). `where` says which step, e.g. 'experience 2, step 40'."""
    if skipped:
        return
    for name, value in sorted(outputs.items()):
        number = float(value)
        if not math.isfinite(number):
            raise DivergedError(f"diverged at {where} ({name} {number}); {ADVICE}")


def check_finite_state(folder: Path, stage: str) -> None:
    """Raise DivergedError when a checkpoint under `folder` holds a non-finite value."""
    for index in sorted(Path(folder).rglob("*.index")):
        prefix = str(index)[: -len(".index")]
        reader = tf.train.load_checkpoint(prefix)
        bad = [name for name in sorted(reader.get_variable_to_shape_map())
               if _non_finite(reader.get_tensor(name))]
        if bad:
            raise DivergedError(f"{stage} diverged: its state {prefix} holds non-finite values "
                                f"in {len(bad)} variables (e.g. {bad[0]}); {ADVICE}")


def _non_finite(value) -> bool:
    array = np.asarray(value)
    if array.dtype.name in ("bfloat16", "float16"):
        array = array.astype(np.float32)
    return array.dtype.kind in "fc" and not np.all(np.isfinite(array))
