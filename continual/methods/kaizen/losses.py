"""Kaizen's losses (Tang et al., WACV 2024; `kaizen/losses/*`, `kaizen/distiller_factories/*`).

SSL losses for the current task (L_FE^CT): BYOL's 2 - 2 cos, SimCLR's NT-Xent, MoCo v2+'s
InfoNCE against a queue of negatives and VICReg's invariance / variance / covariance. Feature
distillation (L_FE^KD) between the distillation predictor's output h(z) and the frozen
teacher's projection z_old: contrastive (MoCo, SimCLR), predictive (BYOL), predictive-MSE
(VICReg). Classifier terms:
cross-entropy on labels (L_C^CT) and soft-label cross-entropy against the previous classifier
(L_C^KD). Every loss is a float32 scalar: a mean over the batch. Under several replicas each is
this replica's share of the global batch's loss (the shares add up to it): per-row means are
`global_mean`s, SimCLR's and the contrastive distiller's pairs run over every row of the batch
(gathered), VICReg's variance and covariance over the batch's statistics (all-reduced)
(continual/methods/data_parallel.py).
"""

from __future__ import annotations

import tensorflow as tf

from continual.methods import data_parallel


def _normalized(x: tf.Tensor) -> tf.Tensor:
    return tf.math.l2_normalize(tf.cast(x, tf.float32), axis=1)


def byol_loss(p: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
    """mean_i (2 - 2 cos(p_i, sg z_i)): BYOL's regression loss, the target not differentiated."""
    cos = tf.reduce_sum(_normalized(p) * tf.stop_gradient(_normalized(z)), axis=1)
    return data_parallel.global_mean(2.0 - 2.0 * cos)


def nt_xent_loss(z1: tf.Tensor, z2: tf.Tensor, temperature: float) -> tf.Tensor:
    """SimCLR's loss over the 2b rows [z1; z2]: row i's positive is its other view, its
    denominator every other row (itself excluded); mean over the 2b rows."""
    anchors = _normalized(tf.concat([z1, z2], axis=0))
    rows, index = data_parallel.gathered_halves(anchors)
    logits = tf.matmul(anchors, rows, transpose_b=True) / temperature
    itself = tf.equal(index[:, None], tf.range(tf.shape(rows)[0])[None, :])
    logits = tf.where(itself, tf.constant(-1e9, tf.float32), logits)
    half = tf.shape(rows)[0] // 2
    positives = (index + half) % (2 * half)
    return data_parallel.global_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(positives, logits))



def moco_loss(query: tf.Tensor, key: tf.Tensor, queue: tf.Tensor,
              temperature: float) -> tf.Tensor:
    """MoCo's InfoNCE: row i's logits are [q_i . k_i, q_i . queue_1, ..., q_i . queue_K] / t,
    its target the first (the key of its other view); q and k L2-normalised here, the queue's
    rows [K, d] already are; key and queue carry no gradient."""
    q = _normalized(query)
    k = tf.stop_gradient(_normalized(key))
    positive = tf.reduce_sum(q * k, axis=1, keepdims=True)
    negative = tf.matmul(q, tf.stop_gradient(tf.cast(queue, tf.float32)), transpose_b=True)
    logits = tf.concat([positive, negative], axis=1) / temperature
    targets = tf.zeros(tf.shape(logits)[:1], tf.int32)
    return data_parallel.global_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits))


def invariance_loss(z1: tf.Tensor, z2: tf.Tensor) -> tf.Tensor:
    """Mean squared difference over every element (torch's `mse_loss`)."""
    return data_parallel.global_mean(
        tf.square(tf.cast(z1, tf.float32) - tf.cast(z2, tf.float32)))


def variance_loss(z1: tf.Tensor, z2: tf.Tensor, epsilon: float = 1e-4) -> tf.Tensor:
    """sum over the views of mean_d relu(1 - sqrt(var_d + eps)), var unbiased (n - 1)."""
    total = 0.0
    for z in (z1, z2):
        centred, rows = _centred(z)
        variance = _batch_sum(tf.reduce_sum(tf.square(centred), axis=0)) / (rows - 1.0)
        total += tf.reduce_mean(tf.nn.relu(1.0 - tf.sqrt(variance + epsilon)))
    return data_parallel.replica_share(total)


