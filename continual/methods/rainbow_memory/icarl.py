"""iCaRL (Rebuffi et al., CVPR 2017) as a baseline of RM (RM's `methods/icarl.py`).

The original's baseline loop (online: one shuffled pass over stream ∪ memory at batch 16,
memory update, memory-only epochs at batch 16; `batch_size`) with
- memory: herding exemplars (`EpisodicBuffer.policy = 'herding'`, RM's `prototype`), updated
  once per task after the stream pass; a class at its share keeps its old exemplars (in a
  blurry stream the memory freezes after task 0, as RM's);
- loss: with L = the classes learned before this task (RM: labels below the largest label
  seen + 1, its labels being in task order; here the set of classes seen in earlier tasks), CE
  over the batch rows whose label is not in L, plus, for rows whose label is in L, the sum over
  classes c in L of the batch-mean BCE(sigmoid(g_c(x)), q_c(x)), q = sigmoid outputs of the
  network as it was before the task (inference mode, on the un-augmented image). In a blurry
  stream L = all classes after task 0, so later tasks are distillation only, as in RM's code;
- prediction: nearest mean of exemplars: class means of L2-normalised backbone features of the
  memory's items (normalised again), computed at each task's end; the logits are minus the
  squared distances (classes without exemplars masked).
The head is kept across tasks (RM's iCaRL copies the old weights). Fixes: all parameters are trained
(RM's optimiser missed the head); the teacher, the memory update and the class means are made once
per task (RM's ran them at each `train()` call, and its `main.py` calls it twice a task in online
mode).
Deviations: the head is our linear head on backbone features, not RM's Linear-to-feature_size
+ BN1d + ReLU + bias-free Linear; CutMix is not supported (RM applies it to new-class rows).
"""

from __future__ import annotations

from collections.abc import Sequence

import gin
import numpy as np
import tensorflow as tf

from continual.bindings import passed_arguments
from continual.data.views import standardize
from continual.methods import data_parallel
from continual.methods.rainbow_memory import augment, schedule
from continual.methods.rainbow_memory.method import MASKED, RainbowMemory
from continual.models.classifiers import build_classifier
from continual.replay.buffers.policies.boundary import BoundarySelection


def icarl_loss(logits, labels, teacher_probs, learned) -> tf.Tensor:
    """CE over rows whose label is not learned (their mean) + sum over learned classes c of
    the mean over rows with a learned label of BCE(sigmoid(logits_c), teacher_probs_c).
    `learned`: float [C], 1 for the classes learned in earlier tasks."""
    old = tf.gather(learned, labels) > 0
    new_count = tf.reduce_sum(tf.cast(~old, tf.float32))
    old_count = tf.reduce_sum(tf.cast(old, tf.float32))
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    ce = data_parallel.global_ratio(tf.reduce_sum(tf.where(old, 0.0, ce)), new_count)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=teacher_probs, logits=logits)
    mask = tf.cast(old, tf.float32)[:, None] * learned[None]
    return ce + data_parallel.global_ratio(tf.reduce_sum(bce * mask), old_count)


def class_means(features: np.ndarray, labels: np.ndarray, num_classes: int):
    """(means [C, D], has_mean [C]): per class, the normalised mean of normalised features."""
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    means = np.zeros((num_classes, features.shape[1]), np.float32)
    present = np.zeros(num_classes, np.float32)
    for label in np.unique(labels):
        mean = unit[labels == label].mean(axis=0)
        means[label] = mean / max(np.linalg.norm(mean), 1e-12)
        present[label] = 1.0
    return means, present


def nearest_mean_logits(features, means, has_mean) -> tf.Tensor:
    """-||f / |f| - mu_c||^2 per class; classes without a mean get MASKED."""
    unit = tf.math.l2_normalize(features, axis=1)
    distance = tf.reduce_sum(tf.square(unit[:, None, :] - means[None]), axis=-1)
    return tf.where(has_mean[None] > 0, -distance, MASKED)


