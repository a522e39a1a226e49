"""FIFO and reservoir: ring order, algorithm R, batch-boundary independence, uniformity."""

import numpy as np
import tensorflow as tf

from continual.replay.buffers.policies import make_policy
from continual.replay.buffers.storage import BufferStorage


def _feed(policy_name, capacity, labels, batch, seed=3, num_classes=3):
    storage = BufferStorage(capacity, num_classes=num_classes)
    policy = make_policy(policy_name, num_classes=num_classes)
    labels = np.asarray(labels)
    for start in range(0, labels.size, batch):
        ids = np.arange(start, min(start + batch, labels.size))
        policy.observe(storage, ids, labels[ids], step=start, seed=seed)
    return storage


def test_fifo_replaces_the_oldest_insertion():
    storage = _feed("fifo", 3, [0] * 7, batch=2)
    assert storage.ids.numpy().tolist() == [6, 4, 5]
    assert storage.inserted_at.numpy().tolist() == [6, 4, 4]
    assert int(storage.seen) == 7 and int(storage.size) == 3


def test_fifo_batch_larger_than_capacity_keeps_its_last_items():
    assert _feed("fifo", 3, [1] * 8, batch=8).ids.numpy().tolist() == [6, 7, 5]


def _algorithm_r(capacity, count, seed):
    memory = []
    for n in range(count):
        if n < capacity:
            memory.append(n)
            continue
        j = int(tf.random.stateless_uniform([], seed=[seed, n], minval=0, maxval=n + 1,
                                            dtype=tf.int64))
        if j < capacity:
            memory[j] = n
    return memory


def test_reservoir_is_algorithm_r_with_draws_keyed_by_stream_position():
    expected = _algorithm_r(5, 40, seed=3)
    for batch in (1, 3, 7):
        assert _feed("reservoir", 5, [0] * 40, batch).ids.numpy().tolist() == expected
    assert sorted(expected) != list(range(35, 40))      # not a FIFO in disguise


def test_reservoir_keeps_every_item_with_equal_probability():
    storage = BufferStorage(5, num_classes=1)
    policy = make_policy("reservoir", num_classes=1)
    trials, count = 200, 20
    kept = np.zeros(count)
    for seed in range(trials):
        storage.keep([])
        storage.seen.assign(0)
        policy.observe(storage, np.arange(count), np.zeros(count), step=0, seed=seed)
        kept[storage.ids.numpy()] += 1
    expected = trials * 5 / count
    chi_square = float(((kept - expected) ** 2 / expected).sum())
    assert chi_square < 43.8      # chi-square, 19 degrees of freedom, p = 0.001
