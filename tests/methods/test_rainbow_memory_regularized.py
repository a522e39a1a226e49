"""RM's EWC and RWalk baselines: the penalty, the Fisher estimate and the RWalk path score by
hand on tiny tensors; anchors written once per task; bad bindings named."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from continual.methods.base import StreamBatch
from continual.methods.rainbow_memory.ewc import EWC
from continual.methods.rainbow_memory.importance import QuadraticAnchors, fisher_diagonal
from continual.methods.rainbow_memory.rwalk import RWalk, path_step
from continual.replay.buffers import EpisodicBuffer
from tests.methods.test_rainbow_memory import Experience, Table


def test_penalty_of_two_task_anchors_by_hand():
    """F1 = 2 at theta* = 1, F2 = 1 at theta* = 4; at theta = 2: 2 * 1^2 + 1 * 2^2 = 6."""
    theta = tf.Variable([2.0, 0.0])
    anchors = QuadraticAnchors([theta])
    assert float(anchors.penalty([theta])) == 0.0
    anchors.add([np.array([2.0, 0.0])], [np.array([1.0, 3.0])])
    assert float(anchors.penalty([theta])) == pytest.approx(2.0)     # 2 * (2 - 1)^2
    anchors.add([np.array([1.0, 0.5])], [np.array([4.0, 2.0])])
    # element 0: 2 * 1 + 1 * 4 = 6; element 1: 0 + 0.5 * (0 - 2)^2 = 2
    assert float(anchors.penalty([theta])) == pytest.approx(8.0)
    theta.assign([3.0, 1.0])                 # 2 * 4 + 1 * 1 + 0.5 * 1 = 9.5
    assert float(anchors.penalty([theta])) == pytest.approx(9.5)
    assert int(anchors.tasks) == 2


def test_one_overwritten_slot_keeps_only_the_latest_anchor():
    theta = tf.Variable([2.0])
    anchors = QuadraticAnchors([theta])
    anchors.add([np.array([2.0])], [np.array([1.0])], keep_every_task=False)
    anchors.add([np.array([1.0])], [np.array([4.0])], keep_every_task=False)
    assert float(anchors.penalty([theta])) == pytest.approx(4.0)     # 1 * (2 - 4)^2


def test_fisher_is_squared_batch_mean_gradients_weighted_by_batch_share():
    batches = [([np.array([1.0, 2.0])], 2), ([np.array([3.0, 0.0])], 2)]
    fisher = fisher_diagonal(batches, total=4)
    np.testing.assert_allclose(fisher[0], [0.5 * 1 + 0.5 * 9, 0.5 * 4])
    with pytest.raises(ValueError, match="no batches"):
        fisher_diagonal([], total=0)


def test_rwalk_path_step_by_hand():
    score, fisher = tf.zeros([2]), tf.zeros([2])
    grad, delta = tf.constant([2.0, -1.0]), tf.constant([-0.1, 0.2])
    score, fisher = path_step(score, fisher, grad, delta, alpha=0.5, epsilon=1e-3)
    # F = 0: s = -g * d / 1e-3 = [0.2, 0.2] / 1e-3; F becomes g^2 on the first step
    np.testing.assert_allclose(score.numpy(), [200.0, 200.0], rtol=1e-5)
    np.testing.assert_allclose(fisher.numpy(), [4.0, 1.0])
    score, fisher = path_step(score, fisher, tf.constant([1.0, 1.0]),
                              tf.constant([-0.5, -0.5]), alpha=0.5, epsilon=1e-3)
    # s += 0.5 / (0.5 * F * 0.25 + 1e-3): F = [4, 1] before the update
    np.testing.assert_allclose(score.numpy(), [200 + 0.5 / 0.501, 200 + 0.5 / 0.126],
                               rtol=1e-5)
    np.testing.assert_allclose(fisher.numpy(), [0.5 * 4 + 0.5, 0.5 * 1 + 0.5])


def _built(cls, **bindings):
    gin.bind_parameter("build_classifier.name", "mlp")
    gin.bind_parameter("mlp_backbone.hidden_units", (16,))
    gin.bind_parameter("TorchSGD.learning_rate", 0.05)
    method = cls(**bindings)
    method.build((8, 8, 3), 4, EpisodicBuffer(capacity=8, policy="reservoir", num_classes=4),
                 seed=1)
    return method


def _train(method, table, ids):
    images, labels = table.gather(np.asarray(ids))
    batch = StreamBatch(images=images, labels=labels, ids=tf.constant(ids, tf.int64))
    return method.train_step(batch, tf.constant(0, tf.int64))


@pytest.mark.parametrize("cls", [EWC, RWalk])
def test_anchor_written_once_per_task_and_penalty_pulls_back(cls):
    method, table = _built(cls, reg_coef=10.0), Table()
    task = Experience(0, tuple(range(12)), (0, 1, 2, 3))
    method.begin_experience(task, table)
    for _ in range(3):
        _train(method, table, list(range(8)))
    method.end_experience(task, table)
    assert int(method.anchors.tasks) == 1
    assert float(method.penalty()) == pytest.approx(0.0, abs=1e-6)   # at the anchor
    method.begin_experience(Experience(1, tuple(range(12, 24)), (0, 1, 2, 3)), table)
    out = _train(method, table, list(range(12, 20)))
    assert float(method.penalty()) > 0.0 and np.isfinite(float(out["loss"]))
    if cls is RWalk:
        assert int(method.anchors.tasks) == 1 and np.any(method.step_score[0].numpy() != 0)


def test_rwalk_task_score_is_the_mean_of_the_last_two():
    method, table = _built(RWalk, normalize=False), Table()
    method.step_score[0].assign(tf.fill(method.step_score[0].shape, 4.0))
    method.task_importance(Experience(0, (), ()), table)
    method.anchors.tasks.assign(1)
    method.step_score[0].assign(tf.fill(method.step_score[0].shape, 2.0))
    method.step_score[1].assign(tf.fill(method.step_score[1].shape, -2.0))
    importance = method.task_importance(Experience(1, (), ()), table)
    np.testing.assert_allclose(importance[0], 3.0)          # F = 0 + (4 + 2) / 2
    np.testing.assert_allclose(importance[1], 0.0)          # (0 + relu(-2)) / 2
    assert not np.any(method.step_score[0].numpy())


@pytest.mark.parametrize("cls, bindings, message", [
    (EWC, {"reg_coef": -1.0}, "EWC.reg_coef"),
    (EWC, {"fisher_batch_size": 0}, "EWC.fisher_batch_size"),
    (EWC, {"stream": "batch"}, "EWC.stream"),
    (RWalk, {"alpha": 1.5}, "RWalk.alpha"),
    (RWalk, {"epsilon": 0.0}, "RWalk.epsilon"),
])
def test_bad_bindings_name_the_binding(cls, bindings, message):
    with pytest.raises(ValueError, match=message):
        cls(**bindings)


def test_rwalk_normalises_fisher_and_score_to_unit_maximum():
    method, table = _built(RWalk), Table()
    method.fisher[0].assign(tf.fill(method.fisher[0].shape, 0.5))
    method.fisher[1].assign(tf.fill(method.fisher[1].shape, 2.0))
    method.step_score[0].assign(tf.fill(method.step_score[0].shape, 300.0))
    importance = method.task_importance(Experience(0, (), ()), table)
    np.testing.assert_allclose(importance[0], 0.25 + 1.0)     # 0.5 / 2 + 300 / 300
    np.testing.assert_allclose(importance[1], 1.0 + 0.0)
