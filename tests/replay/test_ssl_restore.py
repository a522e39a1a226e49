"""A continuous-SSL buffer started from an earlier run's checkpoint: same contents when the
shapes fit, an error naming ContinuousBuffer.restore_from (not a TF shape error) when not."""

import numpy as np
import pytest
import tensorflow as tf

from continual.replay.buffers.ssl_buffer import ContinuousBuffer


def _saved_buffer(tmp_path, feature_dim: int = 4) -> tuple[str, ContinuousBuffer]:
    """A MinRed buffer of 8 (2 shards) after 3 stream batches of 4 and one shrink, saved as a
    stage checkpoint saves it (under the name `buffer`, beside other state)."""
    buffer = ContinuousBuffer(capacity=8, policy="minred", shards=2, num_classes=3)
    buffer.build(feature_dim, 4)
    for step in range(3):
        ids = np.arange(4 * step, 4 * step + 4)
        buffer.insert(ids, ids % 3, step)
        if step:
            buffer.shrink()
    path = tf.train.Checkpoint(buffer=buffer, updates=tf.Variable(7)).write(
        str(tmp_path / "state" / "state"))
    return path, buffer


def test_a_fitting_checkpoint_starts_the_buffer_with_its_items(tmp_path):
    path, saved = _saved_buffer(tmp_path)
    restored = ContinuousBuffer(capacity=8, policy="minred", shards=2, num_classes=3,
                                restore_from=path)
    restored.build(4, 4)
    np.testing.assert_array_equal(restored.stored_ids(), saved.stored_ids())
    assert len(restored.stored_ids()) == 8
    np.testing.assert_array_equal(restored.class_counts(), saved.class_counts())


@pytest.mark.parametrize("capacity, shards, dim, message", [
    (8, 2, 6, "stores features of size 4, but this buffer's are 6 "
              r"\(SimSiamStream.projection_dim\)"),
    (8, 1, 4, "holds 2 shards but ContinuousBuffer.shards = 1"),
    (16, 2, 4, "stores 6 slots per shard, but this buffer has 10"),
])
def test_a_checkpoint_that_does_not_fit_is_refused_naming_the_binding(tmp_path, capacity,
                                                                       shards, dim, message):
    path, _ = _saved_buffer(tmp_path)
    buffer = ContinuousBuffer(capacity=capacity, policy="minred", shards=shards, num_classes=3,
                              restore_from=path)
    with pytest.raises(ValueError, match=r"ContinuousBuffer.restore_from = .*" + message):
        buffer.build(dim, 4)


def test_a_missing_or_bufferless_checkpoint_is_refused(tmp_path):
    buffer = ContinuousBuffer(capacity=8, shards=2, num_classes=3,
                              restore_from=str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="ContinuousBuffer.restore_from = .* is not a readable"):
        buffer.build(4, 4)
    other = tf.train.Checkpoint(step=tf.Variable(1)).write(str(tmp_path / "plain"))
    buffer = ContinuousBuffer(capacity=8, shards=2, num_classes=3, restore_from=other)
    with pytest.raises(ValueError, match="holds no ContinuousBuffer"):
        buffer.build(4, 4)
