import csv
import logging

import pytest

from continual.reporting import STREAM_COLUMNS, write_summary
from continual.reporting.stream_tables import PERCENT_COLUMNS
from continual.reporting.tables import csv_header

R = [[0.70, 0.05, 0.10],
     [0.40, 0.90, 0.20],
     [0.30, 0.60, 0.80]]


def _stream(name, method, matrix=R, joint=None):
    records = [{"experiment": name, "plan_kind": "stream", "method": method,
                "scenario": "class_incremental", "experience": -1, "num_experiences": 3,
                "accuracy_row": [0.1, 0.1, 0.1], "accuracy": 0.1}]
    for i, row in enumerate(matrix):
        record = {"experiment": name, "plan_kind": "stream", "method": method,
                  "scenario": "class_incremental", "experience": i, "num_experiences": 3,
                  "accuracy_row": row, "accuracy": sum(row[: i + 1]) / (i + 1),
                  "per_class_accuracy": {"0": row[0], "1": row[1], "2": None},
                  "mean_class_accuracy": None, "images_per_sec": 100.0 * (i + 1)}
        if joint:
            record["joint_experiment"] = joint
        records.append(record)
    return records


JOINT = [{"experiment": "joint", "plan_kind": "stream", "method": "joint", "scenario": "joint",
          "experience": 0, "num_experiences": 1, "accuracy_row": [0.75, 0.95, 0.80],
          "accuracy": 0.85, "images_per_sec": 50.0}]