def covariance_loss(z1: tf.Tensor, z2: tf.Tensor) -> tf.Tensor:
    """sum over the views of (sum of squared off-diagonal covariances) / d, covariance over
    the batch with n - 1."""
    total = 0.0
    for z in (z1, z2):
        centred, rows = _centred(z)
        dims = tf.shape(z)[1]
        covariance = _batch_sum(tf.matmul(centred, centred, transpose_a=True)) / (rows - 1.0)
        off_diagonal = covariance * (1.0 - tf.eye(dims))
        total += tf.reduce_sum(tf.square(off_diagonal)) / tf.cast(dims, tf.float32)
    return data_parallel.replica_share(total)


def _centred(z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(this replica's rows of z minus the batch's column means, the batch's row count)."""
    z = tf.cast(z, tf.float32)
    rows = _batch_sum(tf.cast(tf.shape(z)[0], tf.float32))
    return z - data_parallel.global_column_mean(z), rows


def _batch_sum(value: tf.Tensor) -> tf.Tensor:
    """`value` summed over the replicas: a statistic of the whole batch (gradients flow back to
    every replica's rows)."""
    return data_parallel.summed_across_replicas([value])[0]


def vicreg_loss(z1: tf.Tensor, z2: tf.Tensor, invariance_weight: float,
                variance_weight: float, covariance_weight: float) -> tf.Tensor:
    """VICReg (Bardes et al., 2022): the weighted sum of the three terms (paper 25, 25, 1)."""
    return (invariance_weight * invariance_loss(z1, z2)
            + variance_weight * variance_loss(z1, z2)
            + covariance_weight * covariance_loss(z1, z2))


def nce_loss(p: tf.Tensor, z: tf.Tensor, temperature: float) -> tf.Tensor:
    """-mean_i log(exp(p_i . z_i / t) / sum_k exp(p_i . z_k / t)), rows L2-normalised: the
    denominator runs over every row of z. p and z each stack two views' rows [x1; x2]: under
    several replicas the denominator runs over every replica's rows of z (gathered)."""
    rows, index = data_parallel.gathered_halves(_normalized(z))
    logits = tf.matmul(_normalized(p), rows, transpose_b=True) / temperature
    return data_parallel.global_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(index, logits))


def contrastive_distill_loss(h1, h2, old1, old2, temperature: float) -> tf.Tensor:
    """Kaizen's / CaSSLe's contrastive distiller: with P = [h1; h2] and Z = [old1; old2],
    (NCE(P, Z) + NCE(Z, P)) / 2. The teacher's rows carry no gradient (it is frozen)."""
    p = tf.concat([h1, h2], axis=0)
    z = tf.stop_gradient(tf.concat([old1, old2], axis=0))
    return 0.5 * (nce_loss(p, z, temperature) + nce_loss(z, p, temperature))


def predictive_distill_loss(h1, h2, old1, old2) -> tf.Tensor:
    """BYOL's distiller: (byol(h1, old1) + byol(h2, old2)) / 2."""
    return 0.5 * (byol_loss(h1, old1) + byol_loss(h2, old2))


def predictive_mse_distill_loss(h1, h2, old1, old2) -> tf.Tensor:
    """VICReg's distiller: (mse(h1, old1) + mse(h2, old2)) / 2, the teacher not differentiated."""
    return 0.5 * (invariance_loss(h1, tf.stop_gradient(old1))
                  + invariance_loss(h2, tf.stop_gradient(old2)))


def cross_entropy(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Mean cross-entropy of integer labels."""
    return data_parallel.global_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        tf.cast(labels, tf.int32), tf.cast(logits, tf.float32)))


def soft_label_loss(logits: tf.Tensor, teacher_logits: tf.Tensor) -> tf.Tensor:
    """mean_i -sum_c softmax(teacher)_ic log softmax(logits)_ic (temperature 1)."""
    targets = tf.stop_gradient(tf.nn.softmax(tf.cast(teacher_logits, tf.float32)))
    return data_parallel.global_mean(tf.nn.softmax_cross_entropy_with_logits(
        targets, tf.cast(logits, tf.float32)))
