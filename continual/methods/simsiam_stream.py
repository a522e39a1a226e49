"""Continuous self-supervised learning: SimSiam on a stream, with a FIFO or MinRed buffer.

Purushwalkam, Morgado, Gupta, "The Challenges of Continuous Self-Supervised Learning"
(ECCV 2022); the decision on MinRed ties is in
`continual/replay/buffers/policies/minred.py`.

The paper's buffered loop, mapped onto the experience loop: each `train_step` receives one stream
batch; the method appends its ids to its own `ContinuousBuffer`; until the buffer is first full
nothing trains; afterwards the buffer shrinks back to capacity (FIFO or MinRed) and the method runs
`updates_per_batch` SGD updates, each on a batch drawn uniformly without replacement from the
buffer, writing each item's statistics right after the step (synchronous: a deviation from the
original, whose DataLoader prefetch made removals read statistics ~10 batches old). After the last
stream batch of the last experience the method keeps training from the final buffer until the total
is `updates_per_batch` x stream batches (the original's drain). The loop itself never draws replay
batches for it (`uses_buffer = False`): several updates run inside one `train_step`.

Without a buffer the method is conventional SimSiam: one update per stream batch, `epochs`
reshuffled passes (the decorrelated i.i.d. source when the scenario is `iid`).
"""

from __future__ import annotations

import math

import gin
import tensorflow as tf

from continual import planning
from continual.data.ssl_views import two_views
from continual.data.video_frames import VideoFrames, require_random_video_stream
from continual.data.views import standardize
from continual.methods import data_parallel
from continual.methods.base import Phase, StreamBatch, StreamMethod
from continual.models.classifiers import build_classifier
from continual.models.simsiam_heads import build_predictor, build_projector, cosine, simsiam_loss
from continual.optim.groups import ParameterGroups
from continual.optim.loss_scale import DynamicLossScale
from continual.optim.schedules import make_schedule
from continual.optim.sgd import TorchSGD
from continual.replay.buffers.ssl_buffer import ContinuousBuffer

SCHEDULES = ("cosine", "constant")
REDRAW = "SimSiamStream.redraw_frame_per_read"
REDRAW_SALT = 3   # folded into the buffer-sampling seed for the frame draws


