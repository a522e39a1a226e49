"""Rainbow Memory's memory managers: per-class budget, stride over the certainty ranking,
random fill, seeded ties; RM's `random`; herding (prototype)."""

import numpy as np
import pytest

from continual.replay.buffers import EpisodicBuffer
from continual.replay.buffers.policies.herding import herd
from continual.replay.buffers.policies.rainbow import stride_pick


def _buffer(capacity: int, policy: str, num_classes: int = 3) -> EpisodicBuffer:
    return EpisodicBuffer(capacity=capacity, policy=policy, num_classes=num_classes)


def test_stride_pick_spreads_over_the_ranking():
    order = np.arange(10)
    np.testing.assert_array_equal(stride_pick(order, 3), [0, 3, 6])   # j = 10 // 3 = 3
    np.testing.assert_array_equal(stride_pick(order, 4), [0, 2, 4, 6])
    np.testing.assert_array_equal(stride_pick(order[:2], 4), [0, 1])  # fewer: all of them


def test_rainbow_keeps_k_per_class_along_the_certainty_ranking():
    buffer = _buffer(4, "rainbow", num_classes=2)
    ids = np.arange(100, 110)
    labels = np.array([0] * 6 + [1] * 4)
    # class 0: uncertainty 0.0 .. 0.5 at ids 100..105 -> ranks 100..105, j = 3 -> 100, 103
    # class 1: 0.9, 0.1, 0.5, 0.3 at ids 106..109 -> ranked 107, 109, 108, 106; j = 2 -> 107, 108
    values = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 0.1, 0.5, 0.3])
    buffer.policy.rebuild(buffer.storage, ids, labels, task=1, seed=0, classes=[0, 1],
                          values=values)
    assert sorted(buffer.stored_ids().tolist()) == [100, 103, 107, 108]


def test_rainbow_task_zero_is_random_per_class_then_random_fill():
    buffer = _buffer(5, "rainbow", num_classes=2)
    ids, labels = np.arange(12), np.array([0] * 10 + [1] * 2)
    buffer.policy.rebuild(buffer.storage, ids, labels, task=0, seed=3, classes=[0, 1])
    stored = buffer.stored_ids()
    counts = np.bincount(labels[stored], minlength=2)
    assert len(stored) == 5 and counts[1] == 2 and counts[0] == 3  # k = 2 each, 1 fill
    again = _buffer(5, "rainbow", num_classes=2)
    again.policy.rebuild(again.storage, ids, labels, task=0, seed=3, classes=[0, 1])
    np.testing.assert_array_equal(again.stored_ids(), stored)      # seeded


def test_rainbow_candidates_are_memory_then_stream_and_all_fit_are_kept():
    buffer = _buffer(6, "rainbow")
    buffer.policy.rebuild(buffer.storage, [1, 2, 3], [0, 1, 2], task=0, seed=0,
                          classes=[0, 1, 2])
    ids, labels = buffer.policy.candidates(buffer.storage, [7, 8], [0, 1])
    np.testing.assert_array_equal(ids, [1, 2, 3, 7, 8])
    np.testing.assert_array_equal(labels, [0, 1, 2, 0, 1])
    buffer.policy.rebuild(buffer.storage, [7, 8], [0, 1], task=1, seed=0, classes=[0, 1, 2],
                          values=np.zeros(5))
    np.testing.assert_array_equal(buffer.stored_ids(), [1, 2, 3, 7, 8])


def test_rainbow_asks_for_uncertainty_after_task_zero():
    buffer = _buffer(3, "rainbow")
    assert buffer.policy.score_kind(0) is None and buffer.policy.score_kind(1) == "uncertainty"
    with pytest.raises(ValueError, match="uncertainty"):
        buffer.policy.rebuild(buffer.storage, np.arange(5), np.zeros(5), task=1, seed=0,
                              classes=[0])


def test_random_subset_keeps_capacity_and_is_seeded():
    first, second = _buffer(4, "random_subset"), _buffer(4, "random_subset")
    for buffer in (first, second):
        buffer.policy.rebuild(buffer.storage, np.arange(20), np.arange(20) % 3, task=2, seed=5,
                              classes=[0, 1, 2])
    assert len(set(first.stored_ids().tolist())) == 4
    np.testing.assert_array_equal(first.stored_ids(), second.stored_ids())


def test_herding_picks_the_points_whose_mean_tracks_the_prototype():
    features = np.array([[2.0, 0.0], [0.6, 0.8], [-1.0, 0.0], [0.0, -3.0]])
    # normalised: (1, 0), (.6, .8), (-1, 0), (0, -1); their mean (.15, -.05) normalised is the
    # prototype mu = (.949, -.316) (RM's `cls_mean /= norm`). First pick: (1, 0), distance .32.
    # Then RM normalises the running mean: with (0, -1) it is (.707, -.707), distance .46; with
    # (.6, .8): .77; with (-1, 0) the zero vector, distance 1. Unnormalised, (-1, 0) would win.
    np.testing.assert_array_equal(herd(features, 2), [0, 3])


def test_herding_keeps_a_class_at_its_share_and_cuts_a_class_above_it_at_random():
    """RM's `mean_feature_sampling`: a class whose old exemplars reach k = K // classes keeps
    k of them (a random k if more), whatever the new rows; so a blurry memory (every class
    exposed at task 0) freezes after task 0. A class below its share herds its new rows and
    old exemplars together."""
    buffer = _buffer(4, "herding", num_classes=3)
    labels = np.array([0, 0, 0, 1, 1, 1])
    features = np.array([[1, 0], [0, 1], [1, 1], [1, 0], [-1, 0], [0, 1]], float)
    buffer.policy.rebuild(buffer.storage, np.arange(6), labels, task=0, seed=0, classes=[0, 1],
                          values=features)
    first = sorted(buffer.stored_ids().tolist())
    # Task 1: many new rows pointing one way pull every class's prototype there; re-herding
    # all candidates would take new rows, RM keeps the old exemplars (k = 2, same classes).
    new_ids, new_labels = np.arange(10, 16), np.array([0, 0, 0, 1, 1, 1])
    values = np.concatenate([features[first], np.tile([[0.0, -1.0]], (6, 1))])
    buffer.policy.rebuild(buffer.storage, new_ids, new_labels, task=1, seed=0, classes=[0, 1],
                          values=values)
    assert sorted(buffer.stored_ids().tolist()) == first
    # Task 2: class 2 arrives, k = 4 // 3 = 1: classes 0 and 1 keep one old exemplar each (a
    # random one), class 2 is herded from its rows (the one nearest its prototype).
    stored = buffer.stored_ids()
    values = np.concatenate([np.ones((4, 2)), [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]])
    buffer.policy.rebuild(buffer.storage, np.arange(20, 23), np.array([2, 2, 2]), task=2,
                          seed=0, classes=[0, 1, 2], values=values)
    kept = buffer.stored_ids().tolist()
    assert len(kept) == 3 and 21 in kept
    assert sum(i in stored.tolist() for i in kept) == 2
    assert sorted(np.asarray(labels)[[i for i in kept if i < 10]].tolist()) == [0, 1]


def test_herding_policy_keeps_k_per_class():
    buffer = _buffer(4, "herding", num_classes=2)
    labels = np.array([0, 0, 0, 1, 1, 1])
    features = np.array([[1, 0], [0, 1], [1, 1], [1, 0], [-1, 0], [0, 1]], float)
    buffer.policy.rebuild(buffer.storage, np.arange(6), labels, task=0, seed=0, classes=[0, 1],
                          values=features)
    assert np.bincount(labels[buffer.stored_ids()]).tolist() == [2, 2]
