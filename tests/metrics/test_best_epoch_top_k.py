"""RM's best-epoch A_last / A_avg over the top-k accuracy (`StreamPlan.accuracy_rule =
'best_epoch'` with `StreamPlan.top_k`), by hand, and its summary columns only when present."""

import pytest

from continual.metrics import stream_metrics
from continual.reporting.stream_tables import stream_csv, stream_rows
from tests.metrics.test_best_epoch_and_joint_per_task import R2, _markdown, _records

COLUMNS = "a_last_top_k_best_epoch_test | a_avg_top_k_best_epoch_test"


def _with_top_k(records, top_k, best_top_k=None):
    for record, value in zip(records, top_k, strict=True):
        record.update(top_k=5, top_k_accuracy=value)
    if best_top_k is not None:
        for record, value in zip(records, best_top_k, strict=True):
            record["top_k_accuracy_best_epoch_test"] = value
    return records


def _header(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("| experiment"))


def test_best_epoch_top_k_a_last_and_a_avg_by_hand():
    records = _with_top_k(_records("rm", R2, [0.3, 0.6], best=[0.5, 0.65]), [0.6, 0.8],
                          best_top_k=[0.7, 0.95])
    m = stream_metrics(records)
    assert m["a_last_top_k_best_epoch_test"] == pytest.approx(0.95)
    assert m["a_avg_top_k_best_epoch_test"] == pytest.approx(0.825)      # (70 + 95) / 2
    assert m["final_top_k_accuracy"] == pytest.approx(0.8)               # last-epoch top-k
    assert m["a_avg_top_k"] == pytest.approx(0.7)
    assert m["a_last_best_epoch_test"] == pytest.approx(0.65)            # top-1 unchanged
    del records[0]["top_k_accuracy_best_epoch_test"]                     # one task lacks it
    m = stream_metrics(records)
    assert m["a_last_top_k_best_epoch_test"] == pytest.approx(0.95)
    assert m["a_avg_top_k_best_epoch_test"] is None                      # undefined, not 0


def test_summary_shows_the_columns_only_when_present():
    asked = {"rm": _with_top_k(_records("rm", R2, [0.3, 0.6], best=[0.5, 0.65]), [0.6, 0.8],
                               best_top_k=[0.7, 0.95])}
    text = _markdown(asked)
    header = _header(text)
    assert f"a_last_best_epoch_test | a_avg_best_epoch_test | {COLUMNS}" in header
    assert "the same over the top-k accuracy" in text
    rm_row = next(line for line in text.splitlines() if line.startswith("| rm |"))
    assert "| 65.0 | 57.5 | 95.0 | 82.5 |" in rm_row
    assert stream_csv(stream_rows(asked)).splitlines()[1].endswith(",95.0,82.5")
    best_only = {"rm": _records("rm", R2, [0.3, 0.6], best=[0.5, 0.65])}
    top_k_only = {"rm": _with_top_k(_records("rm", R2, [0.3, 0.6]), [0.6, 0.8])}
    for experiments in (best_only, top_k_only):
        text = _markdown(experiments)
        assert "top_k_best_epoch" not in text and "the same over the top-k" not in text
