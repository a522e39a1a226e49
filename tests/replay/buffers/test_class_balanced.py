"""CBRS: a minority class evicts the largest; a largest class samples within itself."""

import numpy as np

from continual.replay.buffers.policies import make_policy
from continual.replay.buffers.storage import BufferStorage


def _feed(labels, capacity, batch, seed=5, reuse=None):
    storage, policy = reuse or (BufferStorage(capacity, num_classes=3),
                                make_policy("class_balanced_reservoir", num_classes=3))
    storage.keep([])                     # start empty (lets a test reuse one traced policy)
    storage.seen.assign(0)
    policy.class_seen.assign([0, 0, 0])
    labels = np.asarray(labels)
    for start in range(0, labels.size, batch):
        ids = np.arange(start, min(start + batch, labels.size))
        policy.observe(storage, ids, labels[ids], step=0, seed=seed)
    return storage, policy


def test_minority_classes_take_slots_from_the_largest_class_lowest_id_first():
    # fill 0000; 1 -> (3,1,0); 1 -> (2,2,0); 2: classes 0 and 1 tie, 0 loses -> (1,2,1)
    storage, _ = _feed([0, 0, 0, 0, 1, 1, 2], capacity=4, batch=1)
    assert storage.class_counts().numpy().tolist() == [1, 2, 1]
    ids = set(storage.ids.numpy().tolist())
    assert {4, 5, 6} <= ids and len(ids & {0, 1, 2, 3}) == 1
    # 2 again: class 1 alone is the largest -> (1,1,2)
    storage, _ = _feed([0, 0, 0, 0, 1, 1, 2, 2], capacity=4, batch=3)
    assert storage.class_counts().numpy().tolist() == [1, 1, 2]


def test_an_imbalanced_stream_ends_balanced():
    labels = [0] * 100 + [1] * 10 + [2] * 10
    storage, policy = _feed(labels, capacity=6, batch=7)
    assert storage.class_counts().numpy().tolist() == [2, 2, 2]
    assert policy.class_seen.numpy().tolist() == [100, 10, 10]


def test_decisions_do_not_depend_on_batch_boundaries():
    labels = np.random.default_rng(0).choice(3, size=60, p=[0.7, 0.2, 0.1])
    reuse = _feed(labels, 8, batch=1)
    first = reuse[0].ids.numpy().tolist()
    for batch in (3, 7):
        assert _feed(labels, 8, batch, reuse=reuse)[0].ids.numpy().tolist() == first
