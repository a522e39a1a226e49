"""Summary plots: mIoU after each step per test/setup, and a final per-class IoU heat map.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no global backend state) and
saved atomically.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from continual.data.atomic import atomic_target
from continual.data.classes import VOC_CLASSES
from continual.reporting.tables import last_record_per_step


def _save(figure: Figure, path: str | os.PathLike) -> Path:
    FigureCanvasAgg(figure)
    with atomic_target(path) as tmp:
        figure.savefig(tmp, dpi=100, bbox_inches="tight")
    return Path(path)


def _curves_by_group(rows: Sequence[dict]) -> dict[str, dict[str, dict]]:
    """'test / setup' -> line label -> {experiment, steps, values (mIoU with bg, percent)}.

    A line is labelled by its method; when two experiments of a group share a method, the
    second is labelled by its experiment name instead.
    """
    groups: dict[str, dict[str, dict]] = {}
    for row in rows:
        if row["miou_all_bg"] is None:
            continue
        title = " / ".join(part for part in (row["test"], row["setup"]) if part) or "all"
        lines = groups.setdefault(title, {})
        label = row["method"] or row["experiment"]
        if label in lines and lines[label]["experiment"] != row["experiment"]:
            label = row["experiment"]
        line = lines.setdefault(label, {"experiment": row["experiment"], "steps": [],
                                        "values": []})
        line["steps"].append(row["step"])
        line["values"].append(100.0 * row["miou_all_bg"])
    return groups


def plot_miou_by_step(rows: Sequence[dict], path: str | os.PathLike) -> Path:
    """One subplot per test/setup: mIoU (with background) after each step, a line per method."""
    groups = _curves_by_group(rows)
    columns = min(3, max(1, len(groups)))
    nrows = max(1, math.ceil(len(groups) / columns))
    figure = Figure(figsize=(4.5 * columns, 3.2 * nrows))
    if not groups:
        figure.text(0.5, 0.5, "no evaluations recorded yet", ha="center", va="center")
    for index, (title, lines) in enumerate(groups.items()):
        axes = figure.add_subplot(nrows, columns, index + 1)
        for label, line in lines.items():
            axes.plot(line["steps"], line["values"], marker="o", label=label)
        axes.set_title(title)
        axes.set_xlabel("step")
        axes.set_ylabel("mIoU with bg (%)")
        axes.set_ylim(0, 100)
        axes.set_xticks(sorted({step for line in lines.values() for step in line["steps"]}))
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    figure.tight_layout()
    return _save(figure, path)


def final_iou_matrix(experiments: Mapping[str, Sequence[dict]]) -> tuple[list[str], np.ndarray]:
    """Experiment names and their final-step per-class IoU in percent (NaN where undefined)."""
    names, rows = [], []
    for name, records in experiments.items():
        final = last_record_per_step(name, records)
        if not final:
            continue
        iou = final[-1].get("iou") or [None] * len(VOC_CLASSES)
        names.append(name)
        rows.append([np.nan if v is None else 100.0 * v for v in iou])
    width = max((len(r) for r in rows), default=len(VOC_CLASSES))
    matrix = np.full((len(rows), width), np.nan)
    for i, values in enumerate(rows):
        matrix[i, : len(values)] = values
    return names, matrix


def plot_per_class_iou(experiments: Mapping[str, Sequence[dict]],
                       path: str | os.PathLike) -> Path:
    """Heat map: one row per experiment, one column per class, final-step IoU (grey = none)."""
    names, matrix = final_iou_matrix(experiments)
    width = matrix.shape[1]
    labels = list(VOC_CLASSES) if width == len(VOC_CLASSES) else [str(c) for c in range(width)]
    figure = Figure(figsize=(1.0 + 0.45 * width, 1.6 + 0.35 * max(1, len(names))))
    axes = figure.add_subplot(1, 1, 1)
    axes.set_title("IoU (%) per class after the last step")
    if not names:
        axes.set_axis_off()
        axes.text(0.5, 0.5, "no evaluations recorded yet", ha="center", va="center")
        return _save(figure, path)
    image = axes.imshow(np.ma.masked_invalid(matrix), cmap=_viridis_with_grey(), vmin=0,
                        vmax=100, aspect="auto")
    axes.set_xticks(range(width), labels, rotation=60, ha="right", fontsize="small")
    axes.set_yticks(range(len(names)), names, fontsize="small")
    if len(names) <= 25:  # readable cell labels only for small tables
        for (i, j), value in np.ndenumerate(matrix):
            if not np.isnan(value):
                axes.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=6,
                          color="white" if value < 50 else "black")
    figure.colorbar(image, ax=axes, fraction=0.03)
    figure.tight_layout()
    return _save(figure, path)


def _viridis_with_grey():
    return colormaps["viridis"].with_extremes(bad="lightgrey")
