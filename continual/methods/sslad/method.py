"""SSLAD Track 3A, 3rd place: online continual classification with uncertainty-guided
episodic replay and deep metric learning (`mrifkikurniawan/sslad`: `class_strategy.py`,
`modules.py`, `loss.py`, `configs/cl_strategy.yaml`).

Per stream batch (at most 10 items, one pass): a class-balanced replay batch from the current
memory joins it once the memory first holds `sweep_size` items; the loss is the
class-balanced focal loss over all rows, plus the soft-label KL on the replayed rows (weights
ramped at global iterations), plus contrastive and supervised-contrastive losses on the
pooled embeddings; SGD with a multi-step lr on the global iteration. After the step the
stream rows are scored in inference mode and the most certain enter memory with their logits
(`UncertaintyPolicy`); a sweep keeps the `sweep_size` items most uncertain under `votes`
perturbations every `sweep_every` iterations and whenever the memory is full. Every part is a
binding, so the ablation ladder is this class with other flags.

Fixes of the original's defects: training forwards use training=True, scoring forwards
training=False (the original's sampler left the model in eval mode, so BN froze after each
experience's first iteration); only stream rows are offered to memory (the original offered
the whole batch, replayed rows too, so duplicates piled up); replay from the current memory
every iteration, no silent skips (the original's exhausted iterator, read in a bare `except:`,
skipped 16 of every 100 iterations, and it sampled a snapshot of the memory; here the
class-balanced sampler draws without replacement, round-robin over classes, instead of
1/count weights with replacement); the KL term reads real replay rows only; soft-label
targets stay the logits recorded at insertion (the original's sweep overwrote them with its
12th, augmented pass); sweep ties are broken by a seeded permutation, then a stable sort (the
original's pandas sort is unstable); the entropy uses `xlogy` (the original's `log(p)` gives
NaN on a saturated softmax). Replayed rows pass through the original's memory transforms (flip,
rotation 10 degrees, brightness 0.5, hue 0.5: `replay_views.py`). Deviation: the sweep ranks
the memory only (the original also appended the step's 16 rows, stream rows it had not kept
among them).
"""

from __future__ import annotations

import gin
import tensorflow as tf

from continual import planning
from continual.data.views import standardize
from continual.methods import data_parallel
from continual.methods.base import Phase, StreamBatch, StreamMethod
from continual.methods.sslad import losses, settings
from continual.methods.sslad.perturb import perturb
from continual.methods.sslad.replay_views import memory_view
from continual.models.classifiers import build_classifier
from continual.optim.loss_scale import DynamicLossScale
from continual.optim.schedules import MultiStepDecay
from continual.optim.sgd import TorchSGDBase
from continual.replay.buffers.policies.uncertainty import UncertaintyPolicy

OWNER = settings.OWNER
SWEEP_BATCH = 256
HEAD_SEED = 7919  # offsets the head step's draws from the replay batch's (same step)


