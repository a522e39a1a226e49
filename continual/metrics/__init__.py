"""Evaluation metrics, each a function of one stored matrix, so any can be recomputed later.

Segmentation (`segmentation.py`): a confusion matrix accumulated over a validation set gives
per-class IoU, precision, recall and RECALL's mIoU splits. Continual classification
(`accuracy_matrix.py`): an accuracy matrix R[i, j] (accuracy on task j after training task i)
gives final and average incremental accuracy, forgetting, BWT, FWT and intransigence; the
per-class rows give AMCA. `stream_metrics` derives all of them from metrics.jsonl records.
"""

from continual.metrics.accuracy_matrix import (
    accuracy_matrix,
    accuracy_matrix_metrics,
    amca,
    average_incremental_accuracy,
    backward_transfer,
    class_mean,
    final_accuracy,
    forgetting,
    forward_transfer,
    intransigence,
    intransigence_last,
    last_record_per_experience,
    stream_metrics,
    task_forgetting,
)
from continual.metrics.segmentation import confusion_matrix, segmentation_metrics

__all__ = [
    "accuracy_matrix", "accuracy_matrix_metrics", "amca", "average_incremental_accuracy",
    "backward_transfer", "class_mean", "confusion_matrix", "final_accuracy", "forgetting",
    "forward_transfer", "intransigence", "intransigence_last", "last_record_per_experience",
    "segmentation_metrics", "stream_metrics", "task_forgetting",
]
