"""Kaizen's replay memory (`proportion_per_class`) and its loader (`cycle` sampler)."""

import numpy as np
import pytest
import tensorflow as tf

from continual.replay.buffers.policies import make_policy
from continual.replay.buffers.samplers import make_sampler
from continual.replay.buffers.storage import BufferStorage


def test_a_finished_task_adds_the_first_floor_n_times_p_of_each_new_class():
    storage = BufferStorage(10, num_classes=3)
    policy = make_policy("proportion_per_class", num_classes=3, replay_proportion=0.2)
    ids = np.arange(100, 115)
    labels = [0, 1] * 5 + [0] * 5          # class 0: 10 items, class 1: 5 items
    policy.begin_experience(storage, ids, labels, seed=0)
    policy.observe(storage, ids[:4], labels[:4], step=1, seed=0)
    assert int(storage.size) == 0          # nothing before the task ends
    policy.end_experience(storage, ids, labels, seed=0, step=7)
    # class 0: floor(10 * .2) = 2 -> rows 100, 102; class 1: floor(5 * .2) = 1 -> row 101
    assert storage.ids.numpy()[:3].tolist() == [100, 101, 102]
    assert storage.labels.numpy()[:3].tolist() == [0, 1, 0]
    assert storage.inserted_at.numpy()[:3].tolist() == [7, 7, 7]
    policy.end_experience(storage, np.arange(200, 206), [1, 2, 2, 2, 2, 2], seed=0, step=9)
    assert storage.class_counts().numpy().tolist() == [2, 1, 1]  # 1 is not new; 2: 5 * .2
    assert storage.ids.numpy()[3] == 201


def test_first_means_dataset_order_not_the_shuffled_stream_order():
    """The original keeps the first items of each class in `dataset.targets` order: record
    rows 0, 1, 4, 5 here, although the shuffled stream presented 5, 8, 16 and 0 first."""
    storage = BufferStorage(10, num_classes=2)
    policy = make_policy("proportion_per_class", num_classes=2, replay_proportion=0.5)
    stream = np.array([5, 8, 16, 0, 3, 1, 12, 4, 9, 2])
    labels = [0, 0, 0, 0, 1, 0, 0, 0, 0, 1]   # class 0: 8 records -> 4; class 1: 2 -> 1
    policy.end_experience(storage, stream, labels, seed=0)
    size = int(storage.size)
    kept, kept_labels = storage.ids.numpy()[:size], storage.labels.numpy()[:size]
    assert sorted(kept[kept_labels == 0]) == [0, 1, 4, 5]
    assert kept[kept_labels == 1].tolist() == [2]


def test_random_mode_is_a_seeded_choice_of_the_same_count():
    def chosen(seed):
        storage = BufferStorage(20, num_classes=1)
        policy = make_policy("proportion_per_class", num_classes=1, replay_proportion=0.25,
                             mode="random")
        policy.end_experience(storage, np.arange(40), [0] * 40, seed=seed)
        return storage.ids.numpy()[: int(storage.size)].tolist()

    assert len(chosen(3)) == 10 and chosen(3) == chosen(3) and chosen(3) != chosen(4)
    assert chosen(3) == sorted(chosen(3)) and set(chosen(3)) <= set(range(40))


@pytest.mark.parametrize("proportion", [0.0, 1.5, -0.1])
def test_a_proportion_outside_0_1_is_refused(proportion):
    with pytest.raises(ValueError, match="replay_proportion"):
        make_policy("proportion_per_class", num_classes=2, replay_proportion=proportion)


def test_a_memory_that_keeps_nothing_of_a_class_or_overflows_is_refused():
    policy = make_policy("proportion_per_class", num_classes=2, replay_proportion=0.1)
    with pytest.raises(ValueError, match="keeps 0 of the 5 items of class 1"):
        policy.end_experience(BufferStorage(10, num_classes=2), np.arange(15),
                              [0] * 10 + [1] * 5, seed=0)
    with pytest.raises(ValueError, match="EpisodicBuffer.capacity"):
        policy.end_experience(BufferStorage(3, num_classes=2), np.arange(40), [0] * 40, seed=0)


def test_cycle_sampler_reads_shuffled_passes_in_full_batches():
    storage = BufferStorage(8, num_classes=1)
    storage.write(np.arange(5), np.arange(5) + 50, np.zeros(5), step=0)
    sampler = make_sampler("cycle")

    def batch(step):
        return sorted(sampler.sample(storage, 2, tf.constant([7, step], tf.int64)).numpy())

    first, second = batch(0), batch(1)        # one pass: 5 // 2 = 2 batches
    assert len(first) == len(second) == 2 and not set(first) & set(second)
    assert set(first + second) <= set(range(5))
    assert batch(0) == first                  # stateless: same step, same batch
    assert {tuple(batch(s)) for s in range(2, 40, 2)} != {tuple(first)}  # passes reshuffle
    assert sorted(sampler.sample(storage, 9, tf.constant([7, 3], tf.int64)).numpy()) == [
        0, 1, 2, 3, 4]                        # a batch larger than the memory is all of it
