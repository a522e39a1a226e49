"""Kaizen: self-supervised continual learning with continual fine-tuning (Tang et al., WACV
2024; `Nokia-Bell-Labs/kaizen`), with CaSSLe and no-distillation as flag settings.

Per task t, every step takes the task's batch plus (with `replay`) a batch of the fixed replay
memory (`EpisodicBuffer.policy = 'proportion_per_class'`; task t - 1's share is added when
task t starts), two augmented views of both, and minimises (the original's `kaizen/methods/base.py`)

    L = L_FE^CT                    SSL loss (BYOL or SimCLR) on current + replay data
      + w_c  L_C^CT                classifier CE on stop-gradient features, both views
      + λ_f  L_FE^KD   (t > 0)     h(z) against the frozen previous projector (distill_features)
      + λ_c  L_C^KD    (t > 0)     soft labels of the previous classifier (distill_classifier)
      + the online probe's CE      (evaluation head, stop-gradient features)

Kaizen = both distillations with replay; CaSSLe = feature distillation only, no replay;
no-distill = neither. Task 0 does not depend on these flags (the memory is empty, nothing is
distilled, every flag's modules and optimiser slots exist either way), so the stream plan trains
it once for the three (`first_experience_invariant`); with `replay = False` a bound
`StreamPlan.buffer` is carried empty. The teacher (encoder, projector, classifier) is copied
from the student when task t > 0 begins and is never trained; its BN uses batch statistics as
the original's, which Lightning runs in training mode (kept as the method's behaviour: the
teacher's models stay `trainable`, so Keras does not force inference BN, and are left out of
the optimiser). The online probe reads the encoder in inference mode by default, so that it cannot
move the encoder's BN statistics with labelled past-task rows (an evaluation leak);
`probe_training_mode` restores the original's training-mode forward. Distillation predictor,
momentum encoder and probe carry over between tasks (the original loads the previous task's
checkpoint with `strict=False`); the optimiser's momentum and step count, the lr schedule and
the momentum tau restart per task.
Each task epoch drops its last partial batch, as the original's loaders (drop_last), so the tau
schedule counts ⌊N_task / batch⌋ steps an epoch (N_batches), and the online probe trains on
every seen task's labelled rows, ⌈N_seen / N_batches⌉ a step (the
original's `seen_tasks` source; `probe.py`), un-augmented; its test accuracy is reported
as `online_probe_accuracy`, an evaluation head's score, not the method's.
Several replicas (`make_strategy.name = 'mirrored'`, the original's DDP with SyncBN): the views
are drawn on the global batch, then each replica trains on its slice of the batch's rows and of
the probe's rows, its losses its share of the global ones (`losses`), every BN synchronised;
the momentum encoder's EMA and MoCo's queue (the whole batch's keys, in order) are updated once
per step outside the replicas, after the optimiser step.
Precision: the paper's 16-bit mixed precision is `TrainManager.mixed_precision =
'mixed_float16'` (a `DynamicLossScale`: an overflowing step moves nothing, the scale halves).
"""

from __future__ import annotations

import functools
import logging

import gin
import tensorflow as tf

from continual.data.views import standardize
from continual.key_files import register_file_binding
from continual.methods import data_parallel
from continual.methods.base import Phase, StreamBatch, StreamMethod
from continual.methods.kaizen import losses
from continual.methods.kaizen.heads import copy_weights
from continual.methods.kaizen.memory import check_memory, remember_task
from continual.methods.kaizen.moco import check_queue_size
from continual.methods.kaizen.networks import build_networks, checkpoint_parts, parameter_groups
from continual.methods.kaizen.optimizer import KaizenOptimizer
from continual.methods.kaizen.probe import probe_rows
from continual.methods.kaizen.settings import LATER_TASKS_ONLY, check_settings
from continual.methods.kaizen.ssl import (
    distill_loss,
    ema_update,
    momentum_tau,
    online_branch,
    resolve_ssl,
    ssl_loss,
)
from continual.methods.kaizen.teacher import restore_teacher
from continual.methods.kaizen.views import kaizen_views
from continual.optim.loss_scale import DynamicLossScale

