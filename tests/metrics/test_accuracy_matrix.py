import logging

import numpy as np
import pytest

from continual.metrics import (
    accuracy_matrix,
    amca,
    average_incremental_accuracy,
    backward_transfer,
    final_accuracy,
    forgetting,
    forward_transfer,
    intransigence,
    intransigence_last,
    stream_metrics,
)
from continual.metrics.accuracy_matrix import rm_forgetting

# R[i, j]: accuracy on experience j's test data after training experience i.
R3 = np.array([[0.70, 0.05, 0.10],
               [0.40, 0.90, 0.20],
               [0.30, 0.60, 0.80]])
# R4[1, 0] > R4[0, 0] (the max in forgetting is not R[j, j]); R4[0, 2] = 0.95 lies before task 2
# was learned, so forgetting must not read it.
R4 = np.array([[0.80, 0.10, 0.95, 0.00],
               [0.85, 0.70, 0.10, 0.05],
               [0.50, 0.65, 0.90, 0.20],
               [0.40, 0.30, 0.60, 0.75]])


def test_3x3_by_hand():
    assert final_accuracy(R3) == pytest.approx((0.30 + 0.60 + 0.80) / 3)
    assert average_incremental_accuracy(R3) == pytest.approx(
        (0.70 + (0.40 + 0.90) / 2 + (0.30 + 0.60 + 0.80) / 3) / 3)
    assert forgetting(R3) == pytest.approx(((0.70 - 0.30) + (0.90 - 0.60)) / 2)
    assert backward_transfer(R3) == pytest.approx(((0.30 - 0.70) + (0.60 - 0.90)) / 2)
    assert forward_transfer(R3, [0.1, 0.1, 0.1]) == pytest.approx(((0.05 - 0.1) + (0.20 - 0.1))
                                                                 / 2)
    assert intransigence(R3, [0.75, 0.95, 0.80]) == pytest.approx(0.10 / 3)


def test_4x4_by_hand():
    assert final_accuracy(R4) == pytest.approx(0.5125)
    assert average_incremental_accuracy(R4) == pytest.approx(
        (0.80 + 0.775 + 2.05 / 3 + 0.5125) / 4)
    # j=0: max(0.80, 0.85, 0.50) - 0.40; j=1: max(0.70, 0.65) - 0.30; j=2: 0.90 - 0.60
    assert forgetting(R4) == pytest.approx((0.45 + 0.40 + 0.30) / 3)
    assert backward_transfer(R4) == pytest.approx((-0.40 - 0.40 - 0.30) / 3)
    # R[0,1] - b1, R[1,2] - b2, R[2,3] - b3; b0 is never read
    assert forward_transfer(R4, [0.99, 0.05, 0.05, 0.10]) == pytest.approx(0.20 / 3)
    assert intransigence(R4, [0.90, 0.80, 0.95, 0.85]) == pytest.approx(0.35 / 4)
    assert intransigence_last(0.5125, 0.875) == pytest.approx(0.3625)


def test_partial_run_uses_the_evaluations_so_far():
    two = R4[:2]  # stopped after experience 1
    assert forgetting(two) == pytest.approx(0.80 - 0.85)
    assert average_incremental_accuracy(two) == pytest.approx((0.80 + 0.775) / 2)
    assert intransigence(two, [0.90, 0.80, 0.95, 0.85]) == pytest.approx(0.10)


def test_undefined_metrics_are_none_not_zero():
    single = R3[:1]
    assert forgetting(single) is None and backward_transfer(single) is None
    assert forward_transfer(single, [0.1, 0.1, 0.1]) is None
    assert forward_transfer(R3, None) is None and intransigence(R3, None) is None
    assert intransigence_last(0.5, None) is None and intransigence_last(None, 0.9) is None
    assert final_accuracy(np.zeros((0, 3))) is None and amca([]) is None
    with_gap = R3.copy()
    with_gap[1, 1] = np.nan  # a missing entry makes every metric that reads it undefined
    assert backward_transfer(with_gap) is None and forgetting(with_gap) is None
    assert final_accuracy(with_gap) == pytest.approx((0.30 + 0.60 + 0.80) / 3)


