"""Linear probe of a frozen self-supervised backbone (continuous SSL: Purushwalkam et al.,
ECCV 2022; the lincls script of `senthilps8/continuous_ssl_problem`).

The backbone runs in inference mode; its pooled features are L2-normalised once; a linear
layer (weights N(0, 0.01), bias 0) is trained on them with cross-entropy by SGD (momentum 0.9,
no weight decay) wrapped in LARC (trust 0.001, no clipping), the lr following a cosine per
epoch. Under `mixed_float16` the backbone's features come in float16 and are cast to float32;
the head stays float32, and its step goes through `DynamicLossScale`, so a batch whose features
overflowed (inf) is skipped instead of turning the head into NaN. The scale is a power of two,
so finite steps equal the float32 ones bit for bit. Deviation: features are computed once
without the original's crop-and-flip augmentation of the probe's training images (a frozen
backbone makes this cheap and exact).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import gin
import keras
import numpy as np
import tensorflow as tf

from continual.data.image_table import read_ahead
from continual.methods import data_parallel
from continual.optim.lars import LARS
from continual.optim.loss_scale import DynamicLossScale
from continual.optim.schedules import make_schedule


@gin.configurable
@dataclasses.dataclass(frozen=True)
class LinearProbe:
    """Probe settings (gin: `LinearProbe.*`); paper: ImageNet lr 3.0, 10 epochs, batch 1024."""

    learning_rate: float = 3.0
    epochs: int = 10
    batch_size: int = 1024
    trust: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 0.0

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"LinearProbe.{name} must be an integer >= 1, got {value!r}")
        for name in ("learning_rate", "trust"):
            if not getattr(self, name) > 0:
                raise ValueError(f"LinearProbe.{name} must be > 0, got {getattr(self, name)}")


def probe_features(features: Callable, table, ids: np.ndarray, batch_size: int) -> np.ndarray:
    """float32 [len(ids), D] features of the rows `ids`, in batches."""
    read_ahead(table, [ids[i:i + batch_size] for i in range(0, len(ids), batch_size)])
    parts = [np.asarray(features(table.gather(ids[i:i + batch_size])[0]))
             for i in range(0, len(ids), batch_size)]
    return np.concatenate(parts).astype(np.float32)


def train_linear_probe(features: np.ndarray, labels: np.ndarray, num_classes: int,
                       probe: LinearProbe, seed: int,
                       strategy: tf.distribute.Strategy | None = None) -> keras.layers.Dense:
    """A linear classifier on fixed `features`; deterministic given `seed`. Under a
    multi-device `strategy` each batch is split across its replicas (`data_parallel`)."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        return _train_head(features, labels, num_classes, probe, seed, strategy)


def _train_head(features, labels, num_classes, probe, seed, strategy) -> keras.layers.Dense:
    head = keras.layers.Dense(
        num_classes, kernel_initializer=keras.initializers.RandomNormal(0.0, 0.01, seed=seed),
        bias_initializer="zeros", dtype="float32", name="probe")
    head.build((None, features.shape[1]))
    steps = math.ceil(len(features) / probe.batch_size)
    schedule = make_schedule("cosine", base_lr=probe.learning_rate, total=probe.epochs,
                             steps_per_epoch=steps)
    optimizer = LARS(learning_rate=schedule, momentum=probe.momentum,
                     weight_decay=probe.weight_decay, eta=probe.trust, clip_lr=False,
                     exclude_bias_n_norm=False)
    optimizer.build(head.trainable_variables)

    rows, starts = _batch_rows(len(features), probe, seed)
    loss_scale = DynamicLossScale()  # enabled under the mixed_float16 policy only
    _fit(_ProbeStep(head, optimizer, loss_scale, strategy), tf.constant(features),
         tf.constant(labels, tf.int32), tf.constant(rows), tf.constant(starts))
    head.skipped_steps = int(loss_scale.skipped_steps.numpy())
    return head


def _batch_rows(count: int, probe: LinearProbe, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every epoch's seeded permutation, concatenated, and each batch's start in it (the last
    batch of an epoch may be smaller)."""
    rows = np.concatenate([np.random.default_rng([seed, epoch]).permutation(count)
                           for epoch in range(probe.epochs)])
    starts = [epoch * count + start for epoch in range(probe.epochs)
              for start in range(0, count, probe.batch_size)]
    ends = [*[s for s in starts[1:]], probe.epochs * count]
    ends = [min(end, (start // count + 1) * count) for start, end in zip(starts, ends, strict=True)]
    return rows.astype(np.int32), np.stack([starts, ends], axis=1).astype(np.int32)


class _ProbeStep:
    """One probe step on a batch of features, split across the strategy's replicas."""

    def __init__(self, head, optimizer, loss_scale, strategy):
        self.head, self.optimizer, self.loss_scale = head, optimizer, loss_scale
        self.strategy = strategy

    def __call__(self, features: tf.Tensor, labels: tf.Tensor) -> dict:
        return data_parallel.run_split(self.strategy, self._replica_step, (features, labels))

    def _replica_step(self, features, labels) -> dict:
        variables = self.head.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.head(features)
            loss = data_parallel.global_mean(keras.losses.sparse_categorical_crossentropy(
                labels, logits, from_logits=True))
            scaled = self.loss_scale.scale_loss(loss)
        grads = tape.gradient(scaled, variables)
        self.loss_scale.apply(grads, lambda g: self.optimizer.apply_gradients(
            zip(g, variables, strict=True)))
        return {"loss": loss}


@tf.function(reduce_retracing=True)
def _fit(step: _ProbeStep, features, labels, rows, bounds) -> None:
    """All probe steps in one graph: batch i reads rows[bounds[i, 0]:bounds[i, 1]]."""
    for i in tf.range(tf.shape(bounds)[0]):
        batch = rows[bounds[i, 0]:bounds[i, 1]]
        step(tf.gather(features, batch), tf.gather(labels, batch))
