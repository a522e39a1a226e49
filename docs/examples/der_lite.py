"""DER-lite: dark experience replay (Buzzega et al., NeurIPS 2020) in one file, the README's
worked example of adding a stream method.

Loss = cross-entropy on the stream batch + `alpha` x the mean squared error between the model's
logits on a replay batch and the logits stored when those rows entered the buffer. The buffer
keeps logits because the .gin file binds `EpisodicBuffer.logits_dim`; its reservoir policy is
offered each stream row once, with the logits the train step computed for it.
"""

from __future__ import annotations

import gin
import keras
import tensorflow as tf

from continual.bindings import check_float, check_int
from continual.data.views import standardize
from continual.methods.base import Phase, StreamBatch, StreamMethod
from continual.models.classifiers import build_classifier
from continual.optim.loss_scale import DynamicLossScale
from continual.optim.sgd import TorchSGD


@gin.configurable
class DerLite(StreamMethod):
    """`alpha` weighs the logit-matching term; `epochs` passes over each experience."""

    name = "der_lite"
    uses_buffer = True              # the loop adds a replay batch once the buffer holds rows
    supports_loss_scaling = True    # the train step scales its loss (float16 is allowed)

    def __init__(self, *, alpha: float = 0.3, epochs: int = 1):
        self.alpha = check_float("DerLite.alpha", alpha, positive=False)
        self.epochs = check_int("DerLite.epochs", epochs, minimum=1)

    def build(self, input_shape, num_classes, buffer, seed) -> None:
        if buffer is None or buffer.storage.logits is None:
            raise ValueError("DerLite replays stored logits: bind StreamPlan.buffer = "
                             "@EpisodicBuffer and EpisodicBuffer.logits_dim = <classes>")
        self.model = build_classifier(input_shape=tuple(input_shape), num_classes=num_classes,
                                      seed=seed)
        self.optimizer = TorchSGD()
        self.optimizer.build(self.model.trainable_variables)  # slots exist before a restore
        self.loss_scale = DynamicLossScale()  # enabled under mixed_float16 only
        self.buffer, self.seed = buffer, seed
        self.stream_logits = None  # the last step's logits, for the buffer (not an output)
        self._step = tf.function(self._train_step, reduce_retracing=True)

    def trackables(self) -> dict:
        found = {"model": self.model, "optimizer": self.optimizer, "buffer": self.buffer}
        if self.loss_scale.enabled:
            found["loss_scale"] = self.loss_scale
        return found

    def phases(self, experience) -> list[Phase]:
        return [Phase("offline", self.epochs)]

    def _train_step(self, images, labels, replay_images, replay_logits):
        count = tf.shape(images)[0]
        with tf.GradientTape() as tape:  # one forward pass over stream and replay rows
            both = tf.concat([images, replay_images], 0)
            logits = tf.cast(self.model(standardize(both), training=True), tf.float32)
            cross_entropy = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                labels, logits[:count], from_logits=True))
            matching = tf.math.divide_no_nan(  # 0 while the buffer is empty
                tf.reduce_sum(tf.square(logits[count:] - replay_logits)),
                tf.cast(tf.size(replay_logits), tf.float32))
            loss = cross_entropy + self.alpha * matching
            scaled = self.loss_scale.scale_loss(loss)
        variables = self.model.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.loss_scale.apply(grads, lambda unscaled: self.optimizer.apply_gradients(
            zip(unscaled, variables, strict=True)))
        return ({"loss": loss, "cross_entropy": cross_entropy, "logit_mse": matching},
                logits[:count])

    def train_step(self, batch: StreamBatch, step) -> dict:
        if batch.replay_images is None:  # empty buffer: a zero-row replay batch
            replay_images = batch.images[:0]
            replay_logits = tf.zeros([0, self.buffer.storage.logits.shape[1]])
        else:
            replay_images = batch.replay_images
            replay_logits = self.buffer.storage.gather(batch.replay_slots)["logits"]
        outputs, self.stream_logits = self._step(batch.images, batch.labels, replay_images,
                                                 replay_logits)
        return outputs  # scalars only: the loop logs them and shows them on the bar

    def after_step(self, batch: StreamBatch, step, outputs) -> None:
        if batch.first_sight:  # each stream row is offered to the buffer once
            self.buffer.observe(batch.ids, batch.labels, step=step,
                                seed=tf.constant(self.seed, tf.int64),
                                logits=self.stream_logits)

    def predict(self, images):
        return self.model(standardize(images), training=False)
