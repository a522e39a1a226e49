"""The suite's results: summary.md, CSV tables and plots, rebuilt from metrics records.

Experiments are split by plan kind. Records with `"plan_kind": "stream"` are stream
(classification / continual) evaluations; records without `plan_kind` (or with
"segmentation") are RECALL's segmentation evaluations. Files written under `out_dir`:

- summary.md: one section per plan kind present. With only segmentation records it is exactly
  RECALL's summary; with both kinds each part sits under its own heading.
- summary.csv: the segmentation table when there are segmentation records, else the stream
  table. summary_stream.csv: the stream table, written only when both kinds are present, so
  summary.csv always holds one table and its header says which. summary_seeds.csv: mean,
  sample std and n over the seeds of each experiment run with several (stream), and
  summary_claims.csv: the suite's claims checked by paired differences over seeds.
  Every CSV is in summary.md's units: percent columns are named `<column>_pct`.
- miou_by_step.png, per_class_iou.png (segmentation; also written, empty, when no experiment
  has records yet) and accuracy_matrix.png, accuracy_by_experience.png (stream).
Outputs of a kind absent from this summary are deleted, so none is left over from an earlier
suite. Every file is replaced atomically, so a summary is always whole.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from continual.data.atomic import write_text_atomic
from continual.reporting.claims import Claim, claim_rows, claims_markdown
from continual.reporting.plots import plot_miou_by_step, plot_per_class_iou
from continual.reporting.seed_tables import seed_csv
from continual.reporting.stream_plots import plot_accuracy_by_experience, plot_accuracy_matrices
from continual.reporting.stream_tables import (
    experience_rows,
    stream_csv,
    stream_markdown,
    stream_rows,
)
from continual.reporting.tables import csv_text, summary_csv, summary_markdown, summary_rows

CLAIM_COLUMNS = ("claim", "metric", "mean_diff", "std_diff", "n", "seeds", "verdict",
                 "expected")

SEGMENTATION_FILES = {"miou_by_step": "miou_by_step.png", "per_class_iou": "per_class_iou.png"}
STREAM_FILES = {"summary_stream_csv": "summary_stream.csv",
                "summary_seeds_csv": "summary_seeds.csv",
                "summary_claims_csv": "summary_claims.csv",
                "accuracy_matrix": "accuracy_matrix.png",
                "accuracy_by_experience": "accuracy_by_experience.png"}
_KINDS = {None: "segmentation", "segmentation": "segmentation", "stream": "stream"}


def plan_kind(name: str, records: Sequence[dict]) -> str | None:
    """'segmentation' or 'stream' for an experiment's records; None when it has none yet."""
    kinds = set()
    for index, record in enumerate(records):
        value = record.get("plan_kind")
        if value not in _KINDS:
            raise ValueError(f"experiment {name!r}: metrics record {index} has plan_kind "
                             f"{value!r}; expected 'stream', or no plan_kind for segmentation")
        kinds.add(_KINDS[value])
    if len(kinds) > 1:
        raise ValueError(f"experiment {name!r} mixes segmentation and stream records; its "
                         f"metrics.jsonl belongs to one plan kind, so remove the other records")
    return kinds.pop() if kinds else None


def split_by_plan_kind(experiments: Mapping[str, Sequence[dict]]
                       ) -> tuple[dict[str, Sequence[dict]], dict[str, Sequence[dict]]]:
    """(segmentation, stream) experiments, in mapping order. Experiments without records go
    with segmentation only when no experiment has records (RECALL's empty summary)."""
    kinds = {name: plan_kind(name, records) for name, records in experiments.items()}
    if all(kind is None for kind in kinds.values()):
        return dict(experiments), {}  # nothing recorded yet: RECALL's empty summary
    segmentation = {n: r for n, r in experiments.items() if kinds[n] == "segmentation"}
    stream = {n: r for n, r in experiments.items() if kinds[n] == "stream"}
    return segmentation, stream


def nested_section(markdown: str, title: str) -> str:
    """A '# Results' document as a section: its title replaced, its headings one level down."""
    body = markdown.split("\n", 1)[1].lstrip("\n")
    lines = ["#" + line if line.startswith("#") else line for line in body.split("\n")]
    return f"## {title}\n\n" + "\n".join(lines)


def _summary_text(segmentation_md: str | None, stream_md: str | None) -> str:
    if stream_md is None:
        return segmentation_md
    if segmentation_md is None:
        return stream_md
    return ("# Results\n\n" + nested_section(segmentation_md, "Segmentation (RECALL)") + "\n"
            + nested_section(stream_md, "Stream (classification)"))


def write_summary(out_dir: str | os.PathLike, experiments: Mapping[str, Sequence[dict]],
                  claims: Sequence[Claim] = ()) -> dict[str, Path]:
    """Write the suite summary under `out_dir` from each experiment's metrics.jsonl records.

    `experiments` maps an experiment name to its records (see continual.reporting.tables and
    stream_tables for the keys read); `claims` are the suite's headline comparisons, checked
    over seeds on the stream rows (`claims.py`). Returns the paths written, under the keys
    'summary_md', 'summary_csv', the SEGMENTATION_FILES keys and / or the STREAM_FILES keys.
    """
    out_dir = Path(out_dir)
    segmentation, stream = split_by_plan_kind(experiments)
    paths: dict[str, Path] = {}
    segmentation_md = stream_md = None
    if segmentation or not stream:  # RECALL's summary, also the empty one
        rows = summary_rows(segmentation)
        segmentation_md = summary_markdown(rows)
        paths["summary_csv"] = write_text_atomic(out_dir / "summary.csv", summary_csv(rows))
        paths["miou_by_step"] = plot_miou_by_step(rows, out_dir / "miou_by_step.png")
        paths["per_class_iou"] = plot_per_class_iou(segmentation, out_dir / "per_class_iou.png")
    if stream:
        rows, evaluations = stream_rows(stream), experience_rows(stream)
        checked = claim_rows(claims, rows)
        stream_md = stream_markdown(rows, evaluations, claims_markdown(checked))
        paths["summary_seeds_csv"] = write_text_atomic(out_dir / "summary_seeds.csv",
                                                       seed_csv(rows))
        if checked:
            paths["summary_claims_csv"] = write_text_atomic(
                out_dir / "summary_claims.csv",
                csv_text(CLAIM_COLUMNS, checked, ("mean_diff", "std_diff")))
        csv_key = "summary_stream_csv" if segmentation else "summary_csv"
        paths[csv_key] = write_text_atomic(out_dir / ("summary_stream.csv" if segmentation
                                                      else "summary.csv"), stream_csv(rows))
        paths["accuracy_matrix"] = plot_accuracy_matrices(evaluations,
                                                          out_dir / "accuracy_matrix.png")
        paths["accuracy_by_experience"] = plot_accuracy_by_experience(
            evaluations, out_dir / "accuracy_by_experience.png")
    paths["summary_md"] = write_text_atomic(out_dir / "summary.md",
                                            _summary_text(segmentation_md, stream_md))
    for key, name in {**SEGMENTATION_FILES, **STREAM_FILES}.items():
        if key not in paths:
            (out_dir / name).unlink(missing_ok=True)
    return paths
