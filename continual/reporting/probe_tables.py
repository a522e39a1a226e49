"""Linear-probe columns of the stream summary: probe accuracy over the stream, and forgetting
per split.

Continuous SSL (Purushwalkam et al.) reports the probe's top-1 after 25 / 50 / 75 / 100 % of
the stream, and, for the sequential class-split stream D0..Dk, how much of what was learnt on
each split is lost by the end. Records come from `StreamPlan.metrics_record` with
`probe_accuracy` and `stream_fraction` (the share of the stream's train records fed before
the probe). A column whose fraction no probe stands at (e.g. 25 % of a 3-experience stream)
stays blank rather than borrowing a neighbour's value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from continual.metrics.accuracy_matrix import last_record_per_experience, task_forgetting
from continual.reporting.tables import markdown_table, percent

PROGRESS = (25, 50, 75, 100)
PROGRESS_COLUMNS = tuple(f"probe_at_{p}" for p in PROGRESS)
# Experience boundaries rarely fall exactly on a quarter when record counts do not divide.
FRACTION_TOLERANCE = 0.005


def probe_progress(records: Sequence[dict]) -> dict[str, float | None]:
    """`probe_at_25` .. `probe_at_100`: the probe top-1 of the evaluation standing at that
    share of the stream (within FRACTION_TOLERANCE), None where there is none."""
    found: dict[str, float | None] = dict.fromkeys(PROGRESS_COLUMNS)
    for record in last_record_per_experience(records):
        fraction, accuracy = record.get("stream_fraction"), record.get("probe_accuracy")
        if fraction is None or accuracy is None:
            continue
        for percent_done, column in zip(PROGRESS, PROGRESS_COLUMNS, strict=True):
            if abs(fraction - percent_done / 100) <= FRACTION_TOLERANCE:
                found[column] = accuracy
    return found


def split_forgetting(records: Sequence[dict]) -> list[float]:
    """Forgetting of each split D_j but the last: best probe accuracy on D_j's test classes
    after any experience before the last, minus the final one (Chaudhry's f_j on the probes'
    accuracy matrix). Empty with fewer than two evaluations after training."""
    rows = [r["accuracy_row"] for r in last_record_per_experience(records)
            if r["experience"] >= 0 and r.get("accuracy_row")]
    if len(rows) < 2 or any(v is None for row in rows for v in row):
        return []
    return task_forgetting(rows)


def split_forgetting_markdown(rows: Sequence[Mapping]) -> str:
    """A summary.md section from the summary rows' `split_forgetting` lists: per probed
    experiment the forgetting of each split, in percent; empty when no row has one."""
    table = [[row["experiment"], " / ".join(percent(v) for v in row["split_forgetting"])]
             for row in rows if row.get("split_forgetting")]
    if not table:
        return ""
    return ("\n## Forgetting per split\n\nLinear-probe accuracy on each split's test classes: "
            "best after any earlier experience minus final, splits D0, D1, ... in stream "
            "order (the last split cannot be forgotten yet), in percent.\n\n"
            + markdown_table(("experiment", "forgetting per split"), table))
