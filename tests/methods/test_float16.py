"""mixed_float16 trains: the segmentation stage and a stream method scale their loss, keep
the scale in their checkpoint (a resumed stage continues identically), and skip a step whose
gradients overflow, halving the scale."""

from pathlib import Path

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from continual.loop.experience import ExperienceLoop, LoopState, run_experience
from continual.methods.base import StreamBatch
from continual.methods.baselines import FineTuning
from continual.methods.segmentation import LoopSettings, Schedule, StageTrainer
from continual.models.segmenter import build_segmenter

SIZE = 32


@pytest.fixture(autouse=True)
def float16_policy():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def _batch():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(2, SIZE, SIZE, 3)).astype(np.float32),
            rng.integers(0, 6, (2, SIZE, SIZE)).astype(np.int32))


def _segmentation(iterations: int, start_scale: float | None = None) -> StageTrainer:
    gin.parse_config(["build_encoder.backbone = 'tiny'", "tiny_encoder.widths = (8, 8, 8)",
                      "aspp_v2.rates = (1, 2)"])
    keras.utils.set_random_seed(0)
    segmenter = build_segmenter()
    trainer = StageTrainer(encoder=segmenter.encoder, decoder=segmenter.decoder,
                           train_encoder=True, seen_classes=range(6),
                           schedule=Schedule(iterations=iterations, lr_initial=0.05,
                                             lr_final=0.01),
                           strategy=tf.distribute.get_strategy(),
                           settings=LoopSettings(checkpoint_every=2, log_every=1))
    if start_scale is not None:
        trainer.loss_scale.scale.assign(start_scale)
    return trainer


def _train(trainer: StageTrainer, folder: Path, batches: int | None = None) -> list[dict]:
    images, labels = _batch()
    logs = []
    trainer.train(lambda start: tf.data.Dataset.from_tensors((images, labels)).repeat(batches),
                  folder, batch_size=2, desc="test", log=lambda step, row: logs.append(row))
    return logs


def test_segmentation_stage_trains_under_float16_with_a_checkpointed_scale(tmp_path):
    trainer = _segmentation(iterations=6)
    logs = _train(trainer, tmp_path)
    losses = [row["loss"] for row in logs]
    assert losses[-1] < losses[0] - 0.3
    assert logs[-1]["loss_scale"] == 2.0 ** 15 and logs[-1]["skipped_steps"] == 0
    assert trainer.forward(tf.zeros((1, SIZE, SIZE, 3)), training=False).dtype == tf.float32
    for variable in trainer.encoder.weights + trainer.decoder.weights:
        assert np.isfinite(variable.numpy()).all(), variable.path
    stored = dict(tf.train.list_variables(str(tmp_path / "ckpt")))
    assert any(name.startswith("loss_scale/scale") for name in stored)


def test_an_overflowing_step_is_skipped_and_halves_the_scale(tmp_path):
    trainer = _segmentation(iterations=4, start_scale=2.0 ** 20)
    logs = _train(trainer, tmp_path)
    # 2^20 * loss overflows float16 gradients twice; from 2^18 on the steps apply
    assert [row["skipped_steps"] for row in logs] == [1, 2, 2, 2]
    assert [row["loss_scale"] for row in logs] == [2.0 ** 19, 2.0 ** 18, 2.0 ** 18, 2.0 ** 18]
    losses = [row["loss"] for row in logs]
    assert losses[0] == losses[1] == losses[2]  # nothing moved until the third step applied
    assert losses[3] < losses[2]
    assert int(trainer.optimizer.iterations.numpy()) == 2  # skipped steps left the schedule


def test_a_resumed_float16_stage_continues_identically(tmp_path):
    whole = _segmentation(iterations=5, start_scale=2.0 ** 20)
    _train(whole, tmp_path / "whole")
    killed = _segmentation(iterations=5, start_scale=2.0 ** 20)
    _train(killed, tmp_path / "cut", batches=3)  # stops after step 3; checkpoint at step 2
    resumed = _segmentation(iterations=5, start_scale=2.0 ** 20)
    _train(resumed, tmp_path / "cut")
    assert resumed.loss_scale.report() == whole.loss_scale.report()
    for a, b in zip(whole.trainable_variables, resumed.trainable_variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


class Table:
    """Rows i -> a 8x8 image whose brightness says its label i % 2."""

    num_classes = 2

    def gather(self, ids):
        ids = tf.convert_to_tensor(ids, tf.int64)
        labels = tf.cast(ids % 2, tf.int32)
        level = tf.cast(40 + 160 * labels, tf.uint8)
        return tf.tile(tf.reshape(level, [-1, 1, 1, 1]), [1, 8, 8, 3]), labels


def _stream_method() -> FineTuning:
    gin.parse_config(["build_classifier.name = 'tiny_convnet'", "TorchSGD.learning_rate = 0.05"])
    method = FineTuning(epochs=4)
    method.build((8, 8, 3), 2, None, seed=0)
    return method


def test_stream_method_trains_under_float16(tmp_path):
    method = _stream_method()
    assert method.loss_scale.enabled
    images, labels = Table().gather(np.arange(8))
    batch = StreamBatch(images=images, labels=labels, ids=tf.range(8, dtype=tf.int64))
    losses = [float(method.train_step(batch, tf.constant(i, tf.int64))["loss"]) for i in range(6)]
    assert losses[-1] < losses[0]
    assert all(np.isfinite(v.numpy()).all() for v in method.model.weights)
    experience = type("Experience", (), {"index": 0, "train_ids": tuple(range(8))})()
    run_experience(method, experience, Table(), ExperienceLoop(stream_batch_size=4), seed=0,
                   folder=tmp_path, state=LoopState())
    stored = dict(tf.train.list_variables(str(tmp_path / "ckpt")))
    assert any(name.startswith("loss_scale/scale") for name in stored)


def test_stream_step_that_overflows_is_skipped(tmp_path):
    method = _stream_method()
    method.loss_scale.scale.assign(2.0 ** 40)  # the float16 backward pass overflows
    before = [v.numpy().copy() for v in method.model.trainable_weights]
    images, labels = Table().gather(np.arange(8))
    batch = StreamBatch(images=images, labels=labels, ids=tf.range(8, dtype=tf.int64))
    method.train_step(batch, tf.constant(0, tf.int64))
    assert method.loss_scale.report() == {"loss_scale": 2.0 ** 39, "skipped_steps": 1}
    # (BN moving statistics still follow the forward pass, as with Keras' LossScaleOptimizer)
    for old, variable in zip(before, method.model.trainable_weights, strict=True):
        np.testing.assert_array_equal(old, variable.numpy())
    assert int(method.optimizer.iterations.numpy()) == 0
