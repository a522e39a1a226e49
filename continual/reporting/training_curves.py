"""Training curves: a stage stores its per-step scalars; every run that walks the stage shows them.

A training stage appends `{"step": s, "loss": ..., "lr": ..., "images_per_sec": ...}` lines to
`train_scalars.jsonl` in its artefact folder. A stage is trained once and reused by every
experiment that shares it, so the curves are copied from there into each experiment's own
TensorBoard run (`<workdir>/experiments/<name>/tensorboard`) when the experiment walks the
stage, trained or reused, once per run folder. A resumed stage repeats the steps after its
last checkpoint: the last value stored for a step is the one kept.

The run's folder belongs to one configuration (`BOARD_CONFIG` holds its config_id): when the
experiment is rerun with other values, its old curves are removed before the new ones are
written, so one TensorBoard run never mixes two configurations (the old stages keep their
curves in the store, and a run with the old values shows them again).
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

from continual.reporting.jsonl import append_jsonl, read_jsonl
from continual.reporting.tensorboard import TensorBoardLogger

TRAIN_SCALARS = "train_scalars.jsonl"
COPIED = "copied_stages.txt"  # in the run's TensorBoard folder: the stages already shown
BOARD_CONFIG = "config_id.txt"  # in the run's TensorBoard folder: the configuration it shows


class CurveWriter:
    """`writer(step, values)` stores one point of the stage's curves in `folder`."""

    def __init__(self, folder: str | os.PathLike):
        self.path = Path(folder) / TRAIN_SCALARS

    def __call__(self, step: int, values: dict[str, float]) -> None:
        """A value that is not finite (images/s before the warm-up ends, a diverged loss) is
        stored as None: JSON has no NaN, and TensorBoard then shows no point for it."""
        finite = {name: float(value) if math.isfinite(value) else None
                  for name, value in values.items()}
        append_jsonl(self.path, {"step": int(step), **finite})


def read_curve(folder: str | os.PathLike) -> list[tuple[int, dict[str, float]]]:
    """(step, scalars) of a stage folder in step order, the last value of a repeated step."""
    path = Path(folder) / TRAIN_SCALARS
    if not path.exists():
        return []
    points = {}
    for record in read_jsonl(path):
        step = record.pop("step")
        points[step] = record
    return sorted(points.items())


def show_in_run(stage_folder: str | os.PathLike, stage_id: str, board_dir: str | os.PathLike,
                prefix: str = "train/") -> bool:
    """Write the stage's stored curves into the run's TensorBoard folder unless this run has
    them already; True when something was written. The caller holds the run's lock."""
    board_dir = Path(board_dir)
    copied = board_dir / COPIED
    if copied.exists() and stage_id in copied.read_text(encoding="utf-8").split():
        return False
    points = read_curve(stage_folder)
    if not points:
        return False
    with TensorBoardLogger(board_dir) as board:
        for step, values in points:
            board.scalars(step, values, prefix=prefix)
    board_dir.mkdir(parents=True, exist_ok=True)
    with open(copied, "a", encoding="utf-8") as handle:
        handle.write(stage_id + "\n")
    return True


def claim_board(board_dir: str | os.PathLike, config: str) -> bool:
    """Make `board_dir` the TensorBoard run of configuration `config`; True when curves of
    another configuration (or of an unmarked older run) were removed first. The folder is
    renamed aside, then deleted, so a kill leaves no half-removed run. The caller holds the
    run's lock."""
    board_dir = Path(board_dir)
    marker = board_dir / BOARD_CONFIG
    if marker.exists() and marker.read_text(encoding="utf-8").strip() == config:
        return False
    removed = board_dir.exists() and any(board_dir.iterdir())
    if board_dir.exists():
        aside = board_dir.with_name(f".{board_dir.name}.{os.getpid()}.removed")
        board_dir.rename(aside)
        shutil.rmtree(aside)
    board_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(config + "\n", encoding="utf-8")
    return removed
