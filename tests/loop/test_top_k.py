"""StreamPlan.top_k (RM's --topk): the top-k accuracy of an evaluation by hand, only when
asked for, and RM's A_last / A_avg over it in the summary metrics."""

import numpy as np

from continual.loop.evaluation import classification_metrics
from continual.metrics.accuracy_matrix import top_k_summary

# 4 test rows, 4 classes; the label's rank among the logits: 1st, 2nd, 3rd, 2nd (tie -> lower)
LOGITS = np.array([[9.0, 1, 0, 0], [5, 4, 0, 0], [3, 2, 1, 0], [1, 1, 0, 0]], np.float32)
LABELS = np.array([0, 1, 2, 1])
IDS = np.array([10, 11, 12, 13])


def _metrics(top_k=None):
    return classification_metrics(LOGITS, LABELS, IDS, [IDS], eval_ids=IDS, num_classes=4,
                                  top_k=top_k)


def test_top_k_accuracy_by_hand():
    assert _metrics(1)["top_k_accuracy"] == 0.25 == _metrics(1)["accuracy"]
    assert _metrics(2)["top_k_accuracy"] == 0.75        # the tie at row 3 goes to class 0
    assert _metrics(3)["top_k_accuracy"] == 1.0 and _metrics(3)["top_k"] == 3


def test_no_top_k_keys_unless_asked():
    assert "top_k" not in _metrics() and "top_k_accuracy" not in _metrics()


def test_summary_a_last_and_a_avg_over_top_k():
    evaluations = [{"top_k": 2, "top_k_accuracy": 0.5}, {"top_k": 2, "top_k_accuracy": 0.75}]
    assert top_k_summary(evaluations) == {"top_k": 2, "final_top_k_accuracy": 0.75,
                                          "a_avg_top_k": 0.625}
    assert top_k_summary([{"accuracy": 0.5}]) == {}
