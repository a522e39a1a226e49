"""Evaluation of a segmenter: one confusion matrix over a whole validation set.

Batches come from `eval_dataset`: each image at its own size by default (as the original
evaluates: batch 1, full resolution), or padded to a fixed size (padding labelled 255). The
evaluation function is compiled once for the dataset's element spec, whose height and width
are unknown at native size, so it never retraces per image size. Pixels whose label is not a
seen class are dropped; predictions may be any of the model's channels (RECALL's
`Model._get_confusion_matrix`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from continual.methods.losses import class_table, masked_cross_entropy
from continual.metrics import confusion_matrix


def evaluate(forward: Callable[[tf.Tensor], tf.Tensor], dataset: tf.data.Dataset,
             seen_classes: Sequence[int], num_classes: int, num_batches: int | None = None,
             strategy: tf.distribute.Strategy | None = None,
             desc: str = "eval") -> tuple[np.ndarray, float]:
    """Accumulated confusion matrix and mean masked cross-entropy over `dataset`."""
    strategy = strategy or tf.distribute.get_strategy()
    valid_table = class_table(seen_classes)

    def replica_step(images, labels):
        logits = forward(images)
        predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
        cm = confusion_matrix(labels, predictions, num_classes, seen_classes)
        loss_sum, count = masked_cross_entropy(labels, logits, valid_table)
        return cm, loss_sum, count

    distributed = strategy.experimental_distribute_dataset(dataset)

    @tf.function(input_signature=[distributed.element_spec])
    def step(batch):
        cm, loss_sum, count = strategy.run(replica_step, args=batch)
        total = [strategy.reduce(tf.distribute.ReduceOp.SUM, x, axis=None)
                 for x in (cm, loss_sum, count)]
        return tuple(total)

    cm_total = np.zeros((num_classes, num_classes), np.int64)
    loss_total, count_total = 0.0, 0.0
    for batch in tqdm(distributed, total=num_batches,
                      desc=desc, unit="batch", leave=False):
        cm, loss_sum, count = step(batch)
        cm_total += cm.numpy().astype(np.int64)
        loss_total += float(loss_sum)
        count_total += float(count)
    return cm_total, loss_total / max(count_total, 1.0)
