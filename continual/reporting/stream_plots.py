"""Stream plots: the accuracy matrix R of each experiment, and accuracy after each experience.

Both are drawn from `stream_tables.experience_rows` (the last record per experience), on
matplotlib's Agg canvas directly (no pyplot, no global backend state), and saved atomically.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from continual.data.atomic import atomic_target

_EMPTY = "no evaluations recorded yet"


def _save(figure: Figure, path: str | os.PathLike) -> Path:
    FigureCanvasAgg(figure)
    with atomic_target(path) as tmp:
        figure.savefig(tmp, dpi=100, bbox_inches="tight")
    return Path(path)


def accuracy_matrices(evaluations: Sequence[dict]) -> dict[str, np.ndarray]:
    """Experiment -> R in percent [n_evaluations, T], NaN where an entry is missing.

    The random-initialisation evaluation (experience -1) is not a row of R.
    """
    rows: dict[str, list[list[float]]] = {}
    for row in evaluations:
        if row["experience"] >= 0:
            rows.setdefault(row["experiment"], []).append(
                [np.nan if v is None else 100.0 * v for v in row["accuracy_row"]])
    return {name: np.array(values, dtype=np.float64) for name, values in rows.items()}


def _draw_matrix(axes, name: str, matrix: np.ndarray, image_kwargs: dict):
    image = axes.imshow(np.ma.masked_invalid(matrix), **image_kwargs)
    n, num_tasks = matrix.shape
    axes.set_title(name, fontsize="small")
    axes.set_xlabel("test data of experience j")
    axes.set_ylabel("after experience i")
    axes.set_xticks(range(num_tasks))
    axes.set_yticks(range(n))
    if num_tasks <= 20:  # readable cell labels only for small matrices
        digits = 1 if num_tasks <= 8 else 0
        for (i, j), value in np.ndenumerate(matrix):
            if not np.isnan(value):
                axes.text(j, i, f"{value:.{digits}f}", ha="center", va="center", fontsize=7,
                          color="white" if value < 50 else "black")
    return image


def plot_accuracy_matrices(evaluations: Sequence[dict], path: str | os.PathLike) -> Path:
    """One heat map per experiment: R[i, j] in percent, cells annotated (grey = missing)."""
    matrices = accuracy_matrices(evaluations)
    columns = min(3, max(1, len(matrices)))
    nrows = max(1, math.ceil(len(matrices) / columns))
    figure = Figure(figsize=(4.2 * columns, 3.6 * nrows))
    if not matrices:
        figure.text(0.5, 0.5, _EMPTY, ha="center", va="center")
        return _save(figure, path)
    image_kwargs = {"cmap": colormaps["viridis"].with_extremes(bad="lightgrey"), "vmin": 0,
                    "vmax": 100, "aspect": "auto"}
    for index, (name, matrix) in enumerate(matrices.items()):
        axes = figure.add_subplot(nrows, columns, index + 1)
        image = _draw_matrix(axes, name, matrix, image_kwargs)
    figure.colorbar(image, ax=figure.axes, fraction=0.03, label="accuracy (%)")
    return _save(figure, path)


def plot_accuracy_by_experience(evaluations: Sequence[dict], path: str | os.PathLike) -> Path:
    """Overall accuracy (percent) after each experience, one line per experiment."""
    curves: dict[str, tuple[list[int], list[float]]] = {}
    for row in evaluations:
        if row["experience"] >= 0 and row["accuracy"] is not None:
            steps, values = curves.setdefault(row["experiment"], ([], []))
            steps.append(row["experience"])
            values.append(100.0 * row["accuracy"])
    figure = Figure(figsize=(6.0, 4.0))
    axes = figure.add_subplot(1, 1, 1)
    if not curves:
        axes.set_axis_off()
        axes.text(0.5, 0.5, _EMPTY, ha="center", va="center")
        return _save(figure, path)
    for name, (steps, values) in curves.items():
        axes.plot(steps, values, marker="o", label=name)
    axes.set_xlabel("experience")
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(0, 100)
    axes.set_xticks(sorted({s for steps, _ in curves.values() for s in steps}))
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    return _save(figure, path)
