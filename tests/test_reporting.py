import csv
import logging
import time

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from continual.reporting import (
    TensorBoardLogger,
    append_jsonl,
    read_jsonl,
    summary_rows,
    write_summary,
)
from continual.reporting.plots import final_iou_matrix
from continual.reporting.tensorboard import EVENTS_PREFIX


def test_append_and_read_round_trip_with_numpy_values(tmp_path):
    path = tmp_path / "exp" / "metrics.jsonl"
    append_jsonl(path, {"step": 0, "miou": np.float32(0.5), "cm": np.eye(2, dtype=np.int64)})
    append_jsonl(path, {"step": 1, "miou": None})
    assert read_jsonl(path) == [{"step": 0, "miou": 0.5, "cm": [[1, 0], [0, 1]]},
                                {"step": 1, "miou": None}]


def test_append_repairs_a_line_torn_by_a_kill(tmp_path, caplog):
    path = tmp_path / "metrics.jsonl"
    append_jsonl(path, {"step": 0})
    with open(path, "a") as handle:
        handle.write('{"step": 1, "miou_al')  # killed mid-write
    with caplog.at_level(logging.WARNING):
        assert read_jsonl(path) == [{"step": 0}]
    assert "incomplete last line" in caplog.text
    append_jsonl(path, {"step": 1})
    assert path.read_text() == '{"step": 0}\n{"step": 1}\n'


def test_append_keeps_a_complete_last_line_missing_its_newline(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 0}\n{"step": 1}')
    assert read_jsonl(path) == [{"step": 0}, {"step": 1}]
    append_jsonl(path, {"step": 2})
    assert read_jsonl(path) == [{"step": 0}, {"step": 1}, {"step": 2}]


def test_read_names_a_corrupt_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 0}\n{"step": 1,,}\n{"step": 2}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl, line 2"):
        read_jsonl(path)
    path.write_text('{"step": 0}\n[1, 2]\n')
    with pytest.raises(ValueError, match="line 2: expected a JSON object"):
        read_jsonl(path)


def test_append_refuses_nan(tmp_path):
    with pytest.raises(ValueError, match="store None"):
        append_jsonl(tmp_path / "m.jsonl", {"step": 0, "loss": float("nan")})


def _record(experiment, method, test, setup, step, classes, old, new, all_, all_bg, ips=None):
    iou = [None] * 21  # classes never seen (or absent, like 19 below) stay None
    for c in [c for c in range(max(classes) + 1) if c <= min(classes) or c in classes]:
        iou[c] = all_bg if c % 2 else old
    return {"experiment": experiment, "method": method, "test": test, "setup": setup,
            "step": step, "classes": classes, "miou_old": old, "miou_new": new,
            "miou_all": all_, "miou_all_bg": all_bg, "images_per_sec": ips, "iou": iou}


def _experiments():
    return {
        "joint": [_record("joint", "joint", "JOINT", "sequential", 0, list(range(1, 21)),
                          0.70, None, 0.69, 0.71, 12.34)],
        "gan-15-5": [
            _record("gan-15-5", "recall_gan", "15-5", "overlapped", 0, list(range(1, 16)),
                    0.75, None, 0.75, 0.76, 10.0),
            _record("gan-15-5", "recall_gan", "15-5", "overlapped", 1, list(range(16, 21)),
                    0.10, 0.10, 0.10, 0.10),  # superseded by the resumed run's record below
            _record("gan-15-5", "recall_gan", "15-5", "overlapped", 1, list(range(16, 21)),
                    0.70, 0.50, 0.65, 0.66, 9.87),
        ],
        "ft-15-5": [
            _record("ft-15-5", "fine_tuning", "15-5", "overlapped", 0, list(range(1, 16)),
                    0.75, None, 0.75, 0.76),
            _record("ft-15-5", "fine_tuning", "15-5", "overlapped", 1, [16, 17, 18, 20],
                    0.05, 0.40, 0.14, 0.155),
        ],
    }


def test_summary_rows_take_last_record_per_step():
    rows = summary_rows(_experiments())
    assert [(r["experiment"], r["step"]) for r in rows] == [
        ("joint", 0), ("gan-15-5", 0), ("gan-15-5", 1), ("ft-15-5", 0), ("ft-15-5", 1)]
    assert rows[2]["miou_old"] == 0.70 and rows[2]["classes"] == "16-20"
    assert rows[4]["classes"] == "16-18,20"
    legacy = summary_rows({"e": [{"step": 2, "step_classes": [3, 4], "miou_all": 0.5}]})
    assert legacy[0]["classes"] == "3-4" and legacy[0]["method"] is None
    assert rows[3]["images_per_sec"] is None