def test_bad_shapes_name_the_argument():
    with pytest.raises(ValueError, match="joint_row must have 3 entries"):
        intransigence(R3, [0.9, 0.9])
    with pytest.raises(ValueError, match="random_init_row must have 3 entries"):
        forward_transfer(R3, [0.1])
    with pytest.raises(ValueError, match="one row per experience"):
        final_accuracy(np.zeros((3, 2)))


def test_amca_skips_classes_absent_from_the_evaluation_set():
    rows = [{"0": 0.5, "1": None, "2": 1.0}, [0.25, 0.75, float("nan")]]
    assert amca(rows) == pytest.approx((0.75 + 0.5) / 2)  # None is not a 0
    assert amca([{"0": 0.5}, None]) is None  # an evaluation without per-class accuracy


def _records(matrix, name="exp", joint=None):
    records = [{"experiment": name, "plan_kind": "stream", "experience": -1,
                "num_experiences": 3, "accuracy_row": [0.1, 0.1, 0.1], "accuracy": 0.1}]
    for i, row in enumerate(matrix):
        records.append({"experiment": name, "plan_kind": "stream", "experience": i,
                        "num_experiences": 3, "accuracy_row": list(row),
                        "accuracy": float(np.mean(row[: i + 1])),
                        "per_class_accuracy": {"0": row[0], "1": row[1], "2": None},
                        "mean_class_accuracy": None, "images_per_sec": 10.0 * (i + 1)})
        if joint:
            records[-1]["joint_experiment"] = joint
    return records


def test_accuracy_matrix_from_records_keeps_the_last_record_per_experience():
    records = _records(R3)
    records.insert(2, {**records[2], "accuracy_row": [0.0, 0.0, 0.0]})  # superseded
    R, random_init = accuracy_matrix(records)
    np.testing.assert_allclose(R, R3)
    np.testing.assert_allclose(random_init, [0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match=r"'exp'.*experiences \[0, 2\]"):
        accuracy_matrix([r for r in _records(R3) if r["experience"] != 1])
    with pytest.raises(ValueError, match="experience 1: accuracy_row must have 3 entries"):
        accuracy_matrix(_records([R3[0], [0.5, 0.5]]))
    with pytest.raises(ValueError, match=r"experiences \[0, 1, 2\] for num_experiences 2"):
        accuracy_matrix([{**r, "num_experiences": 2} for r in _records(R3)])


def test_stream_metrics_with_and_without_a_joint_run(caplog):
    # a joint run: one experience, evaluated on each of the stream's three tasks
    joint = [{"experiment": "joint", "experience": 0, "num_experiences": 1,
              "accuracy_row": [0.75, 0.95, 0.80], "accuracy": 0.85}]
    m = stream_metrics(_records(R3, joint="joint"), joint)
    assert m["intransigence"] == pytest.approx(0.10 / 3)
    assert m["intransigence_last"] == pytest.approx(0.85 - 1.70 / 3)
    assert m["fwt"] == pytest.approx(0.025) and m["final_accuracy"] == pytest.approx(1.7 / 3)
    assert m["amca"] == pytest.approx(((0.70 + 0.05) / 2 + 0.65 + 0.45) / 3)
    assert m["mean_class_accuracy_final"] == pytest.approx(0.45)
    assert m["images_per_sec"] == pytest.approx(20.0)
    with caplog.at_level(logging.INFO, logger="continual.metrics"):
        alone = stream_metrics(_records(R3))
    assert alone["intransigence"] is None and alone["intransigence_last"] is None
    assert "'exp': intransigence omitted: no joint run is linked" in caplog.text
    with pytest.raises(ValueError, match="its joint run 'joint' evaluates 2"):
        stream_metrics(_records(R3), [{**joint[0], "num_experiences": 2,
                                       "accuracy_row": [0.9, 0.9]}])


def test_rm_forgetting_takes_the_max_over_every_earlier_evaluation():
    """RM's main.py: max over all t < T-1 (its class blocks are tested from task 0 in a
    blurry stream); Chaudhry's: max over l >= j only. R4[0, 2] = 0.95 lies before task 2."""
    # j=0: max(.80, .85, .50) - .40; j=1: max(.10, .70, .65) - .30; j=2: max(.95, .10, .90) - .60
    assert rm_forgetting(R4) == pytest.approx((0.45 + 0.40 + 0.35) / 3)
    assert forgetting(R4) == pytest.approx((0.45 + 0.40 + 0.30) / 3)
    assert rm_forgetting(R4[:1]) is None
