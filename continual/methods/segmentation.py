"""How one segmentation stage trains (step 0, joint, helper decoder, incremental step).

The stage trains the decoder, or encoder and decoder, with SGD + momentum and a clean
polynomial schedule whose horizon is the stage's iteration count (continual/plans/RECALL.md,
defect 6). It
checkpoints model, optimizer and iteration with `tf.train.CheckpointManager`; all data and
augmentation randomness is stateless, keyed by (seed, sample position), so the iteration
counter is the whole RNG state and a killed stage resumes exactly where it stopped.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import gin
import keras
import tensorflow as tf
from tqdm import tqdm

from continual import planning
from continual.divergence import check_finite_outputs
from continual.methods.losses import class_table, masked_cross_entropy
from continual.models.checkpoints import model_checkpoint
from continual.models.segmenter import kernel_l2, resize_logits
from continual.models.stage_checkpoints import StageCheckpoints
from continual.optim.loss_scale import DynamicLossScale


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Optimisation settings of one stage."""

    iterations: int
    lr_initial: float
    lr_final: float
    power: float = 0.9
    momentum: float = 0.9
    l2_decay: float = 1e-4


def make_optimizer(schedule: Schedule) -> keras.optimizers.Optimizer:
    """Fresh SGD with momentum and poly decay lr0 -> lrT over exactly `iterations` steps."""
    lr = keras.optimizers.schedules.PolynomialDecay(
        schedule.lr_initial, decay_steps=max(schedule.iterations, 1),
        end_learning_rate=schedule.lr_final, power=schedule.power)
    return keras.optimizers.SGD(learning_rate=lr, momentum=schedule.momentum, nesterov=False)


@gin.configurable
@dataclasses.dataclass
class LoopSettings:
    """How often a stage checkpoints and logs; `jit_compile` turns on XLA for the train step."""

    checkpoint_every: int = 200
    log_every: int = 20
    jit_compile: bool = False
    warmup_iterations: int = 2

    def __post_init__(self):
        planning.check_int("LoopSettings.checkpoint_every", self.checkpoint_every, minimum=1)
        planning.check_int("LoopSettings.log_every", self.log_every, minimum=1)
        planning.check_bool("LoopSettings.jit_compile", self.jit_compile)
        planning.check_int("LoopSettings.warmup_iterations", self.warmup_iterations, minimum=0)


