"""Mean ± std over seeds in the stream summary, and RM's A_avg beside A_last."""

import csv

import pytest

from continual.metrics import stream_metrics
from continual.reporting import STREAM_COLUMNS, write_summary
from continual.reporting.seed_tables import format_mean_std, seed_groups, seed_markdown
from continual.reporting.stream_tables import PERCENT_COLUMNS
from continual.reporting.tables import csv_header


def _csv_header(columns):
    return tuple(csv_header(c, PERCENT_COLUMNS) for c in columns)


def _records(name, rows, accuracies, rule=None):
    """One experiment's stream records: R rows and the overall accuracy after each."""
    records = []
    for i, (row, accuracy) in enumerate(zip(rows, accuracies, strict=True)):
        record = {"experiment": name, "plan_kind": "stream", "method": name.split("_")[0],
                  "scenario": "blurry", "experience": i, "num_experiences": len(rows),
                  "accuracy_row": row, "accuracy": accuracy}
        if rule:
            record["a_avg_rule"] = rule
        records.append(record)
    return records


def test_a_avg_is_the_mean_of_the_overall_accuracy_after_each_experience():
    records = _records("rm", [[0.8, 0.0], [0.5, 0.7]], [0.30, 0.60])
    metrics = stream_metrics(records)
    assert metrics["a_avg"] == pytest.approx(0.45)            # (30 + 60) / 2
    assert metrics["final_accuracy"] == pytest.approx(0.60)   # mean of the last R row


def test_mean_and_sample_std_by_hand():
    assert format_mean_std([0.40, 0.50, 0.60]) == "50.0 ± 10.0"   # std ddof 1: 0.1
    assert format_mean_std([0.40, None, 0.60]) == "50.0 ± 14.1 (n=2)"
    assert format_mean_std([None, None]) == ""


def test_seed_groups_need_two_seeds_of_one_name():
    rows = [{"experiment": "RM_seed1"}, {"experiment": "RM_seed2"},
            {"experiment": "EWC_seed1"}, {"experiment": "JOINT"}]
    assert list(seed_groups(rows)) == ["RM"]
    assert seed_markdown([{"experiment": "RM_seed1", "final_accuracy": 0.5}]) == ""


def test_summary_has_a_avg_column_and_the_over_seeds_table(tmp_path):
    experiments = {
        f"RM_seed{s}": _records(f"RM_seed{s}", [[0.8, 0.0], [0.5, final]], [0.3, final],
                                rule="last epoch")
        for s, final in ((1, 0.6), (2, 0.8))}
    paths = write_summary(tmp_path, experiments)
    markdown = paths["summary_md"].read_text()
    assert "a_avg (RM's A_avg): mean over experiences of the overall accuracy after each, " \
           "rule: last epoch" in markdown
    # seed 1: A_last (0.5 + 0.6) / 2 = 55.0, A_avg (30 + 60) / 2 = 45.0
    assert "| RM_seed1 | RM | blurry | 55.0 | 45.0 |" in markdown
    # A_last 55.0 / 65.0, A_avg 45.0 / 55.0, forgetting 30.0 / 30.0
    assert "| RM | RM | 1, 2 | 60.0 ± 7.1 | 50.0 ± 7.1 | 30.0 ± 0.0 |" in markdown
    with open(paths["summary_csv"], newline="") as handle:
        header = next(csv.reader(handle))
    # one A_avg column: RM's a_avg in place of average_incremental_accuracy (issue 23)
    assert header[STREAM_COLUMNS.index("final_accuracy") + 1] == "a_avg_pct"
    assert "average_incremental_accuracy_pct" not in header
    assert "average_incremental_accuracy" not in markdown.split("## Every experience")[0]


def test_no_rule_no_a_avg_column_and_no_seed_table(tmp_path):
    paths = write_summary(tmp_path, {"er": _records("er", [[0.8, 0.1], [0.5, 0.7]],
                                                    [0.3, 0.6])})
    with open(paths["summary_csv"], newline="") as handle:
        assert tuple(next(csv.reader(handle))) == _csv_header(STREAM_COLUMNS)
    assert "Over seeds" not in paths["summary_md"].read_text()
