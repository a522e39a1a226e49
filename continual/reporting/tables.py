"""Results tables built from the experiments' metrics.jsonl records (markdown and CSV).

Keys read from each record (all optional except `step`): `method`, `test`, `setup`, `step`,
`classes` or `step_classes` (the class ids the step adds), `miou_old`, `miou_new`, `miou_all`,
`miou_all_bg` (fractions in [0, 1] or null) and `images_per_sec`. The experiment name is the
key of the `experiments` mapping. When a step was evaluated more than once (a resumed run),
its last record counts. A missing or null value shows as a blank cell.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping, Sequence

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ("experiment", "method", "test", "setup", "step", "classes",
                   "miou_old", "miou_new", "miou_all", "miou_all_bg", "delta_joint",
                   "delta_joint_original", "images_per_sec")
MIOU_COLUMNS = ("miou_old", "miou_new", "miou_all", "miou_all_bg", "delta_joint",
                "delta_joint_original")
PERCENT_SUFFIX = "_pct"  # a CSV column in percent (summary.md's unit)
# The original's joint mIoU with background (`run_resultssummary.py` subtracts it from every
# result), kept so our numbers compare with the paper's Δ column as well as with our own joint.
ORIGINAL_JOINT_MIOU_BG = 0.710


def class_ranges(classes: Sequence[int] | str | None) -> str:
    """Compact class list: [16, 17, 18, 19, 20] -> '16-20', [1, 3, 4] -> '1,3-4'."""
    if not classes:
        return ""
    if isinstance(classes, str):  # already formatted
        return classes
    ids = sorted({int(c) for c in classes})
    runs: list[list[int]] = [[ids[0], ids[0]]]
    for c in ids[1:]:
        if c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def last_record_per_step(experiment: str, records: Sequence[dict]) -> list[dict]:
    """The last record of each step, ordered by step; a record without `step` is an error."""
    by_step: dict[int, dict] = {}
    for index, record in enumerate(records):
        if record.get("step") is None:
            raise ValueError(f"experiment {experiment!r}: metrics record {index} has no 'step' "
                             f"key; every evaluation record must name its step")
        by_step[int(record["step"])] = record
    return [by_step[step] for step in sorted(by_step)]


def summary_rows(experiments: Mapping[str, Sequence[dict]]) -> list[dict]:
    """One row per experiment and evaluated step, with the columns of SUMMARY_COLUMNS.

    Experiments keep the mapping's order; mIoU values stay raw fractions (None if missing).
    """
    rows = []
    for name, records in experiments.items():
        for record in last_record_per_step(name, records):
            row = {key: record.get(key) for key in SUMMARY_COLUMNS}
            classes = record.get("classes", record.get("step_classes"))
            row.update(experiment=name, step=int(record["step"]), classes=class_ranges(classes))
            rows.append(row)
    return with_delta_joint(rows)


def with_delta_joint(rows: list[dict]) -> list[dict]:
    """`delta_joint` = mIoU with background minus the suite's own joint run (left empty when
    the suite holds no joint experiment); `delta_joint_original` = the same minus the
    original's joint, 71.0 (the paper's Δ column)."""
    joint = [r["miou_all_bg"] for r in rows if r.get("method") == "joint"
             and r.get("miou_all_bg") is not None]
    for row in rows:
        value = row.get("miou_all_bg")
        row["delta_joint"] = value - joint[-1] if joint and value is not None else None
        row["delta_joint_original"] = (value - ORIGINAL_JOINT_MIOU_BG
                                       if value is not None else None)
    return rows


def percent(value: float | None) -> str:
    """A fraction as a percentage with one decimal; blank for a missing value."""
    return "" if value is None else f"{100.0 * value:.1f}"


def format_cell(column: str, value, percent_columns: Sequence[str] = MIOU_COLUMNS) -> str:
    """One markdown cell: fractions of `percent_columns` in percent, images/s to 0.1."""
    if column in percent_columns:
        return percent(value)
    if column == "images_per_sec" and value is not None:
        return f"{float(value):.1f}"
    return "" if value is None else str(value)


def markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines) + "\n"


def final_step_table(rows: Sequence[dict]) -> tuple[list[str], list[list[str]]]:
    """Last step of each experiment, one line per (test, setup), one column per method.

    A cell reads 'all-with-bg / old / new' mIoU in percent, so forgetting (old dropping
    under fine-tuning) is visible next to the headline number.
    """
    final = {row["experiment"]: row for row in rows}  # rows are step-ordered per experiment
    groups: dict[tuple[str, str], dict[str, dict]] = {}
    methods: list[str] = []
    for row in final.values():
        method = row["method"] or row["experiment"]
        group = groups.setdefault((row["test"] or "", row["setup"] or ""), {})
        if method in group:
            log.warning("experiments %r and %r share test/setup/method; the summary shows %r",
                        group[method]["experiment"], row["experiment"], row["experiment"])
        group[method] = row
        if method not in methods:
            methods.append(method)
    body = []
    for (test, setup), cells in groups.items():
        body.append([test, setup] + [
            " / ".join(percent(cells[m][k]) or "–" for k in ("miou_all_bg", "miou_old",
                                                                  "miou_new"))
            if m in cells else "" for m in methods])
    return ["test", "setup", *methods], body


def summary_markdown(rows: Sequence[dict]) -> str:
    """The summary.md text: final-step comparison first, then every evaluated step."""
    if not rows:
        return "# Results\n\nNo evaluations recorded yet.\n"
    header, body = final_step_table(rows)
    per_step = [[format_cell(column, row[column]) for column in SUMMARY_COLUMNS] for row in rows]
    return (
        "# Results\n\n## Final step\n\nmIoU in percent after the last step: "
        "all classes with background / old (step-0 classes) / new (classes added later).\n\n"
        + markdown_table(header, body)
        + "\n## Every step\n\nmIoU in percent; old = step-0 classes, new = classes added "
        "after step 0, all = foreground seen so far, all_bg = with background; delta_joint = "
        "all_bg minus this suite's joint run, delta_joint_original = all_bg minus the "
        "original's joint (71.0).\n\n"
        + markdown_table(SUMMARY_COLUMNS, per_step)
    )


def csv_header(column: str, percent_columns: Sequence[str]) -> str:
    """A CSV column's name, with `_pct` when its values are in percent (as in summary.md)."""
    return f"{column}{PERCENT_SUFFIX}" if column in percent_columns else column


def csv_text(columns: Sequence[str], rows: Sequence[dict],
             percent_columns: Sequence[str] = MIOU_COLUMNS) -> str:
    """A CSV table in summary.md's units: fractions of `percent_columns` as percent (full
    precision, the header names them `<column>_pct`), other values raw, blank for None."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_header(c, percent_columns) for c in columns])
    for row in rows:
        writer.writerow([_csv_value(row.get(c), c in percent_columns) for c in columns])
    return buffer.getvalue()


def _csv_value(value, in_percent: bool):
    if value is None:
        return ""
    return round(100.0 * float(value), 10) if in_percent else value


def summary_csv(rows: Sequence[dict]) -> str:
    """The summary.csv text: mIoU in percent (`<column>_pct`), blank for missing values."""
    return csv_text(SUMMARY_COLUMNS, rows)
