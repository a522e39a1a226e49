"""Baselines through the whole stream path: fine-tuning (also joint training, on the joint
scenario) and experience replay (ER) with an episodic buffer.

Fine-tuning trains one classifier with cross-entropy on each experience's data in turn, with
no protection against forgetting. ER adds a replay batch sampled from the buffer to every
stream batch (one loss over both) and offers the stream rows to the buffer's policy after the
step (once per row: in the first epoch of a phase only).
"""

from __future__ import annotations

import gin
import keras
import tensorflow as tf

from continual import planning
from continual.data.views import random_flip, standardize
from continual.methods import data_parallel
from continual.methods.base import Phase, StreamBatch, StreamMethod
from continual.models.classifiers import build_classifier
from continual.optim.loss_scale import DynamicLossScale
from continual.optim.sgd import TorchSGD
from continual.replay.buffers.policies.base import BufferPolicy


@gin.configurable
class FineTuning(StreamMethod):
    """Cross-entropy on the stream; `epochs` passes per experience (`online`: one pass in
    stream order). The optimiser is `TorchSGD` (PyTorch's SGD: coupled weight decay, momentum
    outside the lr), configured by its own `TorchSGD.*` bindings."""

    name = "finetune"
    supports_loss_scaling = True
    data_parallel = True
    kept_between_stages = True  # the step's input signature; predict: the same test batches

    def __init__(self, *, epochs: int = 1, online: bool = False, flip: bool = False):
        owner = type(self).__name__
        self.epochs = planning.check_int(f"{owner}.epochs", epochs, minimum=1)
        self.online = planning.check_bool(f"{owner}.online", online)
        self.flip = planning.check_bool(f"{owner}.flip", flip)
        self.buffer = None

    def build(self, input_shape, num_classes, buffer, seed) -> None:
        self.model = build_classifier(input_shape=tuple(input_shape), num_classes=num_classes,
                                      seed=seed)
        self.optimizer = TorchSGD()
        self.optimizer.build(self.model.trainable_variables)
        self.loss_scale = DynamicLossScale()  # enabled under mixed_float16 only
        self.buffer = buffer
        self.seed = seed
        self.strategy = data_parallel.captured_strategy()
        # One trace for every batch size: ER's step grows from stream rows to stream + replay
        # rows when the buffer first holds items, and a last batch may be smaller.
        self._step = tf.function(self._train_step, input_signature=[
            tf.TensorSpec([None, *input_shape], tf.uint8), tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([], tf.int64)])
        self._predict = tf.function(lambda images: self.model(standardize(images),
                                                              training=False),
                                    reduce_retracing=True)

    def trackables(self) -> dict:
        found = {"model": self.model, "optimizer": self.optimizer}
        if self.loss_scale.enabled:
            found["loss_scale"] = self.loss_scale
        if self.buffer is not None:
            found["buffer"] = self.buffer
        return found

    def phases(self, experience) -> list[Phase]:
        return [Phase("online")] if self.online else [Phase("offline", self.epochs)]

    def _train_step(self, images, labels, step):
        if self.flip:
            images = random_flip(images, tf.stack([tf.cast(self.seed, tf.int64), step]))
        return data_parallel.run_split(self.strategy, self._replica_step, (images, labels))

    def _replica_step(self, images, labels):
        with tf.GradientTape() as tape:
            logits = self.model(standardize(images), training=True)
            loss = data_parallel.global_mean(keras.losses.sparse_categorical_crossentropy(
                labels, tf.cast(logits, tf.float32), from_logits=True))
            scaled_loss = self.loss_scale.scale_loss(loss)
        variables = self.model.trainable_variables
        grads = tape.gradient(scaled_loss, variables)
        self.loss_scale.apply(grads, lambda unscaled: self.optimizer.apply_gradients(
            zip(unscaled, variables, strict=True)))
        return {"loss": loss}

    def train_step(self, batch: StreamBatch, step) -> dict:
        images, labels = batch.images, batch.labels
        if batch.replay_images is not None:
            images = tf.concat([images, batch.replay_images], 0)
            labels = tf.concat([labels, batch.replay_labels], 0)
        return self._step(images, labels, step)

    def predict(self, images):
        return self._predict(images)


@gin.configurable
class ExperienceReplay(FineTuning):
    """ER: every stream batch is trained together with a replay batch from the buffer
    (`ExperienceLoop.replay_batch_size`); the buffer's policy (reservoir by default) sees
    each stream row once."""

    name = "er"
    uses_buffer = True
    kept_between_stages = True  # FineTuning's signatures; replay joins before the step
    data_parallel = True  # the buffer is sampled and offered rows outside the replicas

    def build(self, input_shape, num_classes, buffer, seed) -> None:
        if buffer is None:
            raise ValueError("ExperienceReplay needs a buffer: set StreamPlan.buffer = "
                             "@EpisodicBuffer")
        policy = type(buffer.policy)
        if (policy.stream_slots is BufferPolicy.stream_slots
                and policy.observe is BufferPolicy.observe):
            raise ValueError(
                f"ExperienceReplay: EpisodicBuffer.policy = {buffer.policy.name!r} only acts at "
                "task boundaries (or on a method's scores), and ER offers it stream rows only, "
                "so the memory would stay empty; bind EpisodicBuffer.policy to an online policy "
                "('reservoir', 'fifo', 'class_balanced_reservoir', 'greedy_class_balanced')")
        super().build(input_shape, num_classes, buffer, seed)

    def after_step(self, batch: StreamBatch, step, outputs) -> None:
        if batch.first_sight:
            self.buffer.observe(batch.ids, batch.labels, step=step,
                                seed=tf.constant(self.seed, tf.int64))
