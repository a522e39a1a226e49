"""Linear-probe columns of the stream summary: probe accuracy over the stream, and forgetting
per split.

Continuous SSL (Purushwalkam et al.) reports the probe's top-1 after 25 / 50 / 75 / 100 % of
the stream, and, for the sequential class-split stream D0..Dk, how much of what was learnt on
each split is lost after each later split (D0 at three points, D1 at two, D2 at one).
Records come from `StreamPlan.metrics_record` with `probe_accuracy` and `stream_fraction` (the
share of the stream's train records fed before the probe). A column whose fraction no probe
stands at (e.g. 25 % of a 3-experience stream) stays blank rather than borrowing a neighbour's
value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from continual.metrics.accuracy_matrix import forgetting_over_time, last_record_per_experience
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


def split_forgetting(records: Sequence[dict]) -> list[list[float]]:
    """Forgetting of each split D_j but the last over the stream: the probe's accuracy on
    D_j's test classes after D_j minus after each later split (F_j(t) = Acc_j(end of D_j) -
    Acc_j(t); the original's code has no formula for it).
    Empty with fewer than two evaluations after training."""
    rows = [r["accuracy_row"] for r in last_record_per_experience(records)
            if r["experience"] >= 0 and r.get("accuracy_row")]
    if len(rows) < 2 or any(v is None for row in rows for v in row):
        return []
    return forgetting_over_time(rows)


def split_forgetting_markdown(rows: Sequence[Mapping]) -> str:
    """A summary.md section from the summary rows' `split_forgetting` lists: per probed
    experiment the forgetting of each split after each later split, in percent; empty when no
    row has one."""
    table = [[row["experiment"], " / ".join(", ".join(percent(v) for v in split)
                                            for split in row["split_forgetting"])]
             for row in rows if row.get("split_forgetting")]
    if not table:
        return ""
    return ("\n## Forgetting per split\n\nLinear-probe accuracy on each split's test classes "
            "after that split minus after each later split (the paper's forgetting over the "
            "stream): D0 after D1, D2, ... / D1 after D2, ... in stream order, in percent. "
            "The `forgetting` column is Chaudhry's (best earlier minus final, averaged).\n\n"
            + markdown_table(("experiment", "forgetting per split over the stream"), table))
