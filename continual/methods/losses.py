"""RECALL's loss: softmax cross-entropy over pixels whose label is a seen class, plus kernel L2."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


def class_table(classes: Sequence[int], size: int = 256) -> tf.Tensor:
    """Boolean lookup table: entry c is True when label value c is one of `classes`."""
    table = [False] * size
    for c in classes:
        table[int(c)] = True
    return tf.constant(table, dtype=tf.bool)


def masked_cross_entropy(labels: tf.Tensor, logits: tf.Tensor,
                         valid_table: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Sum of per-pixel cross-entropy over pixels whose label is valid, and their count.

    Pixels labelled 255 or with a class not in the table are dropped (the original's masked
    cross-entropy).
    Returning the sum and the count (not the mean) lets replicas of a distributed step
    normalise by the global count.
    """
    labels = tf.cast(labels, tf.int32)
    valid = tf.gather(valid_table, labels)
    safe = tf.where(valid, labels, tf.zeros_like(labels))
    per_pixel = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=safe, logits=tf.cast(logits, tf.float32))
    weights = tf.cast(valid, tf.float32)
    return tf.reduce_sum(per_pixel * weights), tf.reduce_sum(weights)
