"""Kaizen: self-supervised continual learning with continual fine-tuning (Tang et al., WACV
2024; `Nokia-Bell-Labs/kaizen`), with CaSSLe and no-distillation as flag settings.

Per task t, every step takes the task's batch plus (with `replay`) a batch of the fixed replay
memory (`EpisodicBuffer.policy = 'proportion_per_class'`, filled when a task ends), two
augmented views of both, and minimises (reference §5.3)

    L = L_FE^CT                    SSL loss (BYOL or SimCLR) on current + replay data
      + w_c  L_C^CT                classifier CE on stop-gradient features, both views
      + λ_f  L_FE^KD   (t > 0)     h(z) against the frozen previous projector (distill_features)
      + λ_c  L_C^KD    (t > 0)     soft labels of the previous classifier (distill_classifier)
      + the online probe's CE      (evaluation head, stop-gradient features)

Kaizen = both distillations with replay; CaSSLe = feature distillation only, no replay;
no-distill = neither. The teacher (encoder, projector, classifier) is copied from the student
when task t > 0 begins and is never trained; its BN uses batch statistics as the original's
(errata DEC4: its models stay `trainable`, so Keras does not force inference BN; they are just
left out of the optimiser). The online probe reads the encoder in inference mode by default
(DEC3); `probe_training_mode` restores the original's training-mode forward. Distillation
predictor, momentum encoder and probe carry over between tasks (errata K4); the optimiser's
momentum and step count, the lr schedule and the momentum tau restart per task.
Deviations: the probe trains on the step's labelled rows (task + replay), not on a loader of
all seen tasks (D3); 32-bit precision.
"""

from __future__ import annotations

import logging
import math

import gin
import tensorflow as tf

from continual.data.views import standardize
from continual.methods.base import Phase, StreamBatch, StreamMethod
from continual.methods.kaizen import losses
from continual.methods.kaizen.heads import copy_weights, linear_head, two_layer_head
from continual.methods.kaizen.memory import check_memory
from continual.methods.kaizen.optimizer import KaizenOptimizer
from continual.methods.kaizen.settings import check_settings
from continual.methods.kaizen.ssl import (
    SSL_METHODS,
    distill_loss,
    ema_update,
    momentum_tau,
    ssl_loss,
)
from continual.methods.kaizen.views import kaizen_views
from continual.models.classifiers import build_classifier

log = logging.getLogger(__name__)
MEMORY_POLICY = "proportion_per_class"


