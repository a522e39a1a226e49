"""Classification evaluation after an experience: one row of the accuracy matrix and more.

The test rows are predicted once; from the predictions come R[i, j] for every experience j
(accuracy on j's test rows), the overall accuracy on the rows the scenario says this
evaluation reads, per-class accuracy, the class-mean accuracy and top-5 accuracy; with a
`top_k` (`StreamPlan.top_k`, RM's `--topk`) also `top_k_accuracy`: the true label among the k
highest logits, over the same rows as `accuracy` (ties: the lower class index first).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from continual.data.image_table import read_ahead


def predict_logits(predict: Callable[[tf.Tensor], tf.Tensor], table, ids: np.ndarray,
                   batch_size: int) -> np.ndarray:
    """Logits float32 [len(ids), C] of the rows `ids`, in batches."""
    outputs = []
    read_ahead(table, [ids[start:start + batch_size] for start in range(0, len(ids), batch_size)])
    for start in range(0, len(ids), batch_size):
        images, _ = table.gather(ids[start:start + batch_size])
        outputs.append(np.asarray(predict(images), dtype=np.float32))
    return np.concatenate(outputs) if outputs else np.zeros((0, table.num_classes), np.float32)


def _accuracy(correct: np.ndarray) -> float | None:
    return float(correct.mean()) if correct.size else None


def top_k_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float | None:
    """Fraction of rows whose label is among their k highest logits (stable order)."""
    best = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return _accuracy((best == labels[:, None]).any(axis=1))


def classification_metrics(logits: np.ndarray, labels: np.ndarray, ids: np.ndarray,
                           task_test_ids, eval_ids, num_classes: int,
                           top_k: int | None = None) -> dict:
    """Metrics of one evaluation from the logits of the test rows `ids` (any order)."""
    position = {int(row): i for i, row in enumerate(ids)}
    predicted = logits.argmax(axis=1)
    correct = predicted == labels

    def rows(selection) -> np.ndarray:
        return np.asarray([position[int(r)] for r in selection], dtype=np.int64)

    evaluated = rows(eval_ids)
    per_class = {}
    for cls in range(num_classes):
        members = evaluated[labels[evaluated] == cls]
        per_class[str(cls)] = _accuracy(correct[members])
    present = [v for v in per_class.values() if v is not None]
    top5 = None
    if num_classes > 5:
        top5 = top_k_accuracy(logits[evaluated], labels[evaluated], 5)
    chosen_k = {} if top_k is None else {
        "top_k": int(top_k),
        "top_k_accuracy": top_k_accuracy(logits[evaluated], labels[evaluated], int(top_k))}
    return {
        "accuracy_row": [_accuracy(correct[rows(task)]) for task in task_test_ids],
        "accuracy": _accuracy(correct[evaluated]),
        "per_class_accuracy": per_class,
        "mean_class_accuracy": float(np.mean(present)) if present else None,
        "top5_accuracy": top5,
        "num_images": int(len(evaluated)),
        **chosen_k,
    }


def evaluate_experience(predict, table, scenario, experience, batch_size: int,
                        top_k: int | None = None) -> dict:
    """Evaluate a model on `table` (the test set) as the scenario prescribes after `experience`
    (None = before any training: the random-initialisation row used for forward transfer);
    `top_k` adds `top_k_accuracy`."""
    task_ids = [np.asarray(t, dtype=np.int64) for t in scenario.task_test_ids]
    eval_ids = (np.asarray(experience.eval_ids, dtype=np.int64) if experience is not None
                else np.unique(np.concatenate(task_ids)))
    ids = np.unique(np.concatenate([eval_ids, *task_ids]))
    logits = predict_logits(predict, table, ids, batch_size)
    labels = table.labels_of(ids)
    return classification_metrics(logits, labels, ids, task_ids, eval_ids, table.num_classes,
                                  top_k)