@gin.configurable
class SimSiamStream(StreamMethod):
    """SimSiam trained on the stream; `StreamPlan.buffer = @ContinuousBuffer` or None.

    Args:
      updates_per_batch: SGD updates per incoming stream batch once the buffer is full (the
        paper's `num_updates`; 1 without a buffer).
      epochs: passes over each experience without a buffer (conventional epoch-based SSL).
      learning_rate, momentum, weight_decay: SGD (coupled weight decay, torch momentum); the lr
        is used as given (no batch/256 scaling, as the original).
      schedule: 'cosine' over all updates of the stream, or 'constant'.
      fix_predictor_lr: the predictor keeps the initial lr (the original's `fix_pred_lr`).
      projection_dim, predictor_dim: D and h of the heads (R18: 512 and 128).
      redraw_frame_per_read: a buffer slot stands for its video (record `group`; the original's
        `seq_sampling=random`): every buffer read for an update reads a fresh random frame of the
        slot's group, drawn statelessly by (seed, update, slot); statistics stay with the slot.
        Needs `@video_runs` with `sampling = 'random'` (which draws the stream reads' frames);
        without a buffer it changes nothing.
    """

    name = "simsiam"
    supports_loss_scaling = True
    # The buffer's shards are filled, shrunk and sampled outside the replicas; a batch holds
    # each shard's items in turn, so with shards = k x replicas each replica trains on its own
    # k shards, as the original's one buffer per GPU.
    data_parallel = True
    kept_between_stages = True  # every compiled function has an input signature

    def __init__(self, *, updates_per_batch: int = 1, epochs: int = 1,
                 learning_rate: float = 0.05, momentum: float = 0.9, weight_decay: float = 1e-4,
                 schedule: str = "cosine", fix_predictor_lr: bool = True,
                 projection_dim: int = 512, predictor_dim: int = 128,
                 redraw_frame_per_read: bool = False):
        owner = type(self).__name__
        self.updates_per_batch = planning.check_int(f"{owner}.updates_per_batch",
                                                    updates_per_batch, minimum=1)
        self.epochs = planning.check_int(f"{owner}.epochs", epochs, minimum=1)
        self.projection_dim = planning.check_int(f"{owner}.projection_dim", projection_dim,
                                                 minimum=1)
        self.predictor_dim = planning.check_int(f"{owner}.predictor_dim", predictor_dim,
                                                minimum=1)
        if schedule not in SCHEDULES:
            raise ValueError(f"Unknown {owner}.schedule {schedule!r}; use one of {SCHEDULES}")
        self.schedule, self.fix_predictor_lr = schedule, bool(fix_predictor_lr)
        self.sgd = {"momentum": momentum, "weight_decay": weight_decay}
        self.learning_rate = float(learning_rate)
        self.batch_size = 0   # the stream batch, also the training batch (check_stream)
        self.stream_batches, self.stream_items, self.last_experience = 0, 0, -1
        self.buffer, self._cosine = None, None
        self.redraw_frame_per_read, self._frames = bool(redraw_frame_per_read), (None, None)

    # -- set-up ------------------------------------------------------------------------------
    def check_stream(self, scenario, loop) -> None:
        """Size the schedule and the drain from the whole stream; refuse streams too short,
        buffers that would never fill, runs longer than the stream."""
        self.batch_size = loop.stream_batch_size
        if self.buffer is not None and not self.buffer.shards:
            self.buffer.build(self.projection_dim, self.batch_size)
        sizes = [len(e.train_ids) for e in scenario.experiences]
        self.stream_items, self.last_experience = sum(sizes), len(sizes) - 1
        self.stream_batches = sum(math.ceil(n / loop.stream_batch_size) for n in sizes)
        if self.stream_items < loop.stream_batch_size:
            raise ValueError(f"the stream holds {self.stream_items} records, fewer than one "
                             f"batch (ExperienceLoop.stream_batch_size = "
                             f"{loop.stream_batch_size})")
        run_length = scenario.params.get("run_length")
        if run_length is not None and run_length > self.stream_items:
            raise ValueError(f"{scenario.name}.run_length = {run_length} is longer than the "
                             f"stream ({self.stream_items} records); lower it")
        if self.buffer is not None and self.buffer.capacity > self.stream_items:
            raise ValueError(f"ContinuousBuffer.capacity = {self.buffer.capacity} is larger "
                             f"than the stream ({self.stream_items} records): it would never "
                             "fill; lower it")
        if self.redraw_frame_per_read:
            require_random_video_stream(scenario, REDRAW)
        if self._cosine is not None:  # read when the train step is first traced
            self._cosine.total = self.total_updates

    def build(self, input_shape, num_classes, buffer, seed) -> None:
        if buffer is not None and not isinstance(buffer, ContinuousBuffer):
            raise ValueError("SimSiamStream needs StreamPlan.buffer = @ContinuousBuffer (or None "
                             f"for conventional SSL), got {type(buffer).__name__}")
        if buffer is None and self.updates_per_batch != 1:
            raise ValueError("SimSiamStream.updates_per_batch > 1 needs a buffer "
                             "(StreamPlan.buffer = @ContinuousBuffer); without one use "
                             "SimSiamStream.epochs")
        classifier = build_classifier(input_shape=tuple(input_shape), num_classes=num_classes,
                                      seed=seed)
        self.encoder, self.head = classifier.backbone, classifier.head
        dim = int(self.encoder.output.shape[-1])
        self.projector = build_projector(dim, self.projection_dim, seed)
        self.predictor = build_predictor(self.projection_dim, self.predictor_dim, seed)
        self.buffer, self.seed = buffer, int(seed)
        self.optimizer = self._optimizer()
        self.loss_scale = DynamicLossScale()  # enabled under mixed_float16 only
        self.strategy = data_parallel.captured_strategy()
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="updates")
        images = tf.TensorSpec([None, *input_shape], tf.uint8)
        self._views = tf.function(two_views, input_signature=[images,
                                                              tf.TensorSpec([2], tf.int64)])
        views = tf.TensorSpec([None, *input_shape], tf.float32)
        self._step = tf.function(self._train_step, input_signature=[views, views])
        self._features = tf.function(
            lambda images: tf.math.l2_normalize(self.encoder(standardize(images),
                                                             training=False), axis=1),
            input_signature=[images])

    @property
    def total_updates(self) -> int:
        repeats = self.updates_per_batch if self.buffer is not None else self.epochs
        return max(1, repeats * self.stream_batches)

    def _optimizer(self) -> ParameterGroups:
        self._cosine = (None if self.schedule == "constant" else
                        make_schedule("cosine", base_lr=self.learning_rate,
                                      total=self.total_updates))
        lr = self.learning_rate if self._cosine is None else self._cosine
        main = TorchSGD(learning_rate=lr, **self.sgd)
        head = TorchSGD(learning_rate=self.learning_rate if self.fix_predictor_lr else lr,
                        **self.sgd)
        trunk = self.encoder.trainable_variables + self.projector.trainable_variables
        return ParameterGroups([(trunk, main), (self.predictor.trainable_variables, head)])

    def trackables(self) -> dict:
        found = {"encoder": self.encoder, "projector": self.projector,
                 "predictor": self.predictor, "head": self.head, "optimizer": self.optimizer,
                 "updates": self.updates}
        if self.loss_scale.enabled:
            found["loss_scale"] = self.loss_scale
        if self.buffer is not None:
            found["buffer"] = self.buffer
        return found

    def phases(self, experience) -> list[Phase]:
        if self.buffer is None and self.epochs > 1:
            return [Phase("offline", self.epochs)]
        return [Phase("online")]

    # -- training ----------------------------------------------------------------------------
    def _train_step(self, view1, view2):
        """One SGD update on two views (a graph of its own: tracing it together with the
        augmentation takes twice as long), split across the replicas: (per-item loss, z1, z2)
        of the whole batch."""
        outputs = data_parallel.run_split(self.strategy, self._replica_step, (view1, view2),
                                          per_row=("per_item", "z1", "z2"))
        return outputs["per_item"], outputs["z1"], outputs["z2"]

    def _replica_step(self, view1, view2):
        with tf.GradientTape() as tape:
            z1 = _float32(self.projector(self.encoder(view1, training=True), training=True))
            z2 = _float32(self.projector(self.encoder(view2, training=True), training=True))
            p1 = _float32(self.predictor(z1, training=True))
            p2 = _float32(self.predictor(z2, training=True))
            per_item = simsiam_loss(p1, p2, z1, z2)
            loss = data_parallel.global_mean(per_item)
            scaled_loss = self.loss_scale.scale_loss(loss)
        variables = (self.encoder.trainable_variables + self.projector.trainable_variables
                     + self.predictor.trainable_variables)
        self.loss_scale.apply(tape.gradient(scaled_loss, variables),
                              lambda grads: self.optimizer.apply(grads, variables))
        return {"per_item": per_item, "z1": z1, "z2": z2}

    def _seed(self, salt: int) -> tf.Tensor:
        return tf.stack([tf.constant(self.seed, tf.int64), 2 * self.updates + salt])

    def _update(self, images) -> tf.Tensor:
        per_item, _, _ = self._step(*self._views(images, self._seed(1)))
        self.updates.assign_add(1)
        return tf.reduce_mean(per_item)

    def replay_rows(self, table) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """The table rows of the next buffer batch and its per-shard slots: the stored ids,
        or with `redraw_frame_per_read` a random frame of each slot's group."""
        ids, slots = self.buffer.sample(self.batch_size, self._seed(0))
        if not self.redraw_frame_per_read:
            return ids, slots
        if self._frames[0] is not table:
            self._frames = (table, VideoFrames.from_manifest(table.manifest, REDRAW))
        seed = tf.random.experimental.stateless_fold_in(self._seed(0), REDRAW_SALT)
        rows = self._frames[1].draw(ids, self.buffer.slot_keys(slots), seed,
                                    self.buffer.num_slots)
        return rows, slots

    def _update_from_buffer(self, table) -> tf.Tensor:
        rows, slots = self.replay_rows(table)
        images, _ = table.gather(rows)
        per_item, z1, z2 = self._step(*self._views(images, self._seed(1)))
        self.buffer.write_stats(slots, tf.math.l2_normalize(z1 + z2, axis=1), per_item,
                                cosine(z1, z2))
        self.updates.assign_add(1)
        return tf.reduce_mean(per_item)

    def train_step(self, batch: StreamBatch, step) -> dict:
        if self.buffer is None:
            return {"loss": float(self._update(batch.images)), "updates": 1.0}
        self.buffer.insert(batch.ids, batch.labels, step)
        if not self.buffer.full:
            return {"updates": 0.0, "buffer_size": float(self.buffer.size)}
        self.buffer.shrink()
        losses = [self._update_from_buffer(batch.source)
                  for _ in range(self.updates_per_batch)]
        return {"loss": float(tf.reduce_mean(losses)), "updates": float(len(losses))}

    def end_experience(self, experience, table) -> None:
        """After the last experience: drain the buffer up to the stream's update count."""
        if self.buffer is None or experience.index != self.last_experience:
            return
        for _ in range(self.total_updates - int(self.updates.numpy())):
            self._update_from_buffer(table)

    # -- evaluation --------------------------------------------------------------------------
    def probe_features(self, images) -> tf.Tensor:
        """L2-normalised pooled backbone features in inference mode (the linear probe's input)."""
        return self._features(images)

    def predict(self, images) -> tf.Tensor:
        """Logits of the (untrained) head; SSL is evaluated by `linear_probe` stages instead."""
        return self.head(self.encoder(standardize(images), training=False))


def _float32(tensor: tf.Tensor) -> tf.Tensor:
    """Heads' outputs in float32 under a mixed policy: the loss is computed in float32."""
    return tf.cast(tensor, tf.float32)
