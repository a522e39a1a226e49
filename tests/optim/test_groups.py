"""ParameterGroups: several optimisers in one compiled step, each on its own variables."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from continual.optim import LARS, ParameterGroups, TorchSGD
from continual.optim.schedules import MultiStepDecay

A0 = np.array([[1.0, 2.0], [-1.0, 0.5]])
C0 = np.array([0.5, -0.5])
X = np.array([[1.0, 2.0]])


def _variables():
    return keras.Variable(A0.astype("float32")), keras.Variable(C0.astype("float32"))


def _compiled_step(groups, a, c):
    """loss = sum(x @ a + c): d/da = x^T broadcast over columns, d/dc = 1."""
    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.constant(X, tf.float32) @ a + c)
        grads = tape.gradient(loss, [a, c])
        groups.apply_gradients(zip(grads, [a, c], strict=True))
    return step


def test_two_optimisers_with_their_own_lrs_in_one_compiled_step():
    a, c = _variables()
    groups = ParameterGroups([([a], TorchSGD(learning_rate=0.1, momentum=0.9)),
                              ([c], TorchSGD(learning_rate=0.01, weight_decay=0.5))])
    step = _compiled_step(groups, a, c)
    step()
    step()
    grad_a = np.repeat(X.T, 2, axis=1)           # [[1, 1], [2, 2]]
    a2 = A0 - 0.1 * grad_a - 0.1 * (0.9 * grad_a + grad_a)
    c1 = C0 - 0.01 * (1.0 + 0.5 * C0)
    c2 = c1 - 0.01 * (1.0 + 0.5 * c1)
    np.testing.assert_allclose(a.numpy(), a2, rtol=1e-6)
    np.testing.assert_allclose(c.numpy(), c2, rtol=1e-6)


def test_each_group_follows_its_own_schedule_and_lars_exclusion():
    a, c = _variables()
    head_lr = MultiStepDecay(0.1, milestones=[1], gamma=0.5)
    groups = ParameterGroups([([a], TorchSGD(learning_rate=head_lr)),
                              ([c], LARS(learning_rate=2.0, momentum=0.0))])
    step = _compiled_step(groups, a, c)
    step()
    step()
    grad_a = np.repeat(X.T, 2, axis=1)
    np.testing.assert_allclose(a.numpy(), A0 - 0.1 * grad_a - 0.05 * grad_a, rtol=1e-6)
    np.testing.assert_allclose(c.numpy(), C0 - 2.0 * 2, rtol=1e-6)   # 1-D: plain SGD
    assert [float(lr) for lr in groups.learning_rates()] == pytest.approx([0.05, 2.0])


def test_group_without_gradient_still_counts_the_step():
    a, c = _variables()
    sgd_a, sgd_c = TorchSGD(learning_rate=0.1), TorchSGD(learning_rate=0.1)
    groups = ParameterGroups([([a], sgd_a), ([c], sgd_c)])
    groups.apply([tf.ones((2, 2)), None], [a, c])
    np.testing.assert_array_equal(c.numpy(), C0.astype("float32"))
    assert int(sgd_a.iterations) == int(sgd_c.iterations) == 1


def test_misrouted_variables_are_rejected():
    a, c = _variables()
    stray = keras.Variable(np.zeros(2, "float32"), name="stray")
    with pytest.raises(ValueError, match="is in parameter groups 0 and 1"):
        ParameterGroups([([a, c], TorchSGD()), ([c], TorchSGD())])
    shared = TorchSGD()
    with pytest.raises(ValueError, match="share one optimiser"):
        ParameterGroups([([a], shared), ([c], shared)])
    groups = ParameterGroups([([a], TorchSGD()), ([c], TorchSGD())])
    with pytest.raises(ValueError, match="'stray' is in no parameter group"):
        groups.apply([tf.ones(2)], [stray])


def test_checkpoint_restores_every_groups_momentum(tmp_path):
    def run(a, c, groups, steps):
        for _ in range(steps):
            groups.apply([tf.ones((2, 2)), tf.ones(2)], [a, c])

    def fresh():
        a, c = _variables()
        return a, c, ParameterGroups([([a], TorchSGD(learning_rate=0.1, momentum=0.9)),
                                      ([c], TorchSGD(learning_rate=0.2, momentum=0.5))])

    a, c, groups = fresh()
    run(a, c, groups, 3)
    expected = a.numpy(), c.numpy()
    a, c, groups = fresh()
    run(a, c, groups, 2)
    path = tf.train.Checkpoint(a=a, c=c, optimizer=groups).write(str(tmp_path / "ckpt"))
    a, c, groups = fresh()
    tf.train.Checkpoint(a=a, c=c, optimizer=groups).read(path)
    run(a, c, groups, 1)
    np.testing.assert_allclose(a.numpy(), expected[0], rtol=1e-6)
    np.testing.assert_allclose(c.numpy(), expected[1], rtol=1e-6)
