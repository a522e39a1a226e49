"""The uncertainty policy (SSLAD): online scores with xlogy entropy and the wrong-prediction
penalty, most certain (or uncertain) kept with their logits, sweeps with seeded ties."""

import math

import gin
import numpy as np
import pytest
import tensorflow as tf

from continual.replay.buffers.policies import make_policy
from continual.replay.buffers.policies.uncertainty import prediction_scores, seeded_stable_order
from continual.replay.buffers.storage import BufferStorage

# Row 0: saturated and right; row 1: uniform; row 2: confident and wrong; row 3: fairly sure.
LOGITS = np.array([[200.0, 0.0], [0.0, 0.0], [0.0, 5.0], [2.0, 0.0]], np.float32)
LABELS = np.array([0, 0, 0, 0])


def test_scores_are_entropy_plus_penalty_and_never_nan():
    scores = prediction_scores(tf.constant(LOGITS), tf.constant(LABELS), 0.5).numpy()
    p = 1 / (1 + math.exp(-5))
    entropy_2 = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    assert scores[0] == 0.0  # 0 log 0 = 0 (xlogy), not NaN
    assert scores[1] == pytest.approx(math.log(2), rel=1e-6)
    assert scores[2] == pytest.approx(entropy_2 + 0.5, rel=1e-5)


def _observe(keep: str, capacity: int = 3):
    gin.bind_parameter("UncertaintyPolicy.keep", keep)
    gin.bind_parameter("UncertaintyPolicy.per_step", 2)
    storage = BufferStorage(capacity, num_classes=2, logits_dim=2)
    policy = make_policy("uncertainty", num_classes=2)
    policy.observe(storage, np.arange(10, 14), LABELS, step=7, seed=1, logits=LOGITS)
    return storage, policy


def test_most_certain_items_enter_with_their_logits():
    storage, _ = _observe("most_certain")
    assert int(storage.size) == 2 and storage.ids.numpy()[:2].tolist() == [10, 13]
    np.testing.assert_array_equal(storage.logits.numpy()[:2], LOGITS[[0, 3]])
    assert storage.inserted_at.numpy()[:2].tolist() == [7, 7]


def test_most_uncertain_items_enter_and_a_full_memory_takes_nothing():
    storage, policy = _observe("most_uncertain")
    # uniform: log 2 = 0.69; confident and wrong: 0.04 + 0.5 penalty; the rest lower
    assert storage.ids.numpy()[:2].tolist() == [11, 12]
    policy.observe(storage, [20, 21], [0, 0], step=8, seed=1, logits=LOGITS[:2])
    # 21 (uniform) is the more uncertain; one slot was left
    assert int(storage.size) == 3 and storage.ids.numpy().tolist() == [11, 12, 21]
    policy.observe(storage, [30, 31], [0, 0], step=9, seed=1, logits=LOGITS[:2])
    assert storage.ids.numpy().tolist() == [11, 12, 21]


def test_ties_are_broken_by_the_seed_and_reproducibly():
    values = tf.zeros([12])
    orders = {tuple(seeded_stable_order(values, tf.constant([s, 0], tf.int64), True).numpy())
              for s in range(5)}
    assert len(orders) > 1
    again = seeded_stable_order(values, tf.constant([3, 0], tf.int64), True).numpy()
    np.testing.assert_array_equal(
        again, seeded_stable_order(values, tf.constant([3, 0], tf.int64), True).numpy())
    ranked = seeded_stable_order(tf.constant([0.1, 0.9, 0.5]), tf.constant([0, 0], tf.int64),
                                 True).numpy()
    assert ranked.tolist() == [1, 2, 0]


def test_sweep_keeps_the_most_uncertain_in_slot_order_with_their_logits():
    storage = BufferStorage(6, num_classes=2, logits_dim=2)
    storage.write(np.arange(5), [100, 101, 102, 103, 104], [0, 1, 0, 1, 0], 3,
                  logits=np.arange(10, dtype=np.float32).reshape(5, 2))
    policy = make_policy("uncertainty", num_classes=2)
    policy.sweep(storage, [0.5, 0.0, 0.9, 0.1, 0.5], 3, seed=[0, 1])
    assert int(storage.size) == 3 and storage.ids.numpy()[:3].tolist() == [100, 102, 104]
    np.testing.assert_array_equal(storage.logits.numpy()[:3], [[0, 1], [4, 5], [8, 9]])
    with pytest.raises(ValueError, match="one per item"):
        policy.sweep(storage, [0.1], 1, seed=[0, 1])


def test_bad_settings_name_the_binding():
    gin.bind_parameter("UncertaintyPolicy.keep", "oldest")
    with pytest.raises(ValueError, match="UncertaintyPolicy.keep"):
        make_policy("uncertainty", num_classes=2)
    gin.clear_config()
    policy = make_policy("uncertainty", num_classes=2)
    with pytest.raises(ValueError, match="EpisodicBuffer.logits_dim"):
        policy.observe(BufferStorage(3, num_classes=2), [1], [0], step=0, seed=0)
