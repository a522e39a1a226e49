"""EpisodicBuffer: validation, gin, sampling rows, checkpoint and resume of decisions."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from continual.replay.buffers import EpisodicBuffer


def test_capacity_and_replay_batch_are_validated_with_their_bindings():
    with pytest.raises(ValueError, match="EpisodicBuffer.capacity = 5 is smaller than the "
                       "number of classes \\(10\\).*raise EpisodicBuffer.capacity"):
        EpisodicBuffer(5, num_classes=10)
    with pytest.raises(ValueError, match="EpisodicBuffer.capacity = 0"):
        EpisodicBuffer(0, num_classes=1)
    with pytest.raises(ValueError, match="Sslad.replay_batch = 32 is larger than "
                       "EpisodicBuffer.capacity = 20"):
        EpisodicBuffer(20, num_classes=2).check_replay_batch(32, "Sslad.replay_batch")


def test_unknown_policy_lists_the_registered_names():
    with pytest.raises(ValueError, match="Unknown EpisodicBuffer.policy 'lifo'.*'fifo', "
                       "'fixed_per_class'.*'reservoir', 'task_boundary_random'"):
        EpisodicBuffer(10, policy="lifo", num_classes=2)


def test_gin_binds_the_buffer_and_its_policy():
    gin.parse_config("EpisodicBuffer.capacity = 4\n"
                     "EpisodicBuffer.policy = 'fixed_per_class'\n"
                     "FixedPerClassPolicy.n_per_class = 1")
    buffer = EpisodicBuffer(num_classes=2)
    buffer.begin_experience([5, 6, 7], [1, 1, 0], seed=0)
    assert buffer.storage.capacity == 4
    assert buffer.storage.ids.numpy().tolist() == [5, 7, -1, -1]


def test_sample_returns_the_rows_of_its_slots():
    buffer = EpisodicBuffer(4, policy="fifo", num_classes=2, logits_dim=2)
    buffer.observe([7, 8, 9], [0, 1, 1], step=2, seed=0, logits=[[1, 0], [0, 1], [0, 2]])
    batch = buffer.sample(2, seed=[0, 2])
    slots = batch["slots"].numpy()
    assert batch["ids"].numpy().tolist() == [[7, 8, 9][s] for s in slots]
    assert batch["logits"].numpy().tolist() == [[[1, 0], [0, 1], [0, 2]][s] for s in slots]
    assert int(buffer.size) == 3 and buffer.class_counts().numpy().tolist() == [1, 2]
    assert buffer.stored_ids().tolist() == [7, 8, 9]
    with pytest.raises(ValueError, match="keeps logits but logits was not given"):
        buffer.observe([1], [0], step=3, seed=0)


def _stream(start, count, seed=1):
    labels = np.random.default_rng(seed + start).choice(3, size=count, p=[0.6, 0.3, 0.1])
    return np.arange(start, start + count), labels


def test_checkpoint_restores_contents_and_the_next_decisions(tmp_path):
    buffer = EpisodicBuffer(6, policy="class_balanced_reservoir", num_classes=3)
    buffer.observe(*_stream(0, 30), step=1, seed=9)
    checkpoint = tf.train.Checkpoint(buffer=buffer)
    path = checkpoint.write(str(tmp_path / "ckpt"))
    buffer.observe(*_stream(30, 20), step=2, seed=9)
    uninterrupted = [v.numpy().copy() for v in buffer.variables]
    checkpoint.read(path).assert_consumed()
    assert int(buffer.storage.seen) == 30
    buffer.observe(*_stream(100, 30), step=2, seed=4)              # work lost by a kill
    checkpoint.read(path).assert_consumed()
    buffer.observe(*_stream(30, 20), step=2, seed=9)
    for expected, variable in zip(uninterrupted, buffer.variables, strict=True):
        np.testing.assert_array_equal(expected, variable.numpy())
