"""Boundary policies: task_boundary_random's equal shares, fixed_per_class's first n."""

import numpy as np
import pytest

from continual.replay.buffers.policies import make_policy
from continual.replay.buffers.storage import BufferStorage


def test_task_boundary_redivides_memory_into_equal_class_shares():
    storage = BufferStorage(7, num_classes=4)
    policy = make_policy("task_boundary_random", num_classes=4)
    policy.observe(storage, [0, 1], [0, 1], step=1, seed=0)          # nothing happens online
    assert int(storage.size) == 0
    policy.end_experience(storage, np.arange(10), [0, 1] * 5, seed=0, step=10)
    assert storage.class_counts().numpy().tolist() == [4, 3, 0, 0]   # 7 = 4 + 3
    first = dict(zip(storage.ids.numpy()[:7], storage.labels.numpy()[:7], strict=True))
    policy.end_experience(storage, np.arange(10, 15), [2] * 5, seed=0, step=20)
    assert storage.class_counts().numpy().tolist() == [3, 2, 2, 0]   # 7 = 3 + 2 + 2
    ids, labels = storage.ids.numpy()[:7], storage.labels.numpy()[:7]
    assert all(first[i] == c for i, c in zip(ids[:5], labels[:5], strict=True))  # trimmed
    assert set(ids[5:]) <= set(range(10, 15))
    assert storage.inserted_at.numpy()[5:].tolist() == [20, 20]


def test_task_boundary_leaves_a_small_class_spare_slots_empty():
    storage = BufferStorage(7, num_classes=2)
    make_policy("task_boundary_random", num_classes=2).end_experience(
        storage, np.arange(11), [0] + [1] * 10, seed=4)
    assert storage.class_counts().numpy().tolist() == [1, 3]
    assert int(storage.size) == 4


def test_fixed_per_class_adds_the_first_n_of_each_new_class_and_never_evicts():
    storage = BufferStorage(6, num_classes=3)
    policy = make_policy("fixed_per_class", num_classes=3, n_per_class=2)
    policy.begin_experience(storage, [10, 11, 12, 13, 14, 15], [0, 1, 0, 1, 0, 1], seed=0)
    assert storage.ids.numpy().tolist() == [10, 11, 12, 13, -1, -1]
    policy.observe(storage, [20, 21], [1, 2], step=3, seed=0)
    policy.begin_experience(storage, [20, 21, 22, 23], [1, 2, 2, 2], seed=0)  # 1 is not new
    assert storage.ids.numpy().tolist() == [10, 11, 12, 13, 21, 22]


def test_fixed_per_class_random_mode_picks_n_of_the_class_reproducibly():
    chosen = []
    for _ in range(2):
        storage = BufferStorage(4, num_classes=2)
        policy = make_policy("fixed_per_class", num_classes=2, n_per_class=3, mode="random")
        policy.begin_experience(storage, np.arange(20), [0] * 20, seed=7)
        chosen.append(storage.ids.numpy().tolist())
    assert chosen[0] == chosen[1] and chosen[0][3] == -1
    assert len(set(chosen[0][:3])) == 3 and set(chosen[0][:3]) <= set(range(20))


def test_fixed_per_class_refuses_to_exceed_the_capacity_and_writes_nothing():
    storage = BufferStorage(5, num_classes=3)
    policy = make_policy("fixed_per_class", num_classes=3, n_per_class=2)
    with pytest.raises(ValueError, match="3 new classes x FixedPerClassPolicy.n_per_class = 2 "
                       "add 6 items to the 0 stored, more than EpisodicBuffer.capacity = 5"):
        policy.begin_experience(storage, np.arange(9), [0, 1, 2] * 3, seed=0)
    assert int(storage.size) == 0
    with pytest.raises(ValueError, match="FixedPerClassPolicy.mode = 'last' is unknown"):
        make_policy("fixed_per_class", num_classes=3, mode="last")