def test_write_summary_files(tmp_path):
    paths = write_summary(tmp_path / "suite", _experiments())
    assert sorted(p.name for p in paths.values()) == [
        "miou_by_step.png", "per_class_iou.png", "summary.csv", "summary.md"]
    markdown = paths["summary_md"].read_text()
    assert "| gan-15-5 | recall_gan | 15-5 | overlapped | 1 | 16-20 | 70.0 | 50.0 | 65.0 | 66.0 " \
           "| -5.0 | -5.0 | 9.9 |" in markdown  # delta_joint: 66.0 - joint's 71.0, twice
    assert "| joint | joint | JOINT | sequential | 0 | 1-20 | 70.0 |  | 69.0 | 71.0 | 0.0 " \
           "| 0.0 | 12.3 |" \
        in markdown
    # final-step table: methods as columns, 'all-with-bg / old / new' per cell
    assert "| test | setup | joint | recall_gan | fine_tuning |" in markdown
    assert "| 15-5 | overlapped |  | 66.0 / 70.0 / 50.0 | 15.5 / 5.0 / 40.0 |" in markdown
    with open(paths["summary_csv"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5
    # mIoU in percent, as in summary.md (the header says so: `_pct`)
    assert rows[4]["experiment"] == "ft-15-5" and float(rows[4]["miou_all_bg_pct"]) == 15.5
    assert float(rows[4]["delta_joint_pct"]) == pytest.approx(15.5 - 71.0)
    assert rows[0]["miou_new_pct"] == "" and rows[3]["images_per_sec"] == ""
    for name in ("miou_by_step", "per_class_iou"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "suite").glob(".*tmp*"))  # no temporary files left


def test_final_iou_matrix_has_nan_for_undefined_classes():
    names, matrix = final_iou_matrix(_experiments())
    assert names == ["joint", "gan-15-5", "ft-15-5"] and matrix.shape == (3, 21)
    assert matrix[1, 16] == pytest.approx(70.0) and matrix[1, 17] == pytest.approx(66.0)
    assert np.isnan(matrix[2, 19]) and not np.isnan(matrix[2, 20])


def test_write_summary_without_results(tmp_path):
    paths = write_summary(tmp_path, {"empty": []})
    assert "No evaluations recorded yet" in paths["summary_md"].read_text()
    assert paths["summary_csv"].read_text().startswith("experiment,method,test,setup,step")
    assert paths["per_class_iou"].exists() and paths["miou_by_step"].exists()


def test_summary_rejects_a_record_without_step(tmp_path):
    with pytest.raises(ValueError, match="'broken'.*record 0 has no 'step'"):
        summary_rows({"broken": [{"miou_all": 0.5}]})


def _read_scalars(logdir):
    values = {}
    for path in sorted(logdir.glob("events.out.tfevents.*")):
        for raw in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(raw.numpy())
            for value in event.summary.value:
                values[(value.tag, event.step)] = float(tf.make_ndarray(value.tensor))
    return values


def test_tensorboard_logger_writes_scalars(tmp_path):
    with TensorBoardLogger(tmp_path / "tb") as logger:
        logger.scalars(3, {"miou_all": 0.5, "miou_prev": None}, prefix="eval")
        logger.scalars(4, {"loss": 1.25})
        logger.scalars(4, {"miou_old": 0.25}, prefix="eval/")
    assert _read_scalars(tmp_path / "tb") == {("eval/miou_all", 3): 0.5, ("loss", 4): 1.25,
                                           ("eval/miou_old", 4): 0.25}



def _steps_as_tensorboard_reads_them(logdir, tag):
    events = EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    events.Reload()
    return [event.step for event in events.Tensors(tag)]


def test_a_run_written_by_many_loggers_is_read_in_the_order_written(tmp_path):
    """Each reused stage's curves and each evaluation open a logger of their own; TensorBoard
    reads the files in name order. TensorFlow's names (seconds, host, pid, an unpadded counter)
    put the 10th file of a second before the 2nd; ours sort as they were written."""
    for step in range(12):
        with TensorBoardLogger(tmp_path / "tb") as logger:
            logger.scalars(step, {"accuracy": 0.5}, prefix="eval")
    assert _steps_as_tensorboard_reads_them(tmp_path / "tb", "eval/accuracy") == list(range(12))
    assert [path.name for path in sorted((tmp_path / "tb").iterdir())] == [
        f"{EVENTS_PREFIX}{number:010d}.v2" for number in range(1, 13)]


def test_a_new_event_file_sorts_after_one_another_host_named_by_its_clock(tmp_path):
    """A run folder on shared storage may hold a file that TensorFlow named on a host whose
    clock is an hour ahead; the new scalars still come after its."""
    with TensorBoardLogger(tmp_path / "tb") as logger:
        logger.scalars(0, {"accuracy": 0.5}, prefix="eval")
    ahead = int(time.time()) + 3600
    [written] = (tmp_path / "tb").glob(EVENTS_PREFIX + "*")
    written.rename(tmp_path / "tb" / f"{EVENTS_PREFIX}{ahead}.other-host.4242.0.v2")
    with TensorBoardLogger(tmp_path / "tb") as logger:
        logger.scalars(1, {"accuracy": 0.75}, prefix="eval")
    assert _steps_as_tensorboard_reads_them(tmp_path / "tb", "eval/accuracy") == [0, 1]
    assert (tmp_path / "tb" / f"{EVENTS_PREFIX}{ahead + 1}.v2").exists()

def test_delta_against_the_suites_joint_and_the_originals_71():
    """Issue 12 item 8: both Δ columns, the original's one even without a joint run."""
    rows = summary_rows({"joint": [{"step": 0, "method": "joint", "miou_all_bg": 0.650}],
                         "r": [{"step": 1, "method": "RECALL-GAN", "miou_all_bg": 0.600}]})
    assert rows[1]["delta_joint"] == pytest.approx(-0.050)
    assert rows[1]["delta_joint_original"] == pytest.approx(-0.110)
    alone = summary_rows({"r": [{"step": 1, "method": "RECALL-GAN", "miou_all_bg": 0.600}]})
    assert alone[0]["delta_joint"] is None
    assert alone[0]["delta_joint_original"] == pytest.approx(-0.110)
