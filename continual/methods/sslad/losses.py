"""The losses of the SSLAD Track 3A method (the original's `loss.py` and
pytorch-metric-learning's losses), as TensorFlow functions.

- `class_balanced_focal`: Cui et al.'s class-balanced weights from the counts of the current
  mini-batch (as the original: not the training set's, not
  renormalised) times Lin et al.'s focal loss.
- `soft_label_kl`: retrospection, KL from the logits a memory item had when it entered memory.
- `contrastive`: pytorch-metric-learning's ContrastiveLoss over all pairs (no miner).
- `supervised_contrastive`: pytorch-metric-learning's SupConLoss.
Both metric losses average over the terms with a positive loss (the library's
AvgNonZeroReducer); an empty set of such terms gives 0. Under several replicas every loss is
this replica's share of the global batch's (counts and pairs over the whole batch:
continual/methods/data_parallel.py).
"""

from __future__ import annotations

import tensorflow as tf

from continual.methods import data_parallel

PROBABILITY_EPSILON = 1e-6  # the original adds it to the softmax and to the class counts


def class_balanced_weights(labels: tf.Tensor, num_classes: int, beta: float) -> tf.Tensor:
    """float32 [num_classes]: (1 - beta) / (1 - beta ** n_c), n_c = batch count of class c."""
    counts = data_parallel.summed_across_replicas([tf.math.bincount(
        tf.cast(labels, tf.int32), minlength=num_classes, maxlength=num_classes,
        dtype=tf.float32)])[0] + PROBABILITY_EPSILON
    return (1.0 - beta) / (1.0 - tf.pow(tf.constant(beta, tf.float32), counts))


def class_balanced_focal(labels: tf.Tensor, logits: tf.Tensor, *, alpha: float, gamma: float,
                         beta: float | None) -> tf.Tensor:
    """Mean over rows of -alpha * w_y * (1 - p_y) ** gamma * log p_y, p = softmax + 1e-6.

    `beta` None gives w = 1 (plain focal loss; with alpha 1 and gamma 0, cross-entropy up to
    the 1e-6 of the original).
    """
    logits = tf.cast(logits, tf.float32)
    labels = tf.cast(labels, tf.int32)
    p_true = tf.gather(tf.nn.softmax(logits), labels, batch_dims=1) + PROBABILITY_EPSILON
    # gamma 0: no modulating factor. tf.pow(0, 0)'s gradient is 0 * 0^-1 = NaN, which a row
    # whose softmax rounds to 1 (then 1 - p_true is 0) would put into every weight; PyTorch,
    # which the original runs on, gives pow(x, 0) a zero gradient.
    modulating = tf.pow(1.0 - p_true, gamma) if gamma != 0 else 1.0
    loss = -alpha * modulating * tf.math.log(p_true)
    if beta is not None:
        loss *= tf.gather(class_balanced_weights(labels, logits.shape[-1], beta), labels)
    return data_parallel.global_mean(loss)


def soft_label_kl(saved_logits: tf.Tensor, logits: tf.Tensor, temperature: float) -> tf.Tensor:
    """tau^2 * KL(softmax(saved / tau) || softmax(now / tau)), mean over rows ('batchmean');
    0 for no rows."""
    target = tf.nn.softmax(tf.cast(saved_logits, tf.float32) / temperature)
    log_now = tf.nn.log_softmax(tf.cast(logits, tf.float32) / temperature)
    per_row = tf.reduce_sum(tf.math.xlogy(target, target) - target * log_now, axis=-1)
    rows = data_parallel.summed_across_replicas([tf.cast(tf.shape(per_row)[0], tf.float32)])[0]
    return temperature ** 2 * tf.math.divide_no_nan(tf.reduce_sum(per_row), rows)


def _pair_masks(labels: tf.Tensor, all_labels: tf.Tensor, first: tf.Tensor
                ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(positive, negative, distinct) boolean [b, B] masks of the pairs (row i of this
    replica's b rows, which is row first + i of the batch, with row j of the batch's B)."""
    same = tf.equal(labels[:, None], all_labels[None, :])
    rows = tf.range(tf.shape(labels)[0]) + tf.cast(first, tf.int32)
    distinct = tf.not_equal(rows[:, None], tf.range(tf.shape(all_labels)[0])[None, :])
    return same & distinct, tf.logical_not(same), distinct


def _mean_nonzero(losses: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean of `losses` over entries of `mask` whose loss is > 0 (0 when there are none), over
    the global batch (this replica's share)."""
    counted = tf.cast(mask & (losses > 0), tf.float32)
    total = data_parallel.summed_across_replicas([tf.reduce_sum(counted)])[0]
    return tf.math.divide_no_nan(tf.reduce_sum(losses * counted), total)


def _unit_pairs(embeddings: tf.Tensor, labels: tf.Tensor):
    """L2-normalised rows of this replica and of the whole batch, the batch's labels and this
    replica's first row (data_parallel.gathered_rows)."""
    unit = tf.math.l2_normalize(tf.cast(embeddings, tf.float32), axis=-1)
    labels = tf.cast(labels, tf.int32)
    all_unit, first = data_parallel.gathered_rows(unit)
    all_labels, _ = data_parallel.gathered_rows(labels)
    return unit, all_unit, labels, all_labels, first


def contrastive(embeddings: tf.Tensor, labels: tf.Tensor, *, positive_margin: float = 0.0,
                negative_margin: float = 1.0) -> tf.Tensor:
    """[d - m_p]+ over positive pairs plus [m_n - d]+ over negative pairs, each averaged over
    its pairs with a positive loss; d = L2 distance of L2-normalised embeddings."""
    unit, all_unit, labels, all_labels, first = _unit_pairs(embeddings, labels)
    squared = tf.maximum(2.0 - 2.0 * tf.matmul(unit, all_unit, transpose_b=True), 0.0)
    distance = tf.sqrt(tf.maximum(squared, 1e-12))  # finite gradient on identical rows
    positive, negative, _ = _pair_masks(labels, all_labels, first)
    return (_mean_nonzero(tf.nn.relu(distance - positive_margin), positive)
            + _mean_nonzero(tf.nn.relu(negative_margin - distance), negative))


def supervised_contrastive(embeddings: tf.Tensor, labels: tf.Tensor, *,
                           temperature: float = 0.1) -> tf.Tensor:
    """Per anchor i with positives P(i): -(1/|P(i)|) sum_p log(exp(s_ip / t) /
    sum_{a != i} exp(s_ia / t)), s = cosine similarity; mean over anchors with a positive loss."""
    unit, all_unit, labels, all_labels, first = _unit_pairs(embeddings, labels)
    logits = tf.matmul(unit, all_unit, transpose_b=True) / temperature
    positive, _, others = _pair_masks(labels, all_labels, first)
    masked = tf.where(others, logits, tf.fill(tf.shape(logits), -1e9))
    log_prob = logits - tf.reduce_logsumexp(masked, axis=1, keepdims=True)
    weights = tf.cast(positive, tf.float32)
    count = tf.reduce_sum(weights, axis=1)
    per_anchor = -tf.math.divide_no_nan(tf.reduce_sum(log_prob * weights, axis=1), count)
    return _mean_nonzero(per_anchor, count > 0)