@gin.configurable
class Kaizen(StreamMethod):
    """Kaizen / CaSSLe / no-distill by flags; defaults are the paper's BYOL CIFAR-100 script.

    Args (weights and sizes as reference §5.2-5.4):
      ssl_method: 'byol' or 'simclr'.  epochs: per task.  replay: use the replay memory.
      distill_features, distill_classifier: the two distillation terms (tasks t > 0).
      feature_distill_weight, classifier_distill_weight, classifier_loss_weight: λ_f, λ_c, w_c.
      distill_temperature: the contrastive distiller's τ; simclr_temperature: SimCLR's τ.
      projection_dim, projector_hidden, predictor_hidden, distill_hidden, classifier_hidden.
      tau_base, tau_final: the momentum encoder's cosine schedule (BYOL: 0.99 -> 1.0).
      learning_rate, weight_decay: the encoder group's LARS lr / wd (and the predictor's);
      classifier_lr, probe_lr: their groups' lr (wd 0). warmup_epochs, warmup_start_lr: the
      per-epoch warm-up cosine. online_probe, probe_training_mode: see the module doc.
    """

    name = "kaizen"

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
                 online_probe: bool = True, probe_training_mode: bool = False):
        values = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        check_settings(values)
        self.settings = values
        self.ssl = SSL_METHODS[ssl_method]
        self.epochs, self.uses_buffer = epochs, replay
        self.buffer, self.batch_size = None, 0

    # ---------------------------------------------------------------- build and state
    def build(self, input_shape, num_classes, buffer, seed) -> None:
        self._check_buffer(buffer)
        self.buffer, self.seed = buffer, int(seed)
        s = self.settings
        self.encoder = self._encoder(input_shape, num_classes, seed)
        dim = int(self.encoder.output.shape[-1])
        proj = s["projection_dim"]
        self.projector = self._projector(dim, seed, "projector")
        self.classifier = two_layer_head(dim, s["classifier_hidden"], num_classes,
                                         batch_norm=False, seed=seed + 300, name="classifier")
        self.probe = linear_head(dim, num_classes, seed=seed + 400, name="online_probe")
        self.distill_predictor = two_layer_head(proj, s["distill_hidden"], proj, batch_norm=True,
                                                seed=seed + 500, name="distill_predictor")
        self.predictor = (two_layer_head(proj, s["predictor_hidden"], proj, batch_norm=True,
                                         seed=seed + 600, name="predictor")
                          if self.ssl.predictor else None)
        self.momentum = None
        if self.ssl.momentum:
            self.momentum = {"encoder": self._encoder(input_shape, num_classes, seed),
                             "projector": self._projector(dim, seed, "momentum_projector")}
            copy_weights(self.encoder, self.momentum["encoder"])
            copy_weights(self.projector, self.momentum["projector"])
        self.teacher = {"encoder": self._encoder(input_shape, num_classes, seed),
                        "projector": self._projector(dim, seed, "teacher_projector"),
                        "classifier": two_layer_head(dim, s["classifier_hidden"], num_classes,
                                                     batch_norm=False, seed=seed + 300,
                                                     name="teacher_classifier")}
        self.task = tf.Variable(0, dtype=tf.int64, trainable=False, name="task")
        self.task_steps = tf.Variable(1, dtype=tf.int64, trainable=False, name="task_steps")
        self.optimizer = KaizenOptimizer(self._groups(), s)
        self._step = tf.function(self._train_step, reduce_retracing=True)
        self._predict = tf.function(
            lambda images: self.classifier(self.encoder(standardize(images), training=False)),
            reduce_retracing=True)

    def _encoder(self, input_shape, num_classes, seed):
        return build_classifier(input_shape=tuple(input_shape), num_classes=num_classes,
                                seed=seed).backbone

    def _projector(self, dim, seed, name):
        s = self.settings
        return two_layer_head(dim, s["projector_hidden"], s["projection_dim"],
                              batch_norm=self.ssl.projector_bn, seed=seed + 200, name=name)

    def _groups(self) -> dict:
        trunk = self.encoder.trainable_variables + self.projector.trainable_variables
        if self.predictor is not None:
            trunk += self.predictor.trainable_variables
        groups = {"encoder": trunk, "classifier": self.classifier.trainable_variables}
        if self.settings["online_probe"]:
            groups["probe"] = self.probe.trainable_variables
        if self.settings["distill_features"]:
            groups["distill_predictor"] = self.distill_predictor.trainable_variables
        return groups

    def _check_buffer(self, buffer) -> None:
        if buffer is None:
            return
        if not self.uses_buffer:
            raise ValueError("Kaizen.replay = False but StreamPlan.buffer is set; bind "
                             "StreamPlan.buffer = None (or Kaizen.replay = True)")
        if buffer.policy.name != MEMORY_POLICY:
            raise ValueError(f"Kaizen replays a fixed memory: bind EpisodicBuffer.policy = "
                             f"'{MEMORY_POLICY}', got {buffer.policy.name!r}")

    def trackables(self) -> dict:
        found = {"encoder": self.encoder, "projector": self.projector,
                 "classifier": self.classifier, "probe": self.probe,
                 "distill_predictor": self.distill_predictor, "optimizer": self.optimizer.groups,
                 "task": self.task, "task_steps": self.task_steps,
                 **{f"teacher_{k}": v for k, v in self.teacher.items()}}
        if self.predictor is not None:
            found["predictor"] = self.predictor
        if self.momentum is not None:
            found.update({f"momentum_{k}": v for k, v in self.momentum.items()})
        if self.buffer is not None:
            found["buffer"] = self.buffer
        return found

    def phases(self, experience) -> list[Phase]:
        return [Phase("offline", self.epochs)]

    def check_stream(self, scenario, loop) -> None:
        """Size the per-task step count; refuse memories that keep 0 per class or overflow."""
        self.batch_size = loop.stream_batch_size
        if self.buffer is None:
            return
        check_memory(self.buffer, scenario, loop.replay_batch_size)

    # ---------------------------------------------------------------- training
    def _train_step(self, images, labels, seed, learning_rates, teach: bool):
        s = self.settings
        view1, view2 = kaizen_views(images, seed)
        self.optimizer.set_learning_rates(learning_rates)
        with tf.GradientTape() as tape:
            f1, f2 = self.encoder(view1, training=True), self.encoder(view2, training=True)
            online = {"z1": self.projector(f1, training=True),
                      "z2": self.projector(f2, training=True)}
            if self.predictor is not None:
                online.update(p1=self.predictor(online["z1"], training=True),
                              p2=self.predictor(online["z2"], training=True))
            outputs = {"ssl": ssl_loss(self.ssl, online, self._targets(view1, view2),
                                       s["simclr_temperature"])}
            logits = [self.classifier(tf.stop_gradient(f), training=True) for f in (f1, f2)]
            outputs["classifier"] = s["classifier_loss_weight"] * (
                losses.cross_entropy(labels, logits[0]) + losses.cross_entropy(labels, logits[1]))
            if teach:
                outputs.update(self._distillation(view1, view2, online, logits))
            if s["online_probe"]:
                features = self.encoder(view1, training=s["probe_training_mode"])
                outputs["probe"] = losses.cross_entropy(
                    labels, self.probe(tf.stop_gradient(features), training=True))
            loss = tf.add_n(list(outputs.values()))
        variables = self.optimizer.variables_to_train
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        if self.momentum is not None:
            self._momentum_update()
        return {"loss": loss, **outputs}

    def _targets(self, view1, view2) -> dict:
        if self.momentum is None:
            return {}
        encoder, projector = self.momentum["encoder"], self.momentum["projector"]
        return {f"z{i}": tf.stop_gradient(projector(encoder(v, training=True), training=True))
                for i, v in ((1, view1), (2, view2))}

    def _distillation(self, view1, view2, online, logits) -> dict:
        """L_FE^KD and L_C^KD against the frozen teacher (batch-statistics BN, DEC4)."""
        s, teacher, terms = self.settings, self.teacher, {}
        old = [teacher["encoder"](v, training=True) for v in (view1, view2)]
        if s["distill_features"]:
            targets = [teacher["projector"](f, training=True) for f in old]
            h = [self.distill_predictor(online[z], training=True) for z in ("z1", "z2")]
            terms["feature_distill"] = s["feature_distill_weight"] * distill_loss(
                self.ssl, h[0], h[1], targets[0], targets[1], s["distill_temperature"])
        if s["distill_classifier"]:
            soft = [teacher["classifier"](f, training=True) for f in old]
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
        return self._step(images, labels, seed, self.optimizer.learning_rates(batch.epoch),
                          teach)

    def predict(self, images):
        return self._predict(images)

    # ---------------------------------------------------------------- hooks
    def begin_experience(self, experience, table) -> None:
        """Record the task; restart the optimiser and the tau schedule; freeze the teacher."""
        self.task.assign(experience.index)
        batches = math.ceil(len(experience.train_ids) / max(self.batch_size, 1))
        self.task_steps.assign(self.epochs * batches)
        self.optimizer.restart()
        if experience.index > 0:
            copy_weights(self.encoder, self.teacher["encoder"])
            copy_weights(self.projector, self.teacher["projector"])
            copy_weights(self.classifier, self.teacher["classifier"])

    def end_experience(self, experience, table) -> None:
        """Add the task's share of each class to the replay memory (used from task t + 1)."""
        if self.buffer is None:
            return
        ids = list(experience.train_ids)
        self.buffer.end_experience(ids, table.labels_of(ids), self.seed)
