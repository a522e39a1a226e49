"""Kaizen's losses and momentum schedule against values computed by hand on tiny tensors."""

import math

import numpy as np
import pytest
import tensorflow as tf

from continual.methods.kaizen import losses
from continual.methods.kaizen.ssl import ema_update, momentum_tau


def t(values):
    return tf.constant(values, tf.float32)


def test_byol_loss_is_two_minus_twice_the_cosine():
    # cos = 1 for the first row, 1/sqrt(2) for the second: (0 + 2 - sqrt(2)) / 2
    got = losses.byol_loss(t([[1, 0], [1, 1]]), t([[3, 0], [1, 0]]))
    assert float(got) == pytest.approx((2 - math.sqrt(2)) / 2, rel=1e-6)


def test_nt_xent_positive_is_the_other_view_and_self_is_excluded():
    # rows (1,0), (0,1), (1,0), (0,1); tau 1: each row sees its positive at dot 1 and two
    # negatives at dot 0, itself excluded: -log(e / (e + 2)).
    got = losses.nt_xent_loss(t([[1, 0], [0, 1]]), t([[2, 0], [0, 5]]), temperature=1.0)
    assert float(got) == pytest.approx(math.log(1 + 2 / math.e), rel=1e-6)


def test_nce_denominator_runs_over_every_teacher_row():
    got = losses.nce_loss(t([[1, 0], [0, 1]]), t([[1, 0], [0, 1]]), temperature=0.5)
    assert float(got) == pytest.approx(math.log(1 + math.exp(-2)), rel=1e-6)


def test_contrastive_distill_is_symmetric_nce_over_both_views():
    # P = [h1; h2] = I, Z = [old1; old2] = I: both directions give log(1 + e^-2) at tau 0.5
    got = losses.contrastive_distill_loss(t([[1, 0]]), t([[0, 1]]), t([[1, 0]]), t([[0, 1]]),
                                          temperature=0.5)
    assert float(got) == pytest.approx(math.log(1 + math.exp(-2)), rel=1e-6)
    swapped = losses.contrastive_distill_loss(t([[0, 1]]), t([[1, 0]]), t([[1, 0]]),
                                              t([[0, 1]]), temperature=0.5)
    assert float(swapped) == pytest.approx(math.log(1 + math.exp(2)), rel=1e-6)


def test_predictive_distill_averages_the_two_views():
    got = losses.predictive_distill_loss(t([[1, 0]]), t([[1, 0]]), t([[2, 0]]), t([[0, 1]]))
    assert float(got) == pytest.approx(1.0)  # (0 + 2) / 2


def test_soft_label_loss_is_cross_entropy_against_the_teacher_softmax():
    # teacher (0, 0) -> targets (.5, .5); student softmax (.75, .25)
    got = losses.soft_label_loss(t([[math.log(3), 0]]), t([[0, 0]]))
    assert float(got) == pytest.approx(-(0.5 * math.log(0.75) + 0.5 * math.log(0.25)), rel=1e-6)
    assert float(losses.cross_entropy(tf.constant([2]), t([[0, 0, 0]]))) == pytest.approx(
        math.log(3), rel=1e-6)


def test_losses_send_no_gradient_to_their_targets():
    p, z = tf.Variable([[1.0, 2.0]]), tf.Variable([[2.0, -1.0]])
    with tf.GradientTape(persistent=True) as tape:
        byol = losses.byol_loss(p, z)
        soft = losses.soft_label_loss(p, z)
    assert tape.gradient(byol, z) is None and tape.gradient(soft, z) is None
    assert tape.gradient(byol, p) is not None


def test_momentum_tau_is_cosine_annealed_from_base_to_final():
    assert float(momentum_tau(0, 10, 0.99, 1.0)) == pytest.approx(0.99)
    assert float(momentum_tau(5, 10, 0.99, 1.0)) == pytest.approx(0.995)
    assert float(momentum_tau(10, 10, 0.99, 1.0)) == pytest.approx(1.0)


def test_ema_update_moves_the_target_by_one_minus_tau():
    online, target = [tf.Variable([1.0, 3.0])], [tf.Variable([0.0, 1.0])]
    ema_update(online, target, 0.9)
    np.testing.assert_allclose(target[0].numpy(), [0.1, 1.2], rtol=1e-6)