def _csv_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_stream_only_summary_files_and_formats(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        paths = write_summary(tmp_path, {"er": _stream("er", "er")})
    assert sorted(p.name for p in paths.values()) == [
        "accuracy_by_experience.png", "accuracy_matrix.png", "summary.csv", "summary.md",
        "summary_seeds.csv"]
    assert "'er': intransigence omitted: no joint run is linked" in caplog.text
    with open(paths["summary_csv"], newline="") as handle:
        assert tuple(next(csv.reader(handle))) == tuple(
            csv_header(c, PERCENT_COLUMNS) for c in STREAM_COLUMNS)  # no intransigence column
    (row,) = _csv_rows(paths["summary_csv"])
    # percent in the CSV, as in summary.md, and the header says so
    assert float(row["final_accuracy_pct"]) == pytest.approx(170 / 3)
    assert float(row["forgetting_pct"]) == pytest.approx(35.0)
    assert row["images_per_sec"] == "200.0"
    markdown = paths["summary_md"].read_text()
    # final 56.7, AIA 63.9, forgetting 35.0, bwt -35.0, amca (37.5+65+45)/3 = 49.2; fwt blank:
    # class-incremental with one head, so it would be minus the random-init accuracy (issue 23)
    assert "| er | er | class_incremental | 56.7 | 63.9 | 35.0 | -35.0 |  | 49.2 | 200.0 |" \
        in markdown
    assert "- er: fwt omitted: class-incremental with one head" in markdown
    assert "| er | random init | 10.0 | 10.0 / 10.0 / 10.0 |" in markdown
    assert "| er | 1 | 65.0 | 40.0 / 90.0 / 20.0 |" in markdown
    assert "miou" not in markdown
    for name in ("accuracy_matrix", "accuracy_by_experience"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_joint_link_gives_intransigence_and_others_stay_blank(tmp_path):
    experiments = {"er": _stream("er", "er", joint="joint"), "ft": _stream("ft", "finetune"),
                   "joint": JOINT}
    paths = write_summary(tmp_path, experiments)
    rows = {row["experiment"]: row for row in _csv_rows(paths["summary_csv"])}
    assert list(rows["er"]) == [csv_header(c, PERCENT_COLUMNS) for c in
                                (*STREAM_COLUMNS, "intransigence", "intransigence_last")]
    assert float(rows["er"]["intransigence_pct"]) == pytest.approx(10 / 3)
    assert float(rows["er"]["intransigence_last_pct"]) == pytest.approx(85 - 170 / 3)
    assert rows["ft"]["intransigence_pct"] == "" and rows["ft"]["intransigence_last_pct"] == ""
    # the joint run: final accuracy of its one evaluation, nothing that needs a sequence
    assert float(rows["joint"]["final_accuracy_pct"]) == pytest.approx(250 / 3)
    assert rows["joint"]["average_incremental_accuracy_pct"] == rows["joint"]["forgetting_pct"] \
        == ""
    assert "| 3.3 | 28.3 |" in paths["summary_md"].read_text()  # er's two intransigences


def _segmentation(name):
    return [{"experiment": name, "method": "recall_gan", "test": "15-5", "setup": "overlapped",
             "step": 0, "classes": list(range(1, 16)), "miou_old": 0.75, "miou_new": None,
             "miou_all": 0.75, "miou_all_bg": 0.76, "images_per_sec": 10.0,
             "iou": [0.9] + [0.75] * 15 + [None] * 5}]


def test_both_plan_kinds_in_one_summary(tmp_path):
    write_summary(tmp_path, {"er": _stream("er", "er")})  # an earlier stream-only summary
    paths = write_summary(tmp_path, {"gan": _segmentation("gan"), "er": _stream("er", "er")})
    assert sorted(paths) == ["accuracy_by_experience", "accuracy_matrix", "miou_by_step",
                             "per_class_iou", "summary_csv", "summary_md", "summary_seeds_csv",
                             "summary_stream_csv"]
    assert [r["experiment"] for r in _csv_rows(paths["summary_csv"])] == ["gan"]
    assert "miou_all_bg_pct" in _csv_rows(paths["summary_csv"])[0]
    assert [r["experiment"] for r in _csv_rows(paths["summary_stream_csv"])] == ["er"]
    markdown = paths["summary_md"].read_text()
    assert markdown.count("\n# ") == 0 and markdown.startswith("# Results\n")
    segmentation_at = markdown.index("## Segmentation (RECALL)")
    stream_at = markdown.index("## Stream (classification)")
    assert segmentation_at < markdown.index("### Final step") < stream_at
    assert stream_at < markdown.index("### Stream experiments") < markdown.index(
        "### Every experience")
    assert "| gan | recall_gan | 15-5 | overlapped | 0 | 1-15 | 75.0 |" in markdown
    assert "| er | er | class_incremental | 56.7 |" in markdown
    # back to segmentation only: the stream files of the earlier summary are gone
    paths = write_summary(tmp_path, {"gan": _segmentation("gan")})
    assert not (tmp_path / "summary_stream.csv").exists()
    assert not (tmp_path / "summary_seeds.csv").exists()
    assert not (tmp_path / "accuracy_matrix.png").exists()


def test_mixed_or_unknown_plan_kinds_are_errors(tmp_path):
    with pytest.raises(ValueError, match="'x' mixes segmentation and stream"):
        write_summary(tmp_path, {"x": _segmentation("x") + _stream("x", "er")})
    with pytest.raises(ValueError, match="'y': metrics record 0 has plan_kind 'ssl'"):
        write_summary(tmp_path, {"y": [{"plan_kind": "ssl", "experience": 0}]})


def test_rm_methods_report_rms_forgetting_beside_chaudhrys(tmp_path):
    records = [dict(r, a_avg_rule="last epoch") for r in _stream("rm", "rainbow_memory")]
    paths = write_summary(tmp_path, {"rm": records})
    with open(paths["summary_csv"], newline="") as handle:
        header = next(csv.reader(handle))
    assert header[header.index("forgetting_pct") + 1] == "forgetting_rm_pct"
    (row,) = _csv_rows(paths["summary_csv"])
    # R: j=0 max(.70, .40) - .30; j=1: max(.05, .90) - .60 (RM reads R[0, 1] too), in percent
    assert float(row["forgetting_rm_pct"]) == pytest.approx(35.0)
