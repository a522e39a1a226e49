"""The probe columns of the stream summary: probe top-1 at 25 / 50 / 75 / 100 % of the stream
and forgetting per split D_j after each later split, from hand-made linear-probe records."""

import csv

import pytest

from continual.reporting.summary import write_summary


def _probe_records(name: str, rows, fractions) -> list[dict]:
    records = [{"plan_kind": "stream", "experiment": name, "method": name,
                "scenario": "class_sequential_runs", "experience": -1,
                "num_experiences": len(rows), "stream_fraction": 0.0,
                "accuracy_row": [0.1] * len(rows), "accuracy": 0.1, "probe_accuracy": 0.1}]
    for i, (row, fraction) in enumerate(zip(rows, fractions, strict=True)):
        accuracy = sum(row) / len(row)
        records.append({**records[0], "experience": i, "stream_fraction": fraction,
                        "accuracy_row": list(row), "accuracy": accuracy,
                        "probe_accuracy": accuracy})
    return records


QUARTERS = [[0.50, 0.10, 0.10, 0.10], [0.40, 0.60, 0.10, 0.10],
            [0.30, 0.60, 0.70, 0.10], [0.20, 0.50, 0.70, 0.90]]


def test_quarter_probes_and_split_forgetting_reach_csv_and_markdown(tmp_path):
    minred = _probe_records("MINRED", QUARTERS, [0.25, 0.5, 0.75, 1.0])
    # an i.i.d. run with one experience: only the 100 % column, no per-split forgetting
    iid = _probe_records("IID", [[0.6]], [1.0])
    # 3 experiences: 33 / 67 / 100 % -- the quarter columns stay blank, never borrowed
    thirds = _probe_records("THIRDS", [[0.3, 0.1, 0.1], [0.3, 0.3, 0.1], [0.2, 0.3, 0.4]],
                            [1 / 3, 2 / 3, 1.0])
    paths = write_summary(tmp_path, {"MINRED": minred, "IID": iid, "THIRDS": thirds})
    with paths["summary_csv"].open() as table:
        rows = {row["experiment"]: row for row in csv.DictReader(table)}
    got = [float(rows["MINRED"][f"probe_at_{p}_pct"]) for p in (25, 50, 75, 100)]
    assert got == pytest.approx([20.0, 30.0, 42.5, 57.5])  # percent, as in summary.md
    assert [rows["IID"][f"probe_at_{p}_pct"] for p in (25, 50, 75, 100)] == ["", "", "", "60.0"]
    assert [rows["THIRDS"][f"probe_at_{p}_pct"] for p in (25, 50, 75)] == ["", "", ""]
    assert float(rows["THIRDS"]["probe_at_100_pct"]) == pytest.approx(30.0)
    text = paths["summary_md"].read_text()
    section = text.split("## Forgetting per split")[1]
    # over the stream (the paper's D0 at three points, D1 at two, D2 at one):
    # D0: 50 - 40, 50 - 30, 50 - 20; D1: 60 - 60, 60 - 50; D2: 70 - 70
    assert "| MINRED | 10.0, 20.0, 30.0 / 0.0, 10.0 / 0.0 |" in section
    assert "| THIRDS | 0.0, 10.0 / 0.0 |" in section
    assert "| IID |" not in section
    assert "| probe_at_25 | probe_at_50 | probe_at_75 | probe_at_100 |" in text