log = logging.getLogger(__name__)
MEMORY_POLICY = "proportion_per_class"


@gin.configurable
class Kaizen(StreamMethod):
    """Kaizen / CaSSLe / no-distill by flags; defaults are the paper's BYOL CIFAR-100 script.

    Args (weights and sizes as the paper's scripts, `bash_files/*`):
      ssl_method: 'byol', 'mocov2plus', 'simclr' or 'vicreg' (ssl.SSL_METHODS); distiller:
        None = the method's own (ssl.DISTILLERS).  epochs: per task.  replay: use the memory.
      queue_size, moco_temperature: MoCo v2+'s queue of negatives (>= a batch) and InfoNCE τ.
      vicreg_*_weight: VICReg's invariance / variance / covariance weights (25, 25, 1).
      distill_features, distill_classifier: the two distillation terms (tasks t > 0).
      feature_distill_weight, classifier_distill_weight, classifier_loss_weight: λ_f, λ_c, w_c.
      distill_temperature: the contrastive distiller's τ; simclr_temperature: SimCLR's τ.
      projection_dim, projector_hidden, predictor_hidden, distill_hidden, classifier_hidden.
      tau_base, tau_final: the momentum encoder's cosine schedule (BYOL: 0.99 -> 1.0).
      learning_rate, weight_decay: the encoder group's LARS lr / wd (and the predictor's);
      classifier_lr, probe_lr: their groups' lr (wd 0). warmup_epochs, warmup_start_lr: the
      per-epoch warm-up cosine. online_probe, probe_training_mode: see the module doc.
      teacher_checkpoint: a folder written by `teacher.save_teacher` to start from (the
      original's `--pretrained_model`), restored strictly; None = from scratch.
    """

    name = "kaizen"
    # Replay and distillation act from task 1 on: task 0 (and the initial state) is the same
    # for Kaizen, CaSSLe and no-distill, so the stream plan trains it once for the three.
    first_experience_invariant = LATER_TASKS_ONLY
    supports_loss_scaling = True
    data_parallel = True  # EMA and queue once per step, outside the replicas
    # Built once per experiment: every compiled function has an input signature (`_compile`),
    # and every value a step or hook changes is in the saved state (`checkpoint_parts`).
    kept_between_stages = True

    def __init__(self, *, ssl_method: str = "byol", epochs: int = 500, replay: bool = True,
                 distill_features: bool = True, distill_classifier: bool = True,
                 feature_distill_weight: float = 1.0, classifier_distill_weight: float = 2.0,
                 classifier_loss_weight: float = 1.0, distill_temperature: float = 0.2,
                 simclr_temperature: float = 0.1, projection_dim: int = 256,
                 projector_hidden: int = 4096, predictor_hidden: int = 4096,
                 distill_hidden: int = 2048, classifier_hidden: int = 1000,
                 tau_base: float = 0.99, tau_final: float = 1.0, learning_rate: float = 1.0,
                 weight_decay: float = 1e-5, classifier_lr: float = 0.1, probe_lr: float = 0.1,
                 warmup_epochs: int = 10, warmup_start_lr: float = 0.003,
                 online_probe: bool = True, probe_training_mode: bool = False,
                 distiller: str | None = None, queue_size: int = 65536,
                 moco_temperature: float = 0.2, vicreg_invariance_weight: float = 25.0,
                 vicreg_variance_weight: float = 25.0, vicreg_covariance_weight: float = 1.0,
                 teacher_checkpoint: str | None = None):
        values = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        check_settings(values)
        self.settings = values
        self.ssl = resolve_ssl(values)
        self.epochs, self.uses_buffer = epochs, replay
        self.buffer, self.batch_size, self._experiences = None, 0, None

    # ---------------------------------------------------------------- build and state
    def build(self, input_shape, num_classes, buffer, seed) -> None:
        self._check_buffer(buffer)
        self.buffer, self.seed = buffer, int(seed)
        s = self.settings
        # encoder, projector, classifier, probe, distill_predictor, predictor, queue, momentum,
        # teacher: networks.build_networks
        for name, part in build_networks(self.ssl, s, input_shape, num_classes, seed).items():
            setattr(self, name, part)
        self.task = tf.Variable(0, dtype=tf.int64, trainable=False, name="task")
        self.task_steps = tf.Variable(1, dtype=tf.int64, trainable=False, name="task_steps")
        self.optimizer = KaizenOptimizer(parameter_groups(self), s)
        self.strategy = data_parallel.captured_strategy()
        self.loss_scale = DynamicLossScale()  # enabled under mixed_float16 only
        if s["teacher_checkpoint"] is not None:  # before any stage: a mismatch is an input error
            restore_teacher(self, s["teacher_checkpoint"])
        self._compile(tuple(input_shape))

    def _compile(self, input_shape: tuple[int, ...]) -> None:
        """The compiled step and predict functions, each with an input signature (None for the
        rows: the batch with or without replay rows, the probe's rows per task, a last smaller
        test batch), so each is traced once and runs the same graph whether the method is
        fresh or kept from an earlier stage (`kept_between_stages`)."""
        images = tf.TensorSpec([None, *input_shape], tf.uint8)
        self._steps = {(teach, probe): self._step_function(images, teach, probe)
                       for teach in (False, True) for probe in (False, True)}
        s = self.settings
        self._predict = _compiled(lambda images: self.classifier(
            self.encoder(standardize(images), training=False)), images)
        self._features = _compiled(lambda images: tf.cast(
            self.encoder(standardize(images), training=False), tf.float32), images)
        # The evaluation stage scores the online probe too when this is set.
        self.online_probe_predict = _compiled(lambda images: self.probe(
            self.encoder(standardize(images), training=False)), images
        ) if s["online_probe"] else None

    def _step_function(self, images: tf.TensorSpec, teach: bool, probe: bool):
        """The train step of one structure: with or without distillation (`teach`), with or
        without the online probe's own rows (`probe`); each its own function, not a retrace."""
        common = [images, tf.TensorSpec([None], tf.int32), tf.TensorSpec([2], tf.int64),
                  tf.TensorSpec([len(self.optimizer.names)], tf.float32)]
        if not probe:
            return tf.function(lambda images, labels, seed, learning_rates: self._train_step(
                images, labels, seed, learning_rates, teach), input_signature=common)
        rows = [tf.TensorSpec(images.shape, tf.float32), tf.TensorSpec([None], tf.int32)]
        return tf.function(
            lambda images, labels, seed, learning_rates, probe_images, probe_labels:
            self._train_step(images, labels, seed, learning_rates, teach,
                             (probe_images, probe_labels)), input_signature=common + rows)

    def _check_buffer(self, buffer) -> None:
        if buffer is None:
            return
        if buffer.policy.name != MEMORY_POLICY:
            raise ValueError(f"Kaizen replays a fixed memory: bind EpisodicBuffer.policy = "
                             f"'{MEMORY_POLICY}', got {buffer.policy.name!r}")

    def trackables(self) -> dict:
        return checkpoint_parts(self)

    def phases(self, experience) -> list[Phase]:
        return [self._phase()]

    def _phase(self) -> Phase:
        """Epochs over the task's rows without each epoch's last partial batch (the original's
        loaders drop it: 39 steps per CIFAR-100 task epoch at batch 256, not 40)."""
        return Phase("offline", self.epochs, drop_last=True)

    def _batches_per_epoch(self, experience) -> int:
        """Steps of one epoch of `experience`: the tau schedule and the probe count these."""
        return self._phase().batches_per_epoch(len(experience.train_ids), self.batch_size)

    def check_stream(self, scenario, loop) -> None:
        """Size the per-task step count; refuse memories that keep 0 per class or overflow."""
        self.batch_size = loop.stream_batch_size
        self._experiences = tuple(scenario.experiences)
        for experience in self._experiences:
            if self._batches_per_epoch(experience) < 1:
                raise ValueError(
                    f"task {experience.index} has {len(experience.train_ids)} training rows, "
                    f"fewer than one batch (ExperienceLoop.stream_batch_size = "
                    f"{self.batch_size}); Kaizen drops each epoch's last partial batch, as the "
                    "original's loaders, so it would train nothing: lower the batch size")
        if self.queue is not None:
            replay = (loop.replay_batch_size
                      if self.settings["replay"] and self.buffer is not None else 0)
            check_queue_size(self.settings["queue_size"], self.batch_size + replay,
                             "ExperienceLoop.stream_batch_size + replay_batch_size")
        if self.buffer is None or not self.uses_buffer:
            return
        check_memory(self.buffer, scenario, loop.replay_batch_size)

    # ---------------------------------------------------------------- training
    def _train_step(self, images, labels, seed, learning_rates, teach: bool, probe=None):
        """Views of the global batch, the step split across the replicas (the probe's rows
        split by themselves), then the momentum encoder and the queue."""
        view1, view2 = kaizen_views(images, seed)
        self.optimizer.set_learning_rates(learning_rates)
        rows = (view1, view2, labels) if probe is None else (view1, view2, labels, *probe)
        outputs = data_parallel.run_split(
            self.strategy, functools.partial(self._replica_step, teach=teach), rows,
            per_row=("z1", "z2"))
        applied = outputs.pop("applied")
        self._follow(applied, {name: outputs.pop(name) for name in ("z1", "z2")
                               if name in outputs})
        return outputs

    def _replica_step(self, view1, view2, labels, probe_images=None, probe_labels=None, *,
                      teach: bool):
        """This replica's losses (shares of the global batch's) and optimiser step; returns
        them with the momentum branch's keys of its rows and whether the step was applied."""
        s = self.settings
        with tf.GradientTape() as tape:
            f1, f2 = self.encoder(view1, training=True), self.encoder(view2, training=True)
            online = _float32(online_branch(self.ssl, self.projector, self.predictor, f1, f2))
            targets = self._targets(view1, view2)
            outputs = {"ssl": ssl_loss(self.ssl, online, targets, s, self.queue)}
            logits = [tf.cast(self.classifier(tf.stop_gradient(f), training=True), tf.float32)
                      for f in (f1, f2)]
            outputs["classifier"] = s["classifier_loss_weight"] * (
                losses.cross_entropy(labels, logits[0]) + losses.cross_entropy(labels, logits[1]))
            if teach:
                outputs.update(self._distillation(view1, view2, online, logits))
            if s["online_probe"]:
                if probe_images is None:
                    probe_images, probe_labels = view1, labels
                features = self.encoder(probe_images, training=s["probe_training_mode"])
                outputs["probe"] = losses.cross_entropy(probe_labels, tf.cast(
                    self.probe(tf.stop_gradient(features), training=True), tf.float32))
            outputs = _float32(outputs)
            loss = tf.add_n(list(outputs.values()))
            scaled = self.loss_scale.scale_loss(loss)
        variables = self.optimizer.variables_to_train
        applied = self.loss_scale.apply(tape.gradient(scaled, variables),
                                        lambda grads: self.optimizer.apply(grads, variables))
        return {"loss": loss, **outputs, **targets, "applied": tf.cast(applied, tf.float32)}

    def _follow(self, applied, targets) -> None:
        """After the optimiser step, once for all replicas: the momentum encoder and the queue
        (under mixed_float16 a step whose gradients overflow skips all three:
        `DynamicLossScale`; `applied` > 0 when it was applied)."""
        if self.momentum is None and self.queue is None:
            return
        if not self.loss_scale.enabled:
            self._momentum_and_queue(targets)
            return

        def follow():
            self._momentum_and_queue(targets)
            return tf.constant(True)

        tf.cond(applied > 0, follow, lambda: tf.constant(False))

    def _momentum_and_queue(self, targets) -> None:
        if self.momentum is not None:
            self._momentum_update()
        if self.queue is not None:
            self.queue.enqueue(targets["z1"], targets["z2"])

    def _targets(self, view1, view2) -> dict:
        if self.momentum is None:
            return {}
        encoder, projector = self.momentum["encoder"], self.momentum["projector"]
        return {f"z{i}": tf.stop_gradient(tf.cast(
            projector(encoder(v, training=True), training=True), tf.float32))
                for i, v in ((1, view1), (2, view2))}

    def _distillation(self, view1, view2, online, logits) -> dict:
        """L_FE^KD and L_C^KD against the frozen teacher (batch-statistics BN, as the original)."""
        s, teacher, terms = self.settings, self.teacher, {}
        old = [teacher["encoder"](v, training=True) for v in (view1, view2)]
        if s["distill_features"]:
            targets = [tf.cast(teacher["projector"](f, training=True), tf.float32) for f in old]
            h = [tf.cast(self.distill_predictor(online[z], training=True), tf.float32)
                 for z in ("z1", "z2")]
            terms["feature_distill"] = s["feature_distill_weight"] * distill_loss(
                self.ssl, h[0], h[1], targets[0], targets[1], s["distill_temperature"])
        if s["distill_classifier"]:
            soft = [tf.cast(teacher["classifier"](f, training=True), tf.float32) for f in old]
            terms["classifier_distill"] = s["classifier_distill_weight"] * 0.5 * (
                losses.soft_label_loss(logits[0], soft[0])
                + losses.soft_label_loss(logits[1], soft[1]))
        return terms

    def _momentum_update(self) -> None:
        step = self.optimizer.task_iterations() - 1
        tau = momentum_tau(step, self.task_steps, self.settings["tau_base"],
                           self.settings["tau_final"])
        for name, online in (("encoder", self.encoder), ("projector", self.projector)):
            ema_update(online.trainable_variables, self.momentum[name].trainable_variables, tau)

    def train_step(self, batch: StreamBatch, step) -> dict:
        images, labels = batch.images, batch.labels
        if batch.replay_images is not None:
            images = tf.concat([images, batch.replay_images], 0)
            labels = tf.concat([labels, batch.replay_labels], 0)
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        teach = int(self.task.numpy()) > 0 and (self.settings["distill_features"]
                                                 or self.settings["distill_classifier"])
        idle = () if teach and self.settings["distill_features"] else ("distill_predictor",)
        probe = self._probe_batch(batch)
        step = self._steps[teach, probe is not None]
        return step(images, labels, seed, self.optimizer.learning_rates(batch.epoch, idle),
                    *(probe or ()))

    def _probe_batch(self, batch: StreamBatch):
        """(standardised images, labels) of every seen task's rows for the online probe this
        step, or None: no probe, or outside a stream (then it reads the step's own rows)."""
        if not self.settings["online_probe"] or self._experiences is None or batch.source is None:
            return None
        index = int(self.task.numpy())  # .numpy(): a mirrored variable has no int()
        ids = probe_rows(self._experiences, index, self._batches_per_epoch(
            self._experiences[index]), int(self.optimizer.task_iterations().numpy()), self.seed)
        images, labels = batch.source.gather(ids)
        return standardize(images), labels

    def predict(self, images):
        return self._predict(images)

    def probe_features(self, images) -> tf.Tensor:
        """The encoder's features in inference mode: what a `linear_probe` stage trains on
        (the FWT baseline: a probe on the random backbone, `StreamPlan.random_init_evaluation`)."""
        return self._features(images)

    # ---------------------------------------------------------------- hooks
    def begin_experience(self, experience, table) -> None:
        """Record the task; restart the optimiser and the tau schedule; freeze the teacher; add
        the previous task's share of each class to the replay memory."""
        self.task.assign(experience.index)
        self.task_steps.assign(self.epochs * max(self._batches_per_epoch(experience), 1))
        self.optimizer.restart()
        if experience.index > 0:
            copy_weights(self.encoder, self.teacher["encoder"])
            copy_weights(self.projector, self.teacher["projector"])
            copy_weights(self.classifier, self.teacher["classifier"])
            if self.buffer is not None and self.uses_buffer:
                remember_task(self.buffer, self._experiences, experience.index - 1, table,
                              self.seed)


# The teacher folder's files enter the stage keys by content, not by path (continual.key_files).
register_file_binding(Kaizen, "teacher_checkpoint")


def _compiled(predict, images: tf.TensorSpec):
    """`predict` compiled for uint8 images of any row count."""
    return tf.function(predict, input_signature=[images])


def _float32(values: dict) -> dict:
    """Each tensor cast to float32 (under a mixed policy the models compute in 16 bits; losses
    and their sum are taken in 32)."""
    return {name: tf.cast(value, tf.float32) for name, value in values.items()}
