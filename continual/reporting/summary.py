"""The suite's results: summary.md, summary.csv and two plots, rebuilt from metrics records."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from continual.data.atomic import write_text_atomic
from continual.reporting.plots import plot_miou_by_step, plot_per_class_iou
from continual.reporting.tables import summary_csv, summary_markdown, summary_rows


def write_summary(out_dir: str | os.PathLike,
                  experiments: Mapping[str, Sequence[dict]]) -> dict[str, Path]:
    """Write the suite summary under `out_dir` from each experiment's metrics.jsonl records.

    `experiments` maps an experiment name to its records (see continual.reporting.tables for
    the keys read). Every file is replaced atomically, so a summary is always whole. Returns
    the paths under the keys 'summary_md', 'summary_csv', 'miou_by_step', 'per_class_iou'.
    """
    out_dir = Path(out_dir)
    rows = summary_rows(experiments)
    return {
        "summary_md": write_text_atomic(out_dir / "summary.md", summary_markdown(rows)),
        "summary_csv": write_text_atomic(out_dir / "summary.csv", summary_csv(rows)),
        "miou_by_step": plot_miou_by_step(rows, out_dir / "miou_by_step.png"),
        "per_class_iou": plot_per_class_iou(experiments, out_dir / "per_class_iou.png"),
    }
