"""Segmentation metrics: a confusion matrix accumulated over a whole validation set.

Dataset-level IoU, as in RECALL: one confusion matrix per evaluation gives per-class IoU,
precision, recall and the mIoU splits of the original's `metrics.py` /
`run_resultssummary.py`, so any of them can be recomputed from the saved matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from continual.data.classes import NUM_CLASSES


def confusion_matrix(labels: tf.Tensor, predictions: tf.Tensor, num_classes: int = NUM_CLASSES,
                     seen_classes: Sequence[int] | None = None) -> tf.Tensor:
    """Count (ground truth, prediction) pairs into an int64 [num_classes, num_classes] matrix.

    Rows are ground truth, columns predictions. Only pixels whose label is in `seen_classes`
    (default: all classes) are counted, so void (255) and classes not yet learned are dropped;
    a prediction may be any class 0..num_classes-1. `labels` and `predictions` have the same,
    arbitrary shape. `seen_classes` is a static Python list (it is baked into the graph).
    Works eagerly and inside `tf.function`; sum the results over batches.
    """
    seen = range(num_classes) if seen_classes is None else seen_classes
    seen_flags = np.zeros(num_classes, dtype=bool)
    for c in seen:
        if not 0 <= int(c) < num_classes:
            raise ValueError(f"seen class {c} is outside 0..{num_classes - 1}")
        seen_flags[int(c)] = True
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    predictions = tf.reshape(tf.cast(predictions, tf.int32), [-1])
    in_range = (labels >= 0) & (labels < num_classes)
    keep = in_range & tf.gather(tf.constant(seen_flags), tf.where(in_range, labels, 0))
    labels = tf.boolean_mask(labels, keep)
    predictions = tf.boolean_mask(predictions, keep)
    tf.debugging.assert_greater_equal(
        predictions, 0, message="confusion_matrix: a prediction is a negative class id")
    tf.debugging.assert_less(
        predictions, num_classes,
        message=f"confusion_matrix: a prediction is >= num_classes ({num_classes})")
    counts = tf.math.bincount(labels * num_classes + predictions, minlength=num_classes ** 2,
                              maxlength=num_classes ** 2, dtype=tf.int64)
    return tf.reshape(counts, [num_classes, num_classes])


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator) / float(denominator) if denominator > 0 else None


def _mean(values: Sequence[float | None], classes: Sequence[int]) -> float | None:
    """Mean of `values` over `classes`, skipping None; None when nothing is left."""
    defined = [values[c] for c in classes if values[c] is not None]
    return float(np.mean(defined)) if defined else None


def segmentation_metrics(cm: np.ndarray, *, seen: Sequence[int], n0: int, n_old: int,
                         step_classes: Sequence[int]) -> dict:
    """Per-class IoU / precision / recall and the mIoU splits from one confusion matrix.

    `seen` are the classes evaluated (0..b), `n0` the number of step-0 foreground classes,
    `n_old` the number of foreground classes learned before this step (0 at step 0) and
    `step_classes` the classes this step adds. Per-class lists have one entry per class and
    hold None for classes not in `seen` or with an empty denominator (IoU: TP+FP+FN == 0).
    Means skip None; a mean over no class is None. mIoU values are fractions in [0, 1].
    """
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {cm.shape}")
    num_classes = cm.shape[0]
    seen = sorted({int(c) for c in seen})
    for c in [*seen, *step_classes]:
        if not 0 <= c < num_classes:
            raise ValueError(f"class {c} is outside the {num_classes}x{num_classes} matrix")
    if n0 < 0 or n_old < 0:
        raise ValueError(f"n0 ({n0}) and n_old ({n_old}) must be >= 0")
    tp = np.diag(cm)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    is_seen = set(seen)
    iou, precision, recall = [], [], []
    for c in range(num_classes):
        evaluated = c in is_seen
        iou.append(_ratio(tp[c], tp[c] + fp[c] + fn[c]) if evaluated else None)
        precision.append(_ratio(tp[c], tp[c] + fp[c]) if evaluated else None)
        recall.append(_ratio(tp[c], tp[c] + fn[c]) if evaluated else None)
    foreground = [c for c in seen if c >= 1]
    return {
        "iou": iou,
        "precision": precision,
        "recall": recall,
        "miou_all_bg": _mean(iou, seen),
        "miou_all": _mean(iou, foreground),
        "miou_old": _mean(iou, [c for c in foreground if c <= n0]),
        "miou_prev": _mean(iou, [c for c in foreground if c <= n_old]),
        "miou_new": _mean(iou, [c for c in foreground if c > n0]),
        "miou_step": _mean(iou, sorted(int(c) for c in step_classes)),
        "pixel_acc": _ratio(tp.sum(), cm.sum()),
    }
