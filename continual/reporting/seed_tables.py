"""Mean ± standard deviation over seeds of stream experiments (the paper's "41.35 ± 0.95").

A suite entry with `seeds` runs one experiment per seed, named `<name>_seed<s>` (suite.py).
Rows whose names share `<name>` form one group; a group of two or more seeds gets one line
with the mean and the sample standard deviation (ddof 1) of each metric over its seeds. A
metric missing (None) in some seed is averaged over the seeds that have it, and the cell says
how many (`n=2`); missing in all, the cell is blank. A group whose seeds ran with different
values (their records' `values_id` differ: e.g. `--only NAME_seed1` with another binding) is
marked MIXED: its mean is no over-seed estimate, and no claim is judged on it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from continual.reporting.tables import csv_text, markdown_table

SEED_NAME = re.compile(r"^(?P<group>.+)_seed(?P<seed>-?\d+)$")
SEED_METRICS = ("final_accuracy", "a_avg", "average_incremental_accuracy", "forgetting", "amca",
                "probe_accuracy", "online_probe_accuracy", "intransigence",
                "intransigence_last", "a_last_best_epoch_test",
                "a_avg_best_epoch_test")  # the last two: opt-in rule
AVERAGE_RULES = {
    "a_avg": "a_avg (RM's A_avg): mean over experiences of the overall accuracy after each",
    "average_incremental_accuracy": "average_incremental_accuracy: mean over experiences of "
                                    "the seen-task mean accuracy R[i, :i+1]"}


def average_column(rows: Sequence[dict]) -> str:
    """The one A_avg column of a table: `a_avg` (RM's rule) when some experiment's method
    reports it (its records carry `a_avg_rule`), else `average_incremental_accuracy`."""
    return "a_avg" if any(row.get("a_avg_rule") for row in rows) else \
        "average_incremental_accuracy"


def seed_groups(rows: Sequence[dict]) -> dict[str, list[dict]]:
    """Rows of experiments named `<group>_seed<s>`, by group (first-seen order); only groups
    of two or more seeds."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        match = SEED_NAME.match(str(row.get("experiment", "")))
        if match:
            groups.setdefault(match["group"], []).append(row)
    return {name: members for name, members in groups.items() if len(members) >= 2}


MIXED = "MIXED"  # a group whose seeds ran with different values


def mixed_values(members: Sequence[dict]) -> bool:
    """True when the group's seeds ran with different values (other bindings, data or code)."""
    return len({r["values_id"] for r in members if r.get("values_id")}) > 1


def mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None, int]:
    """(mean, sample std, count) over the values that are not None; std is None below two."""
    present = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if present.size == 0:
        return None, None, 0
    std = float(present.std(ddof=1)) if present.size >= 2 else None
    return float(present.mean()), std, int(present.size)


def format_mean_std(values: Sequence[float | None]) -> str:
    """Fractions as '40.5 ± 1.2' in percent; ' (n=2)' when some seeds lack the value."""
    mean, std, count = mean_std(values)
    if mean is None:
        return ""
    text = f"{100 * mean:.1f}" + ("" if std is None else f" ± {100 * std:.1f}")
    return text + ("" if count == len(values) else f" (n={count})")


def seed_columns(groups: dict[str, list[dict]]) -> tuple[str, ...]:
    """The metrics some seed of some group has (intransigence only with a linked joint run),
    with one A_avg column (`average_column`)."""
    members = [r for group in groups.values() for r in group]
    dropped = {"a_avg", "average_incremental_accuracy"} - {average_column(members)}
    return tuple(c for c in SEED_METRICS if c not in dropped
                 and any(r.get(c) is not None for r in members))


def seed_csv(rows: Sequence[dict]) -> str:
    """summary_seeds.csv: one line per seed group and metric with mean, sample std and n over
    its seeds, in percent like summary.md (header only when no experiment has seeds)."""
    groups = seed_groups(rows)
    columns = seed_columns(groups)
    lines = []
    for name, members in groups.items():
        seeds = " ".join(SEED_NAME.match(r["experiment"])["seed"] for r in members)
        for column in columns:
            mean, std, count = mean_std([r.get(column) for r in members])
            if count:
                lines.append({"experiment": name, "method": members[0].get("method"),
                              "seeds": seeds, "metric": column, "mean": mean, "std": std,
                              "n": count,
                              "values": MIXED if mixed_values(members) else "same"})
    return csv_text(("experiment", "method", "seeds", "metric", "mean", "std", "n", "values"),
                    lines, ("mean", "std"))


def seed_markdown(rows: Sequence[dict]) -> str:
    """The '## Over seeds' section, or '' when no experiment ran with several seeds."""
    groups = seed_groups(rows)
    if not groups:
        return ""
    columns = seed_columns(groups)
    body = []
    for name, members in groups.items():
        seeds = [SEED_NAME.match(r["experiment"])["seed"] for r in members]
        shown = f"{name} ({MIXED} values)" if mixed_values(members) else name
        body.append([shown, str(members[0].get("method") or ""), ", ".join(seeds),
                     *(format_mean_std([r.get(c) for r in members]) for c in columns)])
    mixed = [name for name, members in groups.items() if mixed_values(members)]
    warning = (f" {MIXED} values: the seeds of {', '.join(mixed)} ran with different bindings, "
               "data or code (e.g. `--only` with another value), so the row is no over-seed "
               "estimate and no claim is judged on it: rerun every seed with the same values."
               if mixed else "")
    return ("\n## Over seeds\n\nMean ± sample standard deviation over the seeds of each "
            "experiment, in percent (final_accuracy = A_last; "
            + AVERAGE_RULES[average_column(rows)] + "; summary_seeds.csv holds the same with "
            "n per metric)." + warning + "\n\n"
            + markdown_table(("experiment", "method", "seeds", *columns), body))
