"""The stage trainer: masked loss, clean poly schedule, what trains, mixed precision."""

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from continual.methods.losses import class_table, masked_cross_entropy
from continual.methods.segmentation import Schedule, StageTrainer, make_optimizer
from continual.models.segmenter import build_segmenter


def test_masked_cross_entropy_drops_void_and_unseen_pixels():
    labels = tf.constant([[0, 3, 255, 7]])
    logits = tf.one_hot([[0, 3, 1, 7]], 21) * 5.0
    loss_sum, count = masked_cross_entropy(labels, logits, class_table([0, 1, 2, 3]))
    assert float(count) == 2.0       # 255 and the unseen class 7 are dropped
    expected = 2 * -np.log(np.exp(5) / (np.exp(5) + 20))
    assert float(loss_sum) == pytest.approx(expected, rel=1e-5)


def test_poly_schedule_runs_from_lr0_to_lrT_over_exactly_the_stage():
    optimizer = make_optimizer(Schedule(iterations=100, lr_initial=5e-4, lr_final=5e-6))
    lr = optimizer._learning_rate  # the schedule object
    assert float(lr(0)) == pytest.approx(5e-4)
    assert float(lr(100)) == pytest.approx(5e-6)
    assert float(lr(50)) == pytest.approx((5e-4 - 5e-6) * 0.5 ** 0.9 + 5e-6)


def _batches(n=3, size=16):
    rng = np.random.default_rng(0)
    for _ in range(n):
        yield (tf.constant(rng.normal(size=(2, size, size, 3)).astype(np.float32)),
               tf.constant(rng.integers(0, 6, size=(2, size, size)).astype(np.int32)))


def _trainer(train_encoder, tmp_path):
    gin.clear_config()
    gin.parse_config(["build_encoder.backbone = 'tiny'", "aspp_v2.rates = (1, 2, 3, 4)"])
    keras.utils.set_random_seed(0)
    segmenter = build_segmenter()
    trainer = StageTrainer(encoder=segmenter.encoder, decoder=segmenter.decoder,
                           train_encoder=train_encoder, seen_classes=range(6),
                           schedule=Schedule(iterations=3, lr_initial=0.1, lr_final=0.01),
                           strategy=tf.distribute.get_strategy())
    return segmenter, trainer


@pytest.mark.parametrize("train_encoder", [False, True])
def test_only_the_trained_part_changes(tmp_path, train_encoder):
    segmenter, trainer = _trainer(train_encoder, tmp_path)
    encoder_before = [w.numpy().copy() for w in segmenter.encoder.weights]
    decoder_before = [w.numpy().copy() for w in segmenter.decoder.weights]
    info = trainer.train(lambda start: tf.data.Dataset.from_generator(
        lambda: _batches(), output_signature=(tf.TensorSpec((2, 16, 16, 3)),
                                              tf.TensorSpec((2, 16, 16), tf.int32))),
        tmp_path, batch_size=2, desc="test")
    assert info["iterations"] == 3 and np.isfinite(info["final_loss"])
    encoder_changed = any(not np.array_equal(a, w.numpy())
                          for a, w in zip(encoder_before, segmenter.encoder.weights, strict=True))
    decoder_changed = any(not np.array_equal(a, w.numpy())
                          for a, w in zip(decoder_before, segmenter.decoder.weights, strict=True))
    assert decoder_changed and encoder_changed == train_encoder


@pytest.mark.parametrize("policy", ["mixed_bfloat16"])
def test_mixed_precision_trains_with_float32_loss(tmp_path, policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        _, trainer = _trainer(True, tmp_path)
        info = trainer.train(lambda start: tf.data.Dataset.from_generator(
            lambda: _batches(), output_signature=(tf.TensorSpec((2, 16, 16, 3)),
                                                  tf.TensorSpec((2, 16, 16), tf.int32))),
            tmp_path, batch_size=2, desc="test")
        assert np.isfinite(info["final_loss"])
        assert trainer.forward(tf.zeros((1, 16, 16, 3)), training=False).dtype == tf.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")
