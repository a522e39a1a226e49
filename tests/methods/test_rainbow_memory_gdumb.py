"""GDumb: the greedy class-balanced sampler by hand, memory filling through the buffer, and
the model re-initialised after the stream pass (memory-only training from scratch)."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from continual.methods.base import Phase, StreamBatch
from continual.methods.rainbow_memory.gdumb import GDumb
from continual.replay.buffers import EpisodicBuffer
from continual.replay.buffers.policies.greedy_balanced import greedy_slots
from tests.methods.test_rainbow_memory import Experience, Table


def test_greedy_sampler_by_hand():
    """Capacity 4, classes 0..2. Items 0-3 fill the memory [0, 0, 0, 1]. Item 4 (class 1: 1 <
    4 / 2) evicts the largest class 0 (draw 0: its first slot, 0). Item 5 (class 2: 0 < 4 / 3)
    evicts class 0 again (tie 2-2 with class 1: lowest id) at slot 1. Item 6 (class 1: 2 >=
    4 / 3) is dropped. Item 7 (class 0: 1 < 4 / 3) evicts class 1 with draw 0.99: the second
    of its slots [0, 3], slot 3."""
    labels = np.array([0, 0, 0, 1, 1, 2, 1, 0], np.int32)
    draws = np.array([0, 0, 0, 0, 0, 0, 0, 0.99])
    slots, seen = greedy_slots(labels, np.full(4, -1, np.int32), np.zeros(3, np.int64), 0, draws)
    assert slots.tolist() == [0, 1, 2, 3, 0, 1, -1, 3]
    assert seen.tolist() == [1, 1, 1]


def test_greedy_policy_balances_the_buffer_and_checkpoints_its_state():
    buffer = EpisodicBuffer(capacity=6, policy="greedy_class_balanced", num_classes=3)
    labels = np.array([0] * 10 + [1] * 4 + [2] * 4, np.int32)
    buffer.observe(np.arange(labels.size), labels, step=0, seed=3)
    assert buffer.class_counts().numpy().tolist() == [2, 2, 2]
    assert buffer.policy.class_seen.numpy().tolist() == [1, 1, 1]


def _gdumb(**bindings):
    gin.bind_parameter("build_classifier.name", "mlp")
    gin.bind_parameter("mlp_backbone.hidden_units", (16,))
    gin.bind_parameter("TorchSGD.learning_rate", 0.05)
    method = GDumb(**bindings)
    buffer = EpisodicBuffer(capacity=8, policy="greedy_class_balanced", num_classes=4)
    method.build((8, 8, 3), 4, buffer, seed=1)
    return method


def _batch(table, ids, phase):
    images, labels = table.gather(np.asarray(ids))
    return StreamBatch(images=images, labels=labels, ids=tf.constant(ids, tf.int64),
                       phase=phase)


def test_stream_only_fills_memory_and_the_model_restarts_from_scratch():
    method, table = _gdumb(memory_epochs=2), Table()
    task = Experience(0, tuple(range(12)), (0, 1, 2, 3))
    assert [p.kind for p in method.phases(task)] == ["online", "memory"]
    initial = [w.numpy().copy() for w in method.model.weights]
    method.begin_experience(task, table)
    batch = _batch(table, list(range(12)), "online")
    assert method.train_step(batch, tf.constant(0, tf.int64)) == {}
    method.after_step(batch, tf.constant(0, tf.int64), {})
    assert method.buffer.class_counts().numpy().tolist() == [2, 2, 2, 2]
    method.end_phase(Phase("online"), task, table)
    for weight, value in zip(method.model.weights, initial, strict=True):
        np.testing.assert_array_equal(weight.numpy(), value)
    out = method.train_step(_batch(table, [0, 1, 2, 3], "memory"), tf.constant(1, tf.int64))
    assert np.isfinite(float(out["loss"]))
    assert not np.allclose(method.model.weights[0].numpy(), initial[0])


def test_an_unfit_policy_is_refused_naming_the_binding():
    gin.bind_parameter("build_classifier.name", "mlp")
    method = GDumb()
    with pytest.raises(ValueError, match="EpisodicBuffer.policy"):
        method.build((8, 8, 3), 4, EpisodicBuffer(capacity=8, policy="fifo", num_classes=4), 1)
