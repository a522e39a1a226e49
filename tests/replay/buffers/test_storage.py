"""BufferStorage: fixed rows in variables, appends, compaction, checkpoints."""

import numpy as np
import pytest
import tensorflow as tf

from continual.replay.buffers.storage import BufferStorage


def _filled(**kwargs) -> BufferStorage:
    storage = BufferStorage(4, num_classes=3, **kwargs)
    logits = np.arange(9, dtype=np.float32).reshape(3, 3) if "logits_dim" in kwargs else None
    storage.write([0, 1, 2], [10, 11, 12], [2, 0, 2], step=7, logits=logits)
    return storage


def test_write_appends_rows_and_counts_classes():
    storage = _filled()
    assert int(storage.size) == 3
    assert storage.ids.numpy().tolist() == [10, 11, 12, -1]
    assert storage.inserted_at.numpy().tolist() == [7, 7, 7, -1]
    assert storage.class_counts().numpy().tolist() == [1, 0, 2]
    assert storage.occupied_slots().numpy().tolist() == [0, 1, 2]


def test_keep_compacts_the_chosen_rows_to_the_front_in_order():
    storage = _filled(logits_dim=3, stats=("loss",))
    storage.set_stat("loss", [0, 2], [0.5, 2.5])
    storage.keep([2, 0])
    rows = storage.gather([0, 1, 2])
    assert int(storage.size) == 2
    assert rows["ids"].numpy().tolist() == [12, 10, -1]
    assert rows["labels"].numpy().tolist() == [2, 2, -1]
    assert rows["logits"].numpy()[:, 0].tolist() == [6.0, 0.0, 0.0]
    assert rows["loss"].numpy().tolist() == [2.5, 0.5, 0.0]


def test_a_rewritten_slot_restarts_its_stats():
    storage = _filled(stats=("times_seen",))
    storage.set_stat("times_seen", [0, 1], [3.0, 4.0])
    storage.write([1], [20], [1], step=9)
    assert storage.stats["times_seen"].numpy().tolist() == [3.0, 0.0, 0.0, 0.0]
    assert storage.inserted_at.numpy().tolist() == [7, 9, 7, -1]


def test_memory_is_fixed_at_construction():
    storage = BufferStorage(4, num_classes=3, logits_dim=3, stats=("loss",))
    # ids 4x8, labels 4x4, inserted_at 4x8, size 4, seen 8, logits 4x3x4, loss 4x4
    assert storage.nbytes() == 32 + 16 + 32 + 4 + 8 + 48 + 16


def test_missing_logits_and_reserved_stats_are_refused():
    with pytest.raises(ValueError, match="keeps logits but logits was not given; pass logits="):
        _filled(logits_dim=3).write([3], [1], [0], step=0)
    with pytest.raises(ValueError, match="does not keep features.*EpisodicBuffer.feature_dim"):
        _filled().write([3], [1], [0], step=0, features=np.zeros((1, 2)))
    with pytest.raises(ValueError, match="reserved name \\['labels'\\]"):
        BufferStorage(4, num_classes=3, stats=("labels",))
    with pytest.raises(ValueError, match="add it to EpisodicBuffer.stats"):
        _filled().set_stat("loss", [0], [1.0])


def test_checkpoint_restores_every_variable(tmp_path):
    storage = _filled(logits_dim=3, stats=("loss",))
    storage.seen.assign(5)
    path = tf.train.Checkpoint(buffer=storage).write(str(tmp_path / "buffer"))
    saved = [v.numpy().copy() for v in storage.variables]
    storage.write([3], [99], [1], step=11, logits=np.ones((1, 3)))
    storage.keep([3])
    tf.train.Checkpoint(buffer=storage).read(path).assert_consumed()
    for before, variable in zip(saved, storage.variables, strict=True):
        np.testing.assert_array_equal(before, variable.numpy())
