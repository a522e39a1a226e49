"""Classification metrics of one evaluation, checked against values computed by hand."""

import numpy as np
import pytest

from continual.loop.evaluation import classification_metrics


def test_rows_overall_per_class_and_top5_by_hand():
    # Test rows 10..15 with labels 0, 0, 1, 1, 2, 6 (7 classes); predictions 0, 1, 1, 1, 0, 6.
    ids = np.array([10, 11, 12, 13, 14, 15])
    labels = np.array([0, 0, 1, 1, 2, 6])
    predicted = [0, 1, 1, 1, 0, 6]
    logits = np.full((6, 7), -1.0)
    for row, cls in enumerate(predicted):
        logits[row, cls] = 5.0
    logits[4, 2] = 1.0  # row 14 (label 2) has its label second: right in top-5, wrong in top-1
    tasks = [[10, 11], [12, 13], [14, 15]]
    metrics = classification_metrics(logits, labels, ids, tasks, eval_ids=[10, 11, 12, 13],
                                     num_classes=7)
    assert metrics["accuracy_row"] == [0.5, 1.0, 0.5]
    assert metrics["accuracy"] == 0.75           # 3 of the 4 evaluated rows
    assert metrics["per_class_accuracy"]["0"] == 0.5 and metrics["per_class_accuracy"]["1"] == 1.0
    assert metrics["per_class_accuracy"]["2"] is None  # not in the evaluated rows
    assert metrics["mean_class_accuracy"] == 0.75
    assert metrics["top5_accuracy"] == 1.0 and metrics["num_images"] == 4
    everything = classification_metrics(logits, labels, ids, tasks, eval_ids=ids, num_classes=7)
    assert everything["top5_accuracy"] == pytest.approx(1.0)
    assert everything["accuracy"] == pytest.approx(4 / 6)


def test_an_empty_task_has_no_accuracy_and_few_classes_no_top5():
    logits = np.eye(3)
    metrics = classification_metrics(logits, np.array([0, 1, 2]), np.array([0, 1, 2]),
                                      [[0, 1], []], eval_ids=[0, 1, 2], num_classes=3)
    assert metrics["accuracy_row"] == [1.0, None] and metrics["top5_accuracy"] is None
