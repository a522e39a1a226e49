"""RM's best-epoch A_last / A_avg (opt-in, test-selected) and intransigence against a joint
reference per task count (Chaudhry's a*_k = R_joint[k, k]), by hand, and in the summary."""

import logging

import pytest

from continual.metrics import stream_metrics
from continual.plans.epoch_accuracy import best_epoch_values, check_rule
from continual.reporting.stream_tables import experience_rows, stream_markdown, stream_rows

R2 = [[0.8, 0.0], [0.5, 0.7]]


def _records(name, rows, accuracies, best=None, joint=None, count=None):
    records = []
    for i, (row, accuracy) in enumerate(zip(rows, accuracies, strict=True)):
        record = {"experiment": name, "plan_kind": "stream", "method": name, "scenario": "blurry",
                  "experience": i, "num_experiences": count or len(rows), "accuracy_row": row,
                  "accuracy": accuracy, "a_avg_rule": "last epoch"}
        if best is not None:
            record.update(accuracy_best_epoch_test=best[i],
                          accuracy_rule="best epoch, selected on the test set")
        if joint:
            record["joint_experiment"] = joint
        records.append(record)
    return records


def test_best_epoch_value_is_the_max_over_epochs_and_the_final_evaluation():
    info = {"epoch_accuracies": [0.4, 0.7, 0.6], "epoch_top_k_accuracies": [0.8, 0.9, 0.85]}
    assert best_epoch_values(info, {"accuracy": 0.6, "top_k_accuracy": 0.85}) == {
        "accuracy_best_epoch_test": 0.7, "top_k_accuracy_best_epoch_test": 0.9}
    # a method evaluated only after its hooks (RM's iCaRL, BiC): its final accuracy
    assert best_epoch_values({}, {"accuracy": 0.55}) == {"accuracy_best_epoch_test": 0.55}
    with pytest.raises(ValueError, match="StreamPlan.accuracy_rule = 'best'"):
        check_rule("best")


def test_best_epoch_a_last_and_a_avg_beside_the_last_epoch_ones():
    m = stream_metrics(_records("rm", R2, [0.3, 0.6], best=[0.5, 0.65]))
    assert m["a_last_best_epoch_test"] == pytest.approx(0.65)
    assert m["a_avg_best_epoch_test"] == pytest.approx(0.575)      # (50 + 65) / 2
    assert m["a_avg"] == pytest.approx(0.45) and m["final_accuracy"] == pytest.approx(0.6)
    assert "a_last_best_epoch_test" not in stream_metrics(_records("rm", R2, [0.3, 0.6]))


def test_intransigence_against_a_joint_model_per_task_count(caplog):
    # joint per k: R_joint[0, 0] = 0.9 (trained on task 0), R_joint[1, 1] = 0.8 (tasks 0..1)
    joint = _records("jpt", [[0.9, 0.0], [0.85, 0.8]], [0.45, 0.825])
    m = stream_metrics(_records("rm", R2, [0.3, 0.6], joint="jpt"), joint)
    assert m["intransigence"] == pytest.approx(((0.9 - 0.8) + (0.8 - 0.7)) / 2)
    assert m["intransigence_reference"] == "joint on tasks 0..k"
    assert m["intransigence_last"] == pytest.approx(0.825 - 0.6)  # the k = T - 1 model
    one = _records("joint", [[0.95, 0.75]], [0.85], count=1)
    m = stream_metrics(_records("rm", R2, [0.3, 0.6], joint="joint"), one)
    assert m["intransigence"] == pytest.approx(((0.95 - 0.8) + (0.75 - 0.7)) / 2)
    assert m["intransigence_reference"] == "joint on all tasks"
    with caplog.at_level(logging.INFO, logger="continual.metrics"):
        partial = stream_metrics(_records("rm", R2, [0.3, 0.6]), joint[:1])
    assert partial["intransigence"] is None and "has 1 of its 2 evaluations" in caplog.text
    three = [[0.9, 0.0], [0.8, 0.7], [0.7, 0.7]]
    with pytest.raises(ValueError, match="'jpt' has 3 experiences; link a joint run of one"):
        stream_metrics(_records("rm", R2, [0.3, 0.6]),
                       _records("jpt", [r[:2] for r in three], [0.4, 0.5, 0.6]))


def _markdown(experiments) -> str:
    return stream_markdown(stream_rows(experiments), experience_rows(experiments))


def test_summary_columns_only_when_asked():
    plain = {"rm": _records("rm", R2, [0.3, 0.6]),
             "joint": _records("joint", [[0.95, 0.75]], [0.85], count=1)}
    plain["rm"][-1]["joint_experiment"] = "joint"
    text = _markdown(plain)
    assert "best_epoch" not in text and "intransigence_reference" not in text
    asked = {"rm": _records("rm", R2, [0.3, 0.6], best=[0.5, 0.65], joint="jpt"),
             "jpt": _records("jpt", [[0.9, 0.0], [0.85, 0.8]], [0.45, 0.825])}
    text = _markdown(asked)
    assert "SELECTED ON THE TEST SET" in text and "rule: best epoch, selected on the test set" \
        in text
    header = next(line for line in text.splitlines() if line.startswith("| experiment"))
    assert "a_last_best_epoch_test | a_avg_best_epoch_test" in header
    assert header.rstrip(" |").endswith("intransigence_reference")
    rm_row = next(line for line in text.splitlines() if line.startswith("| rm |"))
    assert "| 65.0 | 57.5 |" in rm_row and "| 10.0 | 22.5 | joint on tasks 0..k |" in rm_row
    for record in asked["jpt"]:
        record["scenario"] = "cumulative_joint"
    jpt = next(row for row in stream_rows(asked) if row["experiment"] == "jpt")
    assert jpt["forgetting"] is None and jpt["bwt"] is None    # independent models per k
    assert jpt["forgetting_rm"] is None
    assert stream_metrics(asked["jpt"])["forgetting"] == pytest.approx(0.05)
