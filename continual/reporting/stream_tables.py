"""Results tables of stream (classification / continual) experiments: markdown and CSV.

Records are those of continual.metrics.stream_metrics (`"plan_kind": "stream"`), one per
evaluation. A row holds one experiment's metrics, all derived from its accuracy matrix R and
per-class rows. An experiment whose records name `joint_experiment` is compared with that
experiment of the same summary (intransigence, Chaudhry's and RM's I_last); without one the
intransigence cells stay blank (never computed against 0). Values are percent in both the CSV
(full precision; such columns are named `<column>_pct`) and markdown (one decimal); None is
a blank cell.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from continual.metrics.accuracy_matrix import (
    JOINT_PER_TASK_COUNT,
    last_record_per_experience,
    stream_metrics,
)
from continual.reporting.probe_tables import (
    PROGRESS_COLUMNS,
    probe_progress,
    split_forgetting,
    split_forgetting_markdown,
)
from continual.reporting.seed_tables import AVERAGE_RULES, average_column, seed_markdown
from continual.reporting.tables import csv_text, format_cell, markdown_table, percent

log = logging.getLogger(__name__)

STREAM_COLUMNS = ("experiment", "method", "scenario", "final_accuracy",
                  "average_incremental_accuracy", "forgetting", "bwt", "fwt", "amca",
                  "images_per_sec")
INTRANSIGENCE_COLUMNS = ("intransigence", "intransigence_last")
TOP_K_COLUMNS = ("top_k", "final_top_k_accuracy", "a_avg_top_k")  # StreamPlan.top_k set
# StreamPlan.accuracy_rule = 'best_epoch': RM's A_last / A_avg by best epoch (test-selected)
BEST_EPOCH_COLUMNS = ("a_last_best_epoch_test", "a_avg_best_epoch_test")
# ... and with StreamPlan.top_k set as well: the same over the top-k accuracy
BEST_EPOCH_TOP_K_COLUMNS = ("a_last_top_k_best_epoch_test", "a_avg_top_k_best_epoch_test")
PERCENT_COLUMNS = ("final_accuracy", "a_avg", "average_incremental_accuracy", "forgetting",
                   "forgetting_rm", "bwt",
                   "fwt", "amca", "accuracy", "probe_accuracy", "online_probe_accuracy",
                   "mean_class_accuracy_final", "final_top_k_accuracy", "a_avg_top_k",
                   *BEST_EPOCH_COLUMNS, *BEST_EPOCH_TOP_K_COLUMNS, *INTRANSIGENCE_COLUMNS,
                   *PROGRESS_COLUMNS)
# Time-ordered domain streams (SSLAD: `by_attribute`) report AMCA with the final class-mean
# accuracy beside it, under its own name.
CLASS_MEAN_SCENARIOS = ("by_attribute",)


def _joint_name(records: Sequence[dict]) -> str | None:
    names = [r["joint_experiment"] for r in records if r.get("joint_experiment")]
    return names[-1] if names else None


def _joint_records(name: str, records: Sequence[dict],
                   experiments: Mapping[str, Sequence[dict]]) -> Sequence[dict] | None:
    """The records of the joint run `name` links to, or None when it links none here."""
    joint = _joint_name(records)
    if joint is None:
        return None
    if not experiments.get(joint):
        log.info("experiment %r names joint run %r, which has no records in this summary",
                 name, joint)
        return None
    return experiments[joint]


def stream_columns(rows: Sequence[dict]) -> tuple[str, ...]:
    """STREAM_COLUMNS, plus `probe_accuracy` when some experiment is evaluated by linear
    probes (the final probe's top-1, and the probes at 25 / 50 / 75 / 100 % of the stream),
    plus the intransigence columns when some experiment has
    a joint run, plus `mean_class_accuracy_final` when some experiment streams by attribute,
    plus `online_probe_accuracy` when some method trains an online probe (Kaizen's: a head on
    detached features fed every seen task's labels, never the method's own accuracy), plus
    TOP_K_COLUMNS when some experiment sets `StreamPlan.top_k`, plus BEST_EPOCH_COLUMNS
    (and BEST_EPOCH_TOP_K_COLUMNS, with top_k too) under `StreamPlan.accuracy_rule =
    'best_epoch'`."""
    linked = any(row.get("joint_experiment") for row in rows)
    probed = any(row.get("probe_accuracy") is not None for row in rows)
    class_mean = any(row.get("scenario") in CLASS_MEAN_SCENARIOS for row in rows)
    online = any(row.get("online_probe_accuracy") is not None for row in rows)
    return (_with_a_avg(rows) + (("probe_accuracy", *PROGRESS_COLUMNS) if probed else ())
            + (("online_probe_accuracy",) if online else ())
            + (("mean_class_accuracy_final",) if class_mean else ())
            + (TOP_K_COLUMNS if any(row.get("top_k") for row in rows) else ())
            + (BEST_EPOCH_COLUMNS if any(row.get(BEST_EPOCH_COLUMNS[0]) is not None
                                         for row in rows) else ())
            + (BEST_EPOCH_TOP_K_COLUMNS if any(row.get(BEST_EPOCH_TOP_K_COLUMNS[0]) is not None
                                               for row in rows) else ())
            + (INTRANSIGENCE_COLUMNS if linked else ())
            + (("intransigence_reference",) if _per_task_joint(rows) else ()))


def _per_task_joint(rows: Sequence[dict]) -> bool:
    """True when some experiment's intransigence uses a joint reference per task count (then
    the table names each row's reference; with one joint run everywhere it stays as it was)."""
    return any(row.get("intransigence_reference") == JOINT_PER_TASK_COUNT for row in rows)


def _with_a_avg(rows: Sequence[dict]) -> tuple[str, ...]:
    """STREAM_COLUMNS with one A_avg column, `a_avg` (RM's A_avg) in place of
    average_incremental_accuracy, and `forgetting_rm` (RM's forgetting) beside Chaudhry's
    `forgetting`, when some experiment's method reports them (its records carry
    `a_avg_rule`); the two A_avg columns would repeat each other (`seed_tables.average_column`)."""
    if average_column(rows) != "a_avg":
        return STREAM_COLUMNS
    columns = tuple("a_avg" if c == "average_incremental_accuracy" else c
                    for c in STREAM_COLUMNS)
    at = columns.index("forgetting") + 1
    return (*columns[:at], "forgetting_rm", *columns[at:])


def stream_rows(experiments: Mapping[str, Sequence[dict]]) -> list[dict]:
    """One row per stream experiment (mapping order): names, metrics and the linked joint run.

    A joint run itself shows no average incremental accuracy: its one evaluation covers every
    task at once, so there is no sequence of seen-task means to average.
    """
    joint_runs = {_joint_name(records) for records in experiments.values()}
    rows = []
    for name, records in experiments.items():
        joint = _joint_records(name, records, experiments)
        row = {"experiment": name, **stream_metrics(records, joint),
               "joint_experiment": _joint_name(records) if joint else None}
        last = records[-1]
        row.update(method=last.get("method"), scenario=last.get("scenario"),
                   seed=last.get("seed"), config_id=last.get("config_id"),
                   values_id=last.get("values_id"))
        if last.get("probe_accuracy") is not None:
            row["probe_accuracy"] = last["probe_accuracy"]
            row.update(probe_progress(records), split_forgetting=split_forgetting(records))
        row["random_init"] = random_init_values(records)
        if last.get("a_avg_rule"):  # RM's A_avg, with the rule it follows
            row["a_avg_rule"] = last["a_avg_rule"]
        if last.get("accuracy_rule"):  # StreamPlan.accuracy_rule = 'best_epoch'
            row["accuracy_rule"] = last["accuracy_rule"]
        if last.get("online_probe_accuracy") is not None:  # an evaluation head (Kaizen's)
            row["online_probe_accuracy"] = last["online_probe_accuracy"]
        if name in joint_runs or last.get("scenario") == "joint":
            row["average_incremental_accuracy"] = None
        if last.get("scenario") == "cumulative_joint":  # a fresh model per k: nothing carried
            row.update(forgetting=None, forgetting_rm=None, bwt=None, fwt=None)
        rows.append(row)
    return rows


def random_init_values(records: Sequence[dict]) -> dict[str, float]:
    """The random-initialisation evaluation's values under the summary's metric names (its
    overall accuracy as final_accuracy, the random-backbone probe as probe_accuracy); empty
    when the experiment has none. A claim's 'random init' side reads them."""
    first = last_record_per_experience(records)[:1]
    if not first or first[0]["experience"] != -1:
        return {}
    values = {"final_accuracy": first[0].get("accuracy"),
              "probe_accuracy": first[0].get("probe_accuracy")}
    return {name: value for name, value in values.items() if value is not None}


def experience_rows(experiments: Mapping[str, Sequence[dict]]) -> list[dict]:
    """Every evaluation (last record per experience): experiment, experience, accuracy, R row.

    Experience -1 is the random-initialisation evaluation (the FWT baseline).
    """
    rows = []
    for name, records in experiments.items():
        for record in last_record_per_experience(records):
            rows.append({"experiment": name, "experience": record["experience"],
                         "accuracy": record.get("accuracy"),
                         "accuracy_row": list(record.get("accuracy_row") or [])})
    return rows


def _experience_label(experience: int) -> str:
    return "random init" if experience == -1 else str(experience)


def stream_markdown(rows: Sequence[dict], evaluations: Sequence[dict],
                    claims_section: str = "") -> str:
    """The stream part of summary.md: one line per experiment, the over-seed table and the
    claims (`claims_section`, from claims.claims_markdown), then every evaluation."""
    if not rows:
        return "# Results\n\nNo evaluations recorded yet.\n"
    columns = stream_columns(rows)
    summary = [[format_cell(c, row.get(c), PERCENT_COLUMNS) for c in columns] for row in rows]
    per_experience = [[row["experiment"], _experience_label(row["experience"]),
                       percent(row["accuracy"]),
                       " / ".join(percent(v) or "–" for v in row["accuracy_row"])]
                      for row in evaluations]
    return (
        "# Results\n\n## Stream experiments\n\nIn percent, as in the CSV files (whose "
        "percent columns end in _pct): accuracy from the accuracy matrix "
        "R[i, j] (task j after experience i); forgetting (Chaudhry), bwt and fwt (GEM), "
        "amca (class-mean accuracy averaged over evaluations)"
        + ("; intransigence against the linked joint run (Chaudhry: per task; _last: RM's, "
           "overall accuracy)" if INTRANSIGENCE_COLUMNS[0] in columns else "")
        + "; " + AVERAGE_RULES[average_column(rows)]
        + (", rule: " + ", ".join(sorted({r["a_avg_rule"] for r in rows if r.get("a_avg_rule")}))
           if "a_avg" in columns else "")
        + ("; final_top_k_accuracy / a_avg_top_k: A_last / A_avg over the top-k accuracy "
           "(StreamPlan.top_k)" if "top_k" in columns else "")
        + (_best_epoch_text(rows) if BEST_EPOCH_COLUMNS[0] in columns else "")
        + ("; intransigence_reference: the joint reference of each row (" + JOINT_PER_TASK_COUNT
           + ": one joint model per task count k, Chaudhry's a*_k)"
           if "intransigence_reference" in columns else "") + ".\n\n"
        + markdown_table(columns, summary) + _fwt_notes(rows) + seed_markdown(rows)
        + claims_section
        + "\n## Every experience\n\nOverall accuracy after each experience and its R row "
        "(accuracy on each experience's test data), in percent.\n\n"
        + markdown_table(("experiment", "experience", "accuracy", "R row"), per_experience)
        + split_forgetting_markdown(rows)
    )


def _best_epoch_text(rows: Sequence[dict]) -> str:
    rules = sorted({r["accuracy_rule"] for r in rows if r.get("accuracy_rule")})
    return ("; a_last_best_epoch_test / a_avg_best_epoch_test: A_last / A_avg with each "
            "task's accuracy taken at its best epoch, SELECTED ON THE TEST SET (optimistic: "
            "RM's reported numbers, for parity only; the primary columns are last-epoch), "
            "rule: " + "; ".join(rules)
            + (" (" + " / ".join(BEST_EPOCH_TOP_K_COLUMNS) + ": the same over the top-k "
               "accuracy)" if any(r.get(BEST_EPOCH_TOP_K_COLUMNS[0]) is not None for r in rows)
               else ""))


def _fwt_notes(rows: Sequence[dict]) -> str:
    """One line per reason that some experiments' FWT is blank (`continual.metrics.transfer`:
    R and its random-init baseline from different evaluators, or a one-head class-incremental
    stream), naming those experiments; empty when there is none."""
    by_note: dict[str, list[str]] = {}
    for row in rows:
        if row.get("fwt_note"):
            by_note.setdefault(row["fwt_note"], []).append(row["experiment"])
    notes = [f"- {', '.join(names)}: {note}\n" for note, names in by_note.items()]
    return "\n" + "".join(notes) if notes else ""


def stream_csv(rows: Sequence[dict]) -> str:
    """The stream summary as CSV, in summary.md's units: percent columns named `<column>_pct`,
    blank for None."""
    return csv_text(stream_columns(rows), rows, PERCENT_COLUMNS)