class StageTrainer:
    """Trains `decoder` (and `encoder` when `train_encoder`) on batches of (image, label)."""

    def __init__(self, *, encoder: keras.Model, decoder: keras.Model, train_encoder: bool,
                 seen_classes: Sequence[int], schedule: Schedule,
                 strategy: tf.distribute.Strategy, settings: LoopSettings | None = None):
        self.encoder, self.decoder = encoder, decoder
        self.train_encoder = train_encoder
        self.schedule = schedule
        self.strategy = strategy
        self.settings = settings or LoopSettings()
        self.valid_table = class_table(seen_classes)
        with strategy.scope():
            self.optimizer = make_optimizer(schedule)
            self.iteration = tf.Variable(0, dtype=tf.int64, trainable=False, name="iteration")
            self.loss_scale = DynamicLossScale()  # enabled under mixed_float16 only
            self.optimizer.build(self.trainable_variables)
        self._step = tf.function(self._distributed_step, jit_compile=self.settings.jit_compile)

    @property
    def trainable_variables(self) -> list[tf.Variable]:
        parts = [self.encoder, self.decoder] if self.train_encoder else [self.decoder]
        return [v for part in parts for v in part.trainable_variables]

    def forward(self, images: tf.Tensor, training: bool) -> tf.Tensor:
        """Logits at the input size, float32."""
        feats = self.encoder(images, training=training and self.train_encoder)
        logits = self.decoder(feats, training=training)
        return resize_logits(logits, tf.shape(images)[1:3])  # float32 before resizing

    def _replica_step(self, images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        ctx = tf.distribute.get_replica_context()
        variables = self.trainable_variables
        watched = [v.value for v in variables]  # the tf.Variables behind Keras 3 variables
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(watched)
            logits = self.forward(images, training=True)
            loss_sum, count = masked_cross_entropy(labels, logits, self.valid_table)
            global_count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, count)
            parts = [self.encoder, self.decoder] if self.train_encoder else [self.decoder]
            l2 = tf.add_n([kernel_l2(p) for p in parts]) * self.schedule.l2_decay
            loss = loss_sum / tf.maximum(global_count, 1.0) + l2 / ctx.num_replicas_in_sync
            scaled_loss = self.loss_scale.scale_loss(loss)
        grads = tape.gradient(scaled_loss, watched)
        self.loss_scale.apply(grads, lambda unscaled: self.optimizer.apply_gradients(
            zip(unscaled, variables, strict=True)))
        return loss

    def _distributed_step(self, batch) -> tf.Tensor:
        images, labels = batch
        per_replica = self.strategy.run(self._replica_step, args=(images, labels))
        self.iteration.assign_add(1)
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def checkpoint(self) -> tf.train.Checkpoint:
        """Model, optimizer slots, iteration and (float16) loss scale: everything a resumed
        stage needs."""
        scaling = {"loss_scale": self.loss_scale} if self.loss_scale.enabled else {}
        return tf.train.Checkpoint(encoder=model_checkpoint(self.encoder),
                                   decoder=model_checkpoint(self.decoder),
                                   optimizer=self.optimizer, iteration=self.iteration, **scaling)

    def train(self, make_dataset: Callable[[int], tf.data.Dataset], work_dir: Path,
              batch_size: int, desc: str, log: Callable[[int, dict], None] | None = None) -> dict:
        """Run (or resume) the stage; `make_dataset(start_batch)` gives batches from there on."""
        checkpoint = self.checkpoint()
        manager = StageCheckpoints(checkpoint, work_dir / "ckpt", self.strategy)  # chief writes
        manager.restore()
        start = int(self.iteration.numpy())
        total = self.schedule.iterations
        remaining = make_dataset(start).take(max(total - start, 0))
        dataset = self.strategy.experimental_distribute_dataset(remaining)
        timer = _Throughput(batch_size, self.settings.warmup_iterations)
        loss = float("nan")
        with tqdm(total=total, initial=start, desc=desc, unit="it", leave=False) as bar:
            for batch in dataset:
                skipped = int(self.loss_scale.skipped_steps.numpy())
                loss = float(self._step(batch))
                done = int(self.iteration.numpy())
                check_finite_outputs({"loss": loss}, f"{desc}, step {done}",
                                     skipped=int(self.loss_scale.skipped_steps.numpy()) != skipped)
                timer.tick()
                bar.update(1)
                if done % self.settings.log_every == 0 or done == total:
                    lr = float(self.optimizer.learning_rate)
                    bar.set_postfix(loss=f"{loss:.3f}", img_s=f"{timer.rate():.1f}")
                    if log:
                        log(done, {"loss": loss, "lr": lr, "images_per_sec": timer.rate(),
                                   **self.loss_scale.report()})
                if done % self.settings.checkpoint_every == 0 and done < total:
                    manager.save(done)
        return {"iterations": total, "resumed_from": start, "final_loss": loss,
                "images_per_sec": timer.rate(), "train_seconds": timer.seconds(),
                **self.loss_scale.report()}


class _Throughput:
    """images/s over the iterations after the compile warm-up."""

    def __init__(self, batch_size: int, warmup: int):
        self.batch_size, self.warmup = batch_size, warmup
        self.count, self.start, self.last = 0, None, None
        self.begin = time.perf_counter()

    def tick(self) -> None:
        self.count += 1
        now = time.perf_counter()
        if self.count == self.warmup:
            self.start = now
        self.last = now

    def rate(self) -> float:
        if self.start is None or self.last <= self.start:
            return float("nan")
        return (self.count - self.warmup) * self.batch_size / (self.last - self.start)

    def seconds(self) -> float:
        return (self.last or self.begin) - self.begin
