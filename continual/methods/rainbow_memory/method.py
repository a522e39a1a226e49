"""Rainbow Memory (Bang et al., CVPR 2021; RM's `methods/rainbow_memory.py` and `finetune.py`).

Per task: the classifier head is re-initialised (a fresh Linear, old weights not copied, as RM)
and the optimiser's momentum and step count reset (`--init_opt`); the classes exposed so far
are those seen in the stream (blurry: all classes from task 0, as RM's `n_init_cls`). Then
- online: one pass over the task's stream at warm_start_factor * lr, each step a stream batch
  plus a memory batch (`ExperienceLoop.stream_batch_size` / `replay_batch_size`, RM: 8 + 8);
  the memory update; `memory_epochs` epochs over the memory alone (batch
  `stream_batch_size`, RM: B // 2 = 8), lr per epoch: 0.1 lr, lr, then RM's `--sched_name`
  stepped per epoch (`sched_name`; 'cos': warm-restart cosine, T_0 1, T_mult 2, eta_min
  0.01 lr; see `schedule`);
- offline: `offline_epochs` epochs of stream + memory batches under that per-epoch schedule,
  then the memory update.
The memory update is the buffer's policy: 'rainbow' (RM's uncertainty manager: 12 perturbation
votes, k per class, stride over the certainty ranking), 'random_subset', 'herding' (RM's
`prototype`), or an online policy ('reservoir') that sees each stream row once after its step.

A head smaller than the label space is a full-size head whose unexposed logits are masked
(-1e9) in training and prediction: the same softmax over the exposed classes as RM's
`Linear(d, n_exposed)`, without changing the checkpointed variables between tasks.
Deviations: task 0's online batches have `stream_batch_size` rows (RM: B, as its memory is
empty); the primary A_last / A_avg are last-epoch. RM's best epoch on the test set is
measured only when `StreamPlan.accuracy_rule = 'best_epoch'` (continual.plans.epoch_accuracy),
and reported beside them, labelled as test-selected. Each task-end hook runs once (RM's
`main.py` calls `after_task` twice in online mode), and the memory's uncertainty ties are
broken by a seeded permutation, then a stable sort (RM's pandas sort is unstable).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import gin
import keras
import numpy as np
import tensorflow as tf
from keras.optimizers.schedules import LearningRateSchedule

from continual import planning
from continual.data.views import standardize
from continual.methods import data_parallel
from continual.methods.base import Phase, StreamBatch, StreamMethod
from continual.methods.rainbow_memory import augment, perturb, schedule
from continual.models.classifiers import build_classifier, build_head
from continual.optim.loss_scale import DynamicLossScale
from continual.optim.sgd import TorchSGD
from continual.replay.buffers.policies.boundary import BoundarySelection

log = logging.getLogger(__name__)
STREAMS = ("online", "offline")
ONLINE_POLICIES = ("reservoir",)
MASKED = -1e9
SCORE_BATCH = 256


@gin.configurable
class RainbowMemory(StreamMethod):
    """Args:
      stream: 'online' (one pass, then memory-only epochs) or 'offline' (epochs per task).
      memory_epochs: memory-only epochs per task in online mode (paper CIFAR: 256).
      offline_epochs: epochs over stream + memory per task in offline mode.
      warm_start_factor: lr factor of the online pass and of each schedule's epoch 0.
      eta_min_factor: the cosine's floor, as a fraction of the base lr.
      transforms: extra train augmentations ('cutout', 'cutmix', 'randaug', 'autoaug'); see
        `augment` (RandAugment's settings: `RandAugment.*`).
      uncertainty_metric: the perturbation set of the uncertainty votes ('vr', 'vr_cutout',
        'vr_randaug', 'vr_autoaug'); see `perturb`.
      sched_name: the lr schedule of the epochs after the first two (RM's `--sched_name`):
        'cos' (warm restarts), 'anneal' (x gamma per epoch) or 'multistep' (x gamma at each of
        `milestones`); see `schedule`.
      milestones: the epochs counted by 'multistep' (RM: 30, 60, 80, 90).
      gamma: the decay factor of 'anneal' / 'multistep'; None: RM's (1 / 1.1, 0.1).
      batch_size: None for RM's own loop (stream batches of `ExperienceLoop.stream_batch_size`
        plus memory batches of `replay_batch_size`; memory epochs at `stream_batch_size`); a
        number for the loop of RM's baselines (the original's `Finetune.train`): one shuffled
        loader over the task's stream ∪ the memory at that batch size (online: one epoch;
        offline: `offline_epochs`), then (online) memory-only epochs at that batch size; the
        last partial batch of each epoch is dropped (`drop_last=True`), and an online memory
        policy ('reservoir') is offered the stream after the pass (RM's `update_memory`).
    The base lr, momentum, Nesterov and weight decay are `TorchSGD.*` bindings.
    """

    name = "rainbow_memory"
    a_avg_rule = "last epoch"  # A_avg / A_last from each task's last evaluation (not RM's best)
    uses_buffer = True
    supports_loss_scaling = True
    data_parallel = True  # memory decisions in the hooks, outside the replicas

    def __init__(self, *, stream: str = "online", memory_epochs: int = 256,
                 offline_epochs: int = 256, warm_start_factor: float = 0.1,
                 eta_min_factor: float = 0.01, transforms: Sequence[str] = ("cutmix",),
                 uncertainty_metric: str = "vr", sched_name: str = "cos",
                 milestones: Sequence[int] = schedule.RM_MILESTONES,
                 gamma: float | None = None, batch_size: int | None = None):
        owner = type(self).__name__
        self.batch_size = (None if batch_size is None else
                           planning.check_int(f"{owner}.batch_size", batch_size, 1))
        self.stream = planning.check_choice(f"{owner}.stream", stream, STREAMS)
        self.memory_epochs = planning.check_int(f"{owner}.memory_epochs", memory_epochs, 1)
        self.offline_epochs = planning.check_int(f"{owner}.offline_epochs", offline_epochs, 1)
        self.warm_start_factor = planning.check_float(f"{owner}.warm_start_factor",
                                                      warm_start_factor)
        self.eta_min_factor = planning.check_float(f"{owner}.eta_min_factor", eta_min_factor,
                                                   positive=False)
        self.transforms = augment.resolve_transforms(transforms, f"{owner}.transforms")
        self.perturbations = perturb.check_metric(uncertainty_metric,
                                                  f"{owner}.uncertainty_metric")
        self.sched_name, self.milestones, self.gamma = schedule.check_schedule(
            owner, sched_name, milestones, gamma)
        log.info("%s transforms: %s; uncertainty: %s = %s", owner,
                 augment.describe_transforms(self.transforms), uncertainty_metric,
                 list(self.perturbations))

    # ---------------------------------------------------------------- build and state
    def build(self, input_shape, num_classes, buffer, seed) -> None:
        self.buffer, self.seed, self.num_classes = buffer, int(seed), int(num_classes)
        self._check_policy(buffer)
        self.model = build_classifier(input_shape=tuple(input_shape), num_classes=num_classes,
                                      seed=seed)
        self.optimizer = TorchSGD()
        if isinstance(self.optimizer._learning_rate, LearningRateSchedule):
            raise ValueError("RainbowMemory sets the lr per epoch itself: bind "
                             "TorchSGD.learning_rate to a number (the base lr)")
        self.base_lr = float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))
        self.optimizer.build(self.model.trainable_variables)
        self.loss_scale = DynamicLossScale()  # enabled under mixed_float16 only
        self.strategy = data_parallel.captured_strategy()
        self.exposed = tf.Variable(tf.zeros([num_classes]), trainable=False, name="exposed")
        self.schedule = schedule.epoch_schedule(
            self.sched_name, self.base_lr, eta_min_factor=self.eta_min_factor,
            milestones=self.milestones, gamma=self.gamma)
        self._epoch_lrs: dict[int, float] = {}
        self._steps: dict[tuple, object] = {}
        # No tensor-dependent Python control flow in these two, so AutoGraph's source
        # conversion (about a second per trace on a CPU; each stage traces afresh) is skipped.
        self._step = tf.function(self._train_step, reduce_retracing=True, autograph=False)
        self._logits = tf.function(self._masked_logits, reduce_retracing=True,
                                   autograph=False)

    def _check_policy(self, buffer) -> None:
        policy = buffer.policy
        if not isinstance(policy, BoundarySelection) and policy.name not in ONLINE_POLICIES:
            raise ValueError(f"RainbowMemory: EpisodicBuffer.policy = {policy.name!r} is not a "
                             "memory manager of RM; use 'rainbow' (RM), 'random_subset', "
                             "'herding' (prototype) or 'reservoir'")

    def trackables(self) -> dict:
        found = {"model": self.model, "optimizer": self.optimizer, "buffer": self.buffer,
                 "exposed": self.exposed}
        if self.loss_scale.enabled:
            found["loss_scale"] = self.loss_scale
        return found

    def check_stream(self, scenario, loop) -> None:
        classes = max(len(e.seen_classes) for e in scenario.experiences)
        if self.buffer.capacity // classes < 1:
            raise ValueError(f"EpisodicBuffer.capacity = {self.buffer.capacity} leaves a "
                             f"per-class budget of 0 for {classes} classes; raise it")

    def phases(self, experience) -> list[Phase]:
        if self.batch_size is not None:  # the baselines' loop: stream ∪ memory in one loader
            size = self.batch_size
            if self.stream == "online":
                return [Phase("mixed", 1, size, drop_last=True),
                        Phase("memory", self.memory_epochs, size, drop_last=True)]
            return [Phase("mixed", self.offline_epochs, size, drop_last=True)]
        if self.stream == "online":
            return [Phase("online"), Phase("memory", self.memory_epochs)]
        return [Phase("offline", self.offline_epochs)]

    # ---------------------------------------------------------------- training
    def _masked_logits(self, images, training):
        logits = tf.cast(self.model(standardize(images), training=training), tf.float32)
        masked = tf.where(self.exposed[None] > 0, logits, MASKED)
        return tf.cond(tf.reduce_sum(self.exposed) > 0, lambda: masked, lambda: logits)

    def _train_step(self, images, labels, lr, seed):
        images = augment.train_views(images, seed, self.transforms)
        labels_b, lam = labels, tf.constant(1.0)
        if "cutmix" in self.transforms:
            images, labels_b, lam = augment.cutmix(images, labels, seed + 101)
        self.optimizer.learning_rate = lr
        outputs = data_parallel.run_split(self.strategy, self._replica_step,
                                          (images, labels, labels_b), (lam,))
        return {**outputs, "lr": lr}

    def _replica_step(self, images, labels, labels_b, lam):
        def loss():
            logits = self._masked_logits(images, True)
            return (lam * _cross_entropy(labels, logits)
                    + (1.0 - lam) * _cross_entropy(labels_b, logits)
                    ) + data_parallel.replica_share(self.penalty())

        return {"loss": self.minimise(loss)}

    def minimise(self, compute_loss) -> tf.Tensor:
        """One optimiser step on `compute_loss()` (this replica's share of the batch loss);
        returns the loss."""
        with tf.GradientTape() as tape:
            loss = compute_loss()
            scaled_loss = self.loss_scale.scale_loss(loss)
        variables = self.model.trainable_variables
        grads = tape.gradient(scaled_loss, variables)
        self.loss_scale.apply(grads, lambda unscaled: self.apply_gradients(unscaled, variables))
        return loss

    def penalty(self) -> tf.Tensor:
        """A term added to the loss of every step (regularised baselines: EWC, RWalk)."""
        return tf.constant(0.0)

    def apply_gradients(self, grads, variables) -> None:
        """One optimiser update (RWalk also measures the step it takes)."""
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))

    def learning_rate(self, phase: str, epoch: int) -> float:
        """The lr of an epoch: the online pass and epoch 0 at warm_start_factor * lr; offline
        and memory epoch e >= 1 at the `sched_name` schedule after e - 1 per-epoch steps."""
        if phase == "online" or epoch == 0:
            return self.warm_start_factor * self.base_lr
        if epoch not in self._epoch_lrs:  # the schedule is a TF op: once per epoch, not step
            self._epoch_lrs[epoch] = float(self.schedule(epoch - 1))
        return self._epoch_lrs[epoch]

    def train_step(self, batch: StreamBatch, step) -> dict:
        images, labels = batch.images, batch.labels
        if batch.replay_images is not None:
            images = tf.concat([images, batch.replay_images], 0)
            labels = tf.concat([labels, batch.replay_labels], 0)
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        lr = tf.constant(self.learning_rate(batch.phase, batch.epoch), tf.float32)
        return self._step_for(images, labels)(images, labels, lr, seed)

    def _step_for(self, images, labels):
        """The train step traced once per stage with an open batch size: online (stream +
        memory rows) and memory-only batches differ in size, and each trace costs seconds."""
        key = (images.dtype, labels.dtype)
        if key not in self._steps:
            self._steps[key] = self._step.get_concrete_function(
                tf.TensorSpec([None, *images.shape[1:]], images.dtype),
                tf.TensorSpec([None], labels.dtype), tf.TensorSpec([], tf.float32),
                tf.TensorSpec([2], tf.int64))
        return self._steps[key]

    def predict(self, images):
        return self._logits(images, False)

    # ---------------------------------------------------------------- hooks
    def begin_experience(self, experience, table) -> None:
        """Expose the classes seen so far, re-initialise the head, reset the optimiser."""
        self.expose(experience)
        fresh = build_head(self.model.feature_dim, self.num_classes,
                           seed=self.seed * 100 + experience.index + 1,
                           use_bias=self.model.head.use_bias)
        for target, value in zip(self.model.head.weights, fresh.weights, strict=True):
            target.assign(value)
        self.reset_optimizer()

    def expose(self, experience) -> None:
        """Add the experience's seen classes to the exposed (unmasked) ones."""
        exposed = np.zeros(self.num_classes, np.float32)
        exposed[list(experience.seen_classes)] = 1.0
        self.exposed.assign(np.maximum(self.exposed.numpy(), exposed))

    def reset_optimizer(self) -> None:
        """Clear momentum and step count (RM's `--init_opt`)."""
        optimizer = self.optimizer
        for variable in [optimizer.iterations, *optimizer.momentums, *optimizer.started]:
            variable.assign(tf.zeros_like(variable))

    def after_step(self, batch: StreamBatch, step, outputs) -> None:
        if batch.first_sight and not isinstance(self.buffer.policy, BoundarySelection):
            self.buffer.observe(batch.ids, batch.labels, step=step,
                                seed=tf.constant(self.seed, tf.int64))

    def end_phase(self, phase: Phase, experience, table) -> None:
        if phase.kind == "memory":
            return
        if isinstance(self.buffer.policy, BoundarySelection):
            self.update_memory(experience, table)
        elif phase.kind == "mixed":
            self.offer_stream(experience, table)

    def offer_stream(self, experience, table) -> None:
        """An online policy sees the task's stream rows, in stream order, after a mixed pass
        (the original's reservoir update after its `train()`)."""
        ids = np.asarray(experience.train_ids, np.int64)
        for start in range(0, len(ids), SCORE_BATCH):
            chunk = ids[start:start + SCORE_BATCH]
            self.buffer.observe(tf.constant(chunk), tf.constant(table.labels_of(chunk)),
                                step=tf.constant(experience.index, tf.int64),
                                seed=tf.constant(self.seed, tf.int64))

    def update_memory(self, experience, table) -> None:
        """RM's memory update over memory ∪ the task's stream (the buffer policy decides)."""
        policy, storage = self.buffer.policy, self.buffer.storage
        ids = np.asarray(experience.train_ids, np.int64)
        labels = table.labels_of(ids)
        kind = policy.score_kind(experience.index)
        values = None
        if kind is not None:
            candidates, _ = policy.candidates(storage, ids, labels)
            values = (self.uncertainty(candidates, table, experience.index)
                      if kind == "uncertainty" else self.features(candidates, table))
        classes = np.flatnonzero(self.exposed.numpy() > 0)
        policy.rebuild(storage, ids, labels, task=experience.index, seed=self.seed,
                       classes=classes, values=values)

    def uncertainty(self, ids: np.ndarray, table, task: int) -> np.ndarray:
        """u = 1 - max_c S_c / T over the perturbation votes, in inference mode."""
        votes = []
        for index, name in enumerate(self.perturbations):
            predictions = []
            for start in range(0, len(ids), SCORE_BATCH):
                images, _ = table.gather(ids[start:start + SCORE_BATCH])
                seed = tf.constant([self.seed * 7919 + task, index * 100_003 + start], tf.int64)
                images = perturb.perturb(tf.cast(images, tf.float32), name, seed)
                predictions.append(tf.argmax(self._logits(images, False), -1, tf.int32))
            votes.append(tf.concat(predictions, 0))
        return perturb.vote_uncertainty(tf.stack(votes)).numpy()

    def features(self, ids: np.ndarray, table) -> np.ndarray:
        """Backbone features [N, D] in inference mode (herding)."""
        rows = []
        for start in range(0, len(ids), SCORE_BATCH):
            images, _ = table.gather(ids[start:start + SCORE_BATCH])
            rows.append(self.model.features(standardize(images), training=False).numpy())
        return np.concatenate(rows)


def _cross_entropy(labels, logits):
    return data_parallel.global_mean(keras.losses.sparse_categorical_crossentropy(
        labels, logits, from_logits=True))
