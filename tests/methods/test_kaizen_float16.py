"""Kaizen under mixed_float16: a dynamic loss scale (saved with the state) finds a scale at
which the steps apply and trains on with distillation; a step whose scaled gradients overflow
moves nothing (weights, momentum encoder, optimiser step count) and halves the scale."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import continual.optim.lars  # noqa: F401  (registers LARS with gin)
from tests.methods.test_kaizen import Task, batch, built, values


@pytest.fixture(autouse=True)
def float16_policy():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_kaizen_trains_under_float16_and_skips_overflowing_steps():
    method = built()
    assert method.loss_scale.enabled and method.trackables()["loss_scale"] is method.loss_scale
    method.begin_experience(Task(0), None)
    for step in range(5):
        method.train_step(batch(step), tf.constant(step, tf.int64))
    skipped = method.loss_scale.report()["skipped_steps"]
    # 2^15 overflows these gradients: the scale halves until the steps apply (measured: 3)
    assert 1 <= skipped < 5
    assert method.loss_scale.report()["loss_scale"] == 2.0 ** (15 - skipped)
    assert int(method.optimizer.task_iterations()) == 5 - skipped
    method.begin_experience(Task(1), None)
    outputs = method.train_step(batch(5), tf.constant(5, tf.int64))
    assert {"feature_distill", "classifier_distill"} <= set(outputs)
    assert all(np.isfinite(float(v)) for v in outputs.values()), outputs
    assert method.loss_scale.report()["skipped_steps"] == skipped     # applied

    scale = 2.0 ** 60                                # any gradient overflows float16
    method.loss_scale.scale.assign(scale)
    weights = values(method.encoder.trainable_variables)
    momentum = values(method.momentum["encoder"].trainable_variables)
    method.train_step(batch(6), tf.constant(6, tf.int64))
    assert method.loss_scale.report() == {"loss_scale": scale / 2, "skipped_steps": skipped + 1}
    assert int(method.optimizer.task_iterations()) == 1
    for before, after in zip(weights + momentum,
                             values(method.encoder.trainable_variables)
                             + values(method.momentum["encoder"].trainable_variables),
                             strict=True):
        np.testing.assert_array_equal(before, after)