@gin.configurable
class UncertaintyGuidedReplay(StreamMethod):
    """The method; the defaults are the final configuration `configs/cl_strategy.yaml`.

    Switches (the ablation ladder): `replay` (uncertainty-guided memory and replay),
    `lr_milestones` (() = constant lr), `soft_labels`, `contrastive_weight`,
    `supcon_weight` (0 = off), `focal_alpha` / `focal_gamma` / `class_balanced_beta` (1, 0,
    None = cross-entropy), head fine-tuning: `head_batch_size` (> 0: the original's
    `FinetuneHeadTrainer`, commit 029da65: after every update once replay has started, one SGD
    step on the head alone over `head_batch_size` class-balanced memory rows through the memory
    transforms, cross-entropy, lr `head_learning_rate`) or `head_epochs` (> 0: this port's
    variant, `head_epochs` epochs of the head on the memory after each experience with the
    classification loss). Neither writes the stored logits (the soft labels). Options of the
    per-update head step (both off by default): `head_lr_milestones` (the head lr times
    `head_lr_gamma` at each, counted in head steps: commit 566057a) and `head_soft_labels`
    (commit 47287f5: from global iteration `head_soft_label_milestones[0]` on, the head step
    adds `head_soft_label_weights[i]` x the soft-label KL, temperature `head_temperature`, of
    its memory rows to their stored logits).
    """

    name = "sslad"
    supports_loss_scaling = True
    data_parallel = True  # memory decisions in the hooks, outside the replicas

    def __init__(self, *, replay: bool = True, sweep_size: int = 500, sweep_every: int = 1000,
                 votes: int = 12, learning_rate: float = 0.0111,
                 lr_milestones=(1000, 2000), lr_gamma: float = 0.1, momentum: float = 0.0,
                 weight_decay: float = 0.0, focal_alpha: float = 0.5, focal_gamma: float = 0.0,
                 class_balanced_beta: float | None = 0.81, soft_labels: bool = True,
                 temperature: float = 0.5, soft_label_milestones=(1700, 2000, 2100),
                 soft_label_weights=(0.5, 0.8, 1.0), contrastive_weight: float = 0.3,
                 positive_margin: float = 0.0, negative_margin: float = 1.0,
                 supcon_weight: float = 0.1, supcon_temperature: float = 0.1,
                 replay_flip: bool = True, replay_rotation: float = 10.0,
                 replay_brightness: float = 0.5, replay_hue: float = 0.5, head_epochs: int = 0,
                 head_batch_size: int = 0, head_learning_rate: float = 0.001,
                 head_lr_milestones=(), head_lr_gamma: float = 0.1,
                 head_soft_labels: bool = False, head_temperature: float = 0.5,
                 head_soft_label_milestones=(1700, 2000, 2100),
                 head_soft_label_weights=(0.5, 0.8, 1.0),
                 challenge_rules: bool = True,
                 epochs: int = 1):
        self.replay = self.uses_buffer = planning.check_bool(f"{OWNER}.replay", replay)
        self.sweep_size = planning.check_int(f"{OWNER}.sweep_size", sweep_size, minimum=1)
        self.sweep_every = planning.check_int(f"{OWNER}.sweep_every", sweep_every, minimum=1)
        self.votes = planning.check_int(f"{OWNER}.votes", votes, minimum=2)
        self.learning_rate = settings.positive("learning_rate", learning_rate)
        self.lr_milestones = settings.increasing("lr_milestones", lr_milestones)
        self.lr_gamma = settings.positive("lr_gamma", lr_gamma)
        self.momentum = settings.non_negative("momentum", momentum)
        self.weight_decay = settings.non_negative("weight_decay", weight_decay)
        self.focal_alpha = settings.non_negative("focal_alpha", focal_alpha)
        self.focal_gamma = settings.non_negative("focal_gamma", focal_gamma)
        self.beta = settings.beta_or_none(class_balanced_beta)
        self.soft_labels = planning.check_bool(f"{OWNER}.soft_labels", soft_labels)
        self.temperature = settings.positive("temperature", temperature)
        self.soft_label_milestones, self.soft_label_weights = settings.weight_schedule(
            "soft_label_milestones", soft_label_milestones, "soft_label_weights",
            soft_label_weights)
        self.contrastive_weight = settings.non_negative("contrastive_weight", contrastive_weight)
        self.margins = (settings.non_negative("positive_margin", positive_margin),
                        settings.non_negative("negative_margin", negative_margin))
        self.supcon_weight = settings.non_negative("supcon_weight", supcon_weight)
        self.supcon_temperature = settings.positive("supcon_temperature", supcon_temperature)
        self.replay_flip = planning.check_bool(f"{OWNER}.replay_flip", replay_flip)
        self.replay_jitter = {"rotation_degrees": settings.non_negative("replay_rotation",
                                                                        replay_rotation),
                              "brightness": settings.non_negative("replay_brightness",
                                                                  replay_brightness),
                              "hue": settings.at_most("replay_hue", replay_hue, 0.5)}
        self.head_epochs = planning.check_int(f"{OWNER}.head_epochs", head_epochs, minimum=0)
        self.head_batch_size = planning.check_int(f"{OWNER}.head_batch_size", head_batch_size,
                                                  minimum=0)
        self.head_learning_rate = settings.positive("head_learning_rate", head_learning_rate)
        self.head_lr_milestones = settings.increasing("head_lr_milestones", head_lr_milestones)
        self.head_lr_gamma = settings.positive("head_lr_gamma", head_lr_gamma)
        self.head_soft_labels = planning.check_bool(f"{OWNER}.head_soft_labels",
                                                    head_soft_labels)
        self.head_temperature = settings.positive("head_temperature", head_temperature)
        self.head_soft_label_milestones, self.head_soft_label_weights = settings.weight_schedule(
            "head_soft_label_milestones", head_soft_label_milestones, "head_soft_label_weights",
            head_soft_label_weights)
        self.challenge_rules = planning.check_bool(f"{OWNER}.challenge_rules", challenge_rules)
        self.epochs = planning.check_int(f"{OWNER}.epochs", epochs, minimum=1)
        if self.challenge_rules:
            settings.check_challenge_rules(1, self.epochs)
        if self.soft_labels and not self.soft_label_milestones:
            raise ValueError(f"{OWNER}.soft_labels = True needs soft_label_milestones (the "
                             "iteration it starts at first); give at least one")
        settings.check_head(self.head_epochs, self.head_batch_size, self.replay,
                            self.sweep_size)
        settings.check_head_soft_labels(self.head_soft_labels, self.head_batch_size,
                                        self.head_soft_label_milestones)
        self.buffer = None

    # ---------------------------------------------------------------------------- building
    def build(self, input_shape, num_classes, buffer, seed) -> None:
        self.num_classes, self.seed = int(num_classes), int(seed)
        self.model = build_classifier(input_shape=tuple(input_shape), num_classes=num_classes,
                                      seed=seed)
        rate = (MultiStepDecay(self.learning_rate, self.lr_milestones, self.lr_gamma)
                if self.lr_milestones else self.learning_rate)
        self.optimizer = TorchSGDBase(learning_rate=rate, momentum=self.momentum,
                                      weight_decay=self.weight_decay)
        self.optimizer.build(self.model.trainable_variables)
        head_rate = (MultiStepDecay(self.head_learning_rate, self.head_lr_milestones,
                                    self.head_lr_gamma)
                     if self.head_lr_milestones else self.head_learning_rate)
        self.head_optimizer = TorchSGDBase(learning_rate=head_rate)  # schedule: head steps
        self.head_optimizer.build(self.model.head.trainable_variables)
        self.loss_scale = DynamicLossScale()  # enabled under mixed_float16 only
        self.strategy = data_parallel.captured_strategy()
        self.state = tf.Module(name="sslad_state")
        self.state.replay_started = tf.Variable(False, trainable=False, name="replay_started")
        self.buffer = buffer if self.replay else None
        if self.replay:
            self._check_buffer(buffer)
        self._step = tf.function(self._train_step, reduce_retracing=True)
        self._head_step = tf.function(self._train_head, reduce_retracing=True)
        self._head_replay_step = tf.function(self._train_head_on_replay, reduce_retracing=True)
        self._predict = tf.function(lambda images: self.model(standardize(images),
                                                              training=False),
                                    reduce_retracing=True)

    def _check_buffer(self, buffer) -> None:
        if not isinstance(buffer.policy, UncertaintyPolicy):
            raise ValueError(f"{OWNER} keeps its memory by uncertainty: set "
                             "EpisodicBuffer.policy = 'uncertainty'")
        logits = buffer.storage.logits
        if logits is None or int(logits.shape[1]) != self.num_classes:
            raise ValueError(f"{OWNER} stores each item's logits (its soft label): set "
                             f"EpisodicBuffer.logits_dim = {self.num_classes} (the data's "
                             "number of classes)")
        if self.sweep_size >= buffer.capacity:
            raise ValueError(f"{OWNER}.sweep_size = {self.sweep_size} must be smaller than "
                             f"EpisodicBuffer.capacity = {buffer.capacity} (a sweep shrinks a "
                             "full memory); lower sweep_size or raise the capacity")

    def check_stream(self, scenario, loop) -> None:
        if self.challenge_rules:
            settings.check_challenge_rules(loop.stream_batch_size, self.epochs)
        if self.replay and loop.replay_batch_size > self.sweep_size:
            raise ValueError(f"ExperienceLoop.replay_batch_size = {loop.replay_batch_size} is "
                             f"more than {OWNER}.sweep_size = {self.sweep_size} (the memory "
                             "replay starts from); lower it or raise sweep_size")
        iterations = settings.check_experiences(scenario, loop.stream_batch_size)
        settings.warn_beyond_stream("lr_milestones", self.lr_milestones,
                                    iterations * self.epochs)
        if self.soft_labels and self.replay:
            settings.warn_unreachable("soft_label_milestones", self.soft_label_milestones[0],
                                      iterations, "soft-label retrospection")
        if self.head_soft_labels:
            settings.warn_unreachable("head_soft_label_milestones",
                                      self.head_soft_label_milestones[0], iterations,
                                      "the head steps' soft-label term")

    def trackables(self) -> dict:
        found = {"model": self.model, "optimizer": self.optimizer, "sslad": self.state,
                 "head_optimizer": self.head_optimizer}
        if self.loss_scale.enabled:
            found["loss_scale"] = self.loss_scale
        if self.buffer is not None:
            found["buffer"] = self.buffer
        return found

    def phases(self, experience) -> list[Phase]:
        stream = [Phase("online")] if self.epochs == 1 else [Phase("offline", self.epochs)]
        return stream + ([Phase("memory", self.head_epochs)] if self.head_epochs else [])

    # ---------------------------------------------------------------------------- training
    def _classification_loss(self, labels, logits):
        return losses.class_balanced_focal(labels, logits, alpha=self.focal_alpha,
                                           gamma=self.focal_gamma, beta=self.beta)

    def _train_step(self, images, labels, replay_images, replay_labels, replay_logits, step):
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        replay_images = memory_view(replay_images, seed, flip=self.replay_flip,
                                    **self.replay_jitter)
        stream_rows = tf.shape(images)[0]
        images = tf.concat([images, replay_images], 0)
        labels = tf.concat([labels, replay_labels], 0)
        # Per row: replayed or not, and its stored logits (zeros for stream rows), so each
        # replica finds the replayed rows of its slice (they come last in the batch).
        replayed = tf.range(tf.shape(labels)[0]) >= stream_rows
        stored = tf.concat([tf.zeros([stream_rows, self.num_classes], tf.float32),
                            tf.cast(replay_logits, tf.float32)], 0)
        return data_parallel.run_split(self.strategy, self._replica_step,
                                       (images, labels, replayed, stored), (step,))

    def _replica_step(self, images, labels, replayed, stored, step):
        with tf.GradientTape() as tape:
            embeddings = self.model.features(standardize(images), training=True)
            logits = tf.cast(self.model.head(embeddings), tf.float32)
            embeddings = tf.cast(embeddings, tf.float32)  # losses in float32
            parts = {"classification": self._classification_loss(labels, logits)}
            if self.soft_labels:
                first = tf.shape(logits)[0] - tf.reduce_sum(tf.cast(replayed, tf.int32))
                parts["soft_labels"] = settings.step_weight(
                    step, self.soft_label_milestones, self.soft_label_weights) * \
                    losses.soft_label_kl(stored[first:], logits[first:], self.temperature)
            if self.contrastive_weight:
                parts["contrastive"] = self.contrastive_weight * losses.contrastive(
                    embeddings, labels, positive_margin=self.margins[0],
                    negative_margin=self.margins[1])
            if self.supcon_weight:
                parts["supcon"] = self.supcon_weight * losses.supervised_contrastive(
                    embeddings, labels, temperature=self.supcon_temperature)
            loss = tf.add_n(list(parts.values()))
            scaled_loss = self.loss_scale.scale_loss(loss)
        variables = self.model.trainable_variables
        self.loss_scale.apply(tape.gradient(scaled_loss, variables),
                              lambda grads: self.optimizer.apply_gradients(
                                  zip(grads, variables, strict=True)))
        return {"loss": loss, **parts}

    def _train_head(self, images, labels, cross_entropy: bool = False, stored_logits=None,
                    soft_weight=None):
        """One SGD step of the head alone, its batch split across the replicas."""
        rows = (images, labels) if stored_logits is None else (images, labels, stored_logits)

        def replica_step(images, labels, stored_logits=None):
            return self._head_replica_step(images, labels, cross_entropy, stored_logits,
                                           soft_weight)

        return data_parallel.run_split(self.strategy, replica_step, rows)

    def _head_replica_step(self, images, labels, cross_entropy, stored_logits, soft_weight):
        embeddings = self.model.features(standardize(images), training=False)
        parts = {}
        with tf.GradientTape() as tape:
            logits = tf.cast(self.model.head(embeddings), tf.float32)
            loss = (losses.class_balanced_focal(labels, logits, alpha=1.0, gamma=0.0, beta=None)
                    if cross_entropy else self._classification_loss(labels, logits))
            if soft_weight is not None:  # the original's CE weights stay 1.0 (not ported)
                parts["soft_labels"] = soft_weight * losses.soft_label_kl(
                    stored_logits, logits, self.head_temperature)
                loss += parts["soft_labels"]
            scaled_loss = self.loss_scale.scale_loss(loss)
        variables = self.model.head.trainable_variables
        self.loss_scale.apply(tape.gradient(scaled_loss, variables),
                              lambda grads: self.head_optimizer.apply_gradients(
                                  zip(grads, variables, strict=True)))
        return {"loss": loss, **parts}

    def _train_head_on_replay(self, images, labels, stored_logits, seed, step):
        """The original's per-update head step: memory rows through the memory transforms,
        cross-entropy (+ the soft-label KL to their stored logits, weight ramped at global
        iterations, with `head_soft_labels`), the head alone."""
        images = memory_view(images, seed, flip=self.replay_flip, **self.replay_jitter)
        weight = (settings.step_weight(step, self.head_soft_label_milestones,
                                       self.head_soft_label_weights)
                  if self.head_soft_labels else None)
        return self._train_head(images, labels, cross_entropy=True,
                                stored_logits=stored_logits, soft_weight=weight)

    def train_step(self, batch: StreamBatch, step) -> dict:
        if batch.phase == "memory":
            return self._head_step(batch.images, batch.labels)
        replay_images, replay_labels, replay_logits = self._replay_rows(batch)
        outputs = self._step(batch.images, batch.labels, replay_images, replay_labels,
                             replay_logits, step)
        if self.head_batch_size and bool(self.state.replay_started.numpy()):
            seed = tf.stack([tf.constant(self.seed + HEAD_SEED, tf.int64),
                             tf.cast(step, tf.int64)])
            sample = self.buffer.sample(self.head_batch_size, seed=seed)
            images, labels = batch.source.gather(sample["ids"])
            head = self._head_replay_step(images, labels, sample["logits"], seed, step)
            outputs["head_loss"] = head["loss"]
            if self.head_soft_labels:
                outputs["head_soft_labels"] = head["soft_labels"]
        return outputs

    def _replay_rows(self, batch: StreamBatch):
        """The replay rows and their stored logits; empty until replay has started."""
        if (self.replay and batch.replay_images is not None
                and bool(self.state.replay_started.numpy())):
            logits = tf.gather(self.buffer.storage.logits, batch.replay_slots)
            return batch.replay_images, batch.replay_labels, logits
        shape = tf.concat([[0], tf.shape(batch.images)[1:]], 0)
        return (tf.zeros(shape, tf.uint8), tf.zeros([0], tf.int32),
                tf.zeros([0, self.num_classes], tf.float32))

    def predict(self, images):
        return self._predict(images)

    # ---------------------------------------------------------------------------- memory
    def after_step(self, batch: StreamBatch, step, outputs) -> None:
        if not self.replay or not batch.first_sight:
            return
        self.buffer.observe(batch.ids, batch.labels, step=step,
                            seed=tf.constant(self.seed, tf.int64),
                            logits=self._predict(batch.images))
        size = int(self.buffer.size)
        if size >= self.sweep_size:
            self.state.replay_started.assign(True)
        iteration = int(step)
        if iteration > 0 and (iteration % self.sweep_every == 0 or size >= self.buffer.capacity):
            self.sweep(batch.source, iteration)

    def vote_uncertainty(self, images: tf.Tensor, iteration: int) -> tf.Tensor:
        """u = 1 - max_c S_c / T per image, S_c = perturbations predicting class c."""
        votes = tf.zeros([tf.shape(images)[0], self.num_classes], tf.float32)
        for t in range(self.votes):
            seed = tf.constant([self.seed * 1000 + 17 + t, iteration], tf.int64)
            predicted = []
            for start in range(0, int(images.shape[0]), SWEEP_BATCH):
                chunk = perturb(images[start:start + SWEEP_BATCH], seed + [0, start])
                predicted.append(tf.argmax(self._predict(chunk), axis=-1, output_type=tf.int32))
            votes += tf.one_hot(tf.concat(predicted, 0), self.num_classes)
        return 1.0 - tf.reduce_max(votes, axis=-1) / self.votes

    def sweep(self, table, iteration: int) -> None:
        """Keep the `sweep_size` most uncertain items of the memory."""
        images, _ = table.gather(self.buffer.stored_ids())
        uncertainty = self.vote_uncertainty(images, iteration)
        keep = min(self.sweep_size, int(self.buffer.size))
        self.buffer.policy.sweep(self.buffer.storage, uncertainty, keep,
                                 seed=[self.seed, iteration])