@gin.configurable
class ICaRL(RainbowMemory):
    """Args: RM's loop settings (stream, memory_epochs, offline_epochs, warm_start_factor,
    eta_min_factor; sched_name, milestones, gamma: its lr schedule, 'cos' by default) and
    transforms (none by default; 'cutout' allowed)."""

    name = "icarl"
    data_parallel = True
    reports_final_evaluation = True  # RM's iCaRL evaluates once, after its exemplar update

    def __init__(self, *, stream: str = "online", memory_epochs: int = 256,
                 offline_epochs: int = 256, warm_start_factor: float = 0.1,
                 eta_min_factor: float = 0.01, transforms=(), sched_name: str = "cos",
                 milestones: Sequence[int] = schedule.RM_MILESTONES,
                 gamma: float | None = None, batch_size: int = 16):
        super().__init__(**passed_arguments(type(self).__name__, "RainbowMemory", {
            "stream": stream, "memory_epochs": memory_epochs, "offline_epochs": offline_epochs,
            "warm_start_factor": warm_start_factor, "eta_min_factor": eta_min_factor,
            "transforms": transforms, "batch_size": batch_size,
            **schedule.baseline_schedule(type(self).__name__, sched_name, milestones, gamma)},
            fixed={"uncertainty_metric": "vr"}))
        if "cutmix" in self.transforms:
            raise ValueError("ICaRL.transforms: 'cutmix' is not supported by this iCaRL port; "
                             "remove it (RM's baselines ran without augmentation)")

    def build(self, input_shape, num_classes, buffer, seed) -> None:
        super().build(input_shape, num_classes, buffer, seed)
        self.teacher = build_classifier(input_shape=tuple(input_shape),
                                        num_classes=num_classes, seed=seed)
        self.learned = tf.Variable(tf.zeros([num_classes]), trainable=False, name="learned")
        self.means = tf.Variable(tf.zeros([num_classes, self.model.feature_dim]),
                                 trainable=False, name="class_means")
        self.has_mean = tf.Variable(tf.zeros([num_classes]), trainable=False, name="has_mean")
        self._nme = tf.function(self._nearest_mean, reduce_retracing=True)

    def _check_policy(self, buffer) -> None:
        if not isinstance(buffer.policy, BoundarySelection):
            raise ValueError(f"ICaRL: EpisodicBuffer.policy = {buffer.policy.name!r} is not a "
                             "task-end memory manager; use 'herding' (iCaRL's exemplars)")

    def trackables(self) -> dict:
        return {**super().trackables(), "teacher": self.teacher, "learned": self.learned,
                "class_means": self.means, "has_mean": self.has_mean}

    def _train_step(self, images, labels, lr, seed):
        teacher_logits = tf.cast(self.teacher(standardize(images), training=False), tf.float32)
        views = augment.train_views(images, seed, self.transforms)
        self.optimizer.learning_rate = lr
        outputs = data_parallel.run_split(self.strategy, self._icarl_replica_step,
                                          (views, labels, tf.sigmoid(teacher_logits)))
        return {**outputs, "lr": lr}

    def _icarl_replica_step(self, views, labels, teacher_probs):
        return {"loss": self.minimise(lambda: icarl_loss(
            self._masked_logits(views, True), labels, teacher_probs, self.learned))}

    def _nearest_mean(self, images):
        features = tf.cast(self.model.features(standardize(images), training=False), tf.float32)
        return nearest_mean_logits(features, self.means, self.has_mean)

    def predict(self, images):
        if float(tf.reduce_sum(self.has_mean)) > 0:
            return self._nme(images)
        return super().predict(images)

    def begin_experience(self, experience, table) -> None:
        """Expose the seen classes, keep the head, reset the optimiser, freeze the teacher."""
        self.expose(experience)
        self.reset_optimizer()
        for target, value in zip(self.teacher.weights, self.model.weights, strict=True):
            target.assign(value)

    def end_experience(self, experience, table) -> None:
        """Class means of the exemplars (for the NME classifier); classes now learned."""
        super().end_experience(experience, table)
        ids = np.sort(self.buffer.stored_ids())
        if ids.size:
            means, present = class_means(self.features(ids, table), table.labels_of(ids),
                                         self.num_classes)
            self.means.assign(means)
            self.has_mean.assign(present)
        self.learned.assign(self.exposed.read_value())
