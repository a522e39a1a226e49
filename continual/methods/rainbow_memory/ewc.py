"""EWC as in RM's repository: reservoir replay + the EWC penalty (Kirkpatrick et al. 2017;
RM's `methods/regularization.py`, whose EWC keeps a reservoir memory).

At the end of each task the diagonal Fisher is estimated over the task's stream rows in
inference mode: cross-entropy against the model's own argmax prediction (not the label), the
batch-mean gradient squared and weighted by batch / N (RM's estimate), without the penalty
term in the loss (a fix: the original added it). Parameters: all but the head's.
"""

from __future__ import annotations

import gin
import numpy as np
import tensorflow as tf

from continual import planning
from continual.methods.rainbow_memory.importance import RegularizedReplay, fisher_diagonal


@gin.configurable
class EWC(RegularizedReplay):
    """Args (besides RegularizedReplay's: reg_coef = RM's `reg_coef` 100, keep_every_task,
    and RM's loop settings): fisher_batch_size, the mini-batch of the Fisher estimate."""

    name = "ewc"
    data_parallel = True  # the Fisher is computed at the task end, outside the replicas

    def __init__(self, *, fisher_batch_size: int = 16, **kwargs):
        self.fisher_batch_size = planning.check_int("EWC.fisher_batch_size", fisher_batch_size,
                                                    1)
        super().__init__(**kwargs)

    def build(self, input_shape, num_classes, buffer, seed) -> None:
        super().build(input_shape, num_classes, buffer, seed)
        self._fisher_grads = tf.function(self._predicted_label_gradients,
                                         reduce_retracing=True)

    def _predicted_label_gradients(self, images):
        with tf.GradientTape() as tape:
            logits = self._masked_logits(images, False)
            predicted = tf.stop_gradient(tf.argmax(logits, -1, output_type=tf.int32))
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=predicted, logits=logits))
        return tape.gradient(loss, self.regularized)

    def task_importance(self, experience, table) -> list[np.ndarray]:
        ids = np.asarray(experience.train_ids, np.int64)
        batches = []
        for start in range(0, len(ids), self.fisher_batch_size):
            images, _ = table.gather(ids[start:start + self.fisher_batch_size])
            grads = self._fisher_grads(images)
            batches.append(([g.numpy() for g in grads], int(images.shape[0])))
        return fisher_diagonal(batches, len(ids))
