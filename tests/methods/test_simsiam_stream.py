"""SimSiam on a stream: the loss by hand, stateless two-view augmentation, and the paper's
buffered loop counted by hand (no updates until the buffer is full, U per stream batch, the
drain to U x stream batches at the end)."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from continual.data.classification import ClassificationSample, write_classification_set
from continual.data.image_table import image_table
from continual.data.scenarios import class_sequential_runs
from continual.data.shards import open_record_set
from continual.data.ssl_views import two_views
from continual.loop.experience import ExperienceLoop, LoopState, run_experience
from continual.methods.simsiam_stream import SimSiamStream
from continual.models.simsiam_heads import simsiam_loss
from continual.replay.buffers.ssl_buffer import ContinuousBuffer


def test_loss_is_minus_half_the_two_cross_view_cosines():
    p1, z2 = tf.constant([[1.0, 0.0]]), tf.constant([[2.0, 0.0]])   # cos 1
    p2, z1 = tf.constant([[0.0, 3.0]]), tf.constant([[1.0, 0.0]])   # cos 0
    np.testing.assert_allclose(simsiam_loss(p1, p2, z1, z2).numpy(), [-0.5])


def test_views_are_stateless_in_the_seed_and_differ_between_the_two():
    images = tf.constant(np.random.default_rng(0).integers(0, 255, (4, 16, 16, 3)), tf.uint8)
    a1, a2 = two_views(images, tf.constant([3, 7], tf.int64))
    b1, _ = two_views(images, tf.constant([3, 7], tf.int64))
    c1, _ = two_views(images, tf.constant([3, 8], tf.int64))
    assert a1.shape == (4, 16, 16, 3) and a1.dtype == tf.float32
    np.testing.assert_array_equal(a1.numpy(), b1.numpy())
    assert not np.allclose(a1.numpy(), a2.numpy()) and not np.allclose(a1.numpy(), c1.numpy())


@pytest.fixture
def stream(tmp_path):
    rng = np.random.default_rng(0)
    for split, count in (("train", 40), ("test", 8)):
        samples = [ClassificationSample(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8),
                                        i % 4, f"{split}{i}") for i in range(count)]
        write_classification_set(tmp_path, split, samples, num_classes=4)
    train, test = open_record_set(tmp_path, "train"), open_record_set(tmp_path, "test")
    return class_sequential_runs(train, test, 0, num_tasks=2), image_table(train)


def test_buffered_loop_trains_only_once_full_then_u_per_batch_then_drains(stream, tmp_path):
    scenario, table = stream
    gin.parse_config("""
        build_classifier.name = 'tiny_convnet'
        ExperienceLoop.stream_batch_size = 8
    """)
    buffer = ContinuousBuffer(capacity=16, policy="minred", num_classes=4)
    method = SimSiamStream(updates_per_batch=2, projection_dim=8, predictor_dim=4)
    method.build((8, 8, 3), 4, buffer, seed=0)
    method.check_stream(scenario, ExperienceLoop())
    counts = []
    for experience in scenario.experiences:  # 20 rows each: batches of 8, 8, 4
        run_experience(method, experience, table, ExperienceLoop(), 0,
                       tmp_path / f"exp{experience.index}", LoopState())
        counts.append(int(method.updates))
    # exp 0: full at batch 2 (2 updates), batch 3 (2); exp 1: 3 batches x 2; drain to 2 x 6.
    assert counts == [4, 12]
    assert int(buffer.size) == 16
    shard = buffer.shards[0]
    seen = shard.stats["times_seen"].numpy()[shard.occupied_slots().numpy()]
    assert seen.sum() > 0 and shard.seen.numpy().sum() == (seen > 0).sum()


@pytest.mark.parametrize("kwargs, buffer, message", [
    ({"updates_per_batch": 0}, None, "SimSiamStream.updates_per_batch"),
    ({"updates_per_batch": 3}, None, "needs a buffer"),
    ({"schedule": "step"}, None, "SimSiamStream.schedule"),
    ({}, 64, "ContinuousBuffer.capacity"),
])
def test_bad_settings_are_refused_naming_the_binding(stream, kwargs, buffer, message):
    scenario, _ = stream
    gin.parse_config("build_classifier.name = 'tiny_convnet'\n"
                     "ExperienceLoop.stream_batch_size = 8")
    with pytest.raises(ValueError, match=message):
        method = SimSiamStream(**kwargs)
        memory = None if buffer is None else ContinuousBuffer(capacity=buffer, num_classes=4)
        method.build((8, 8, 3), 4, memory, seed=0)
        method.check_stream(scenario, ExperienceLoop())
