"""The SSLAD losses against values computed by hand (formulas of the original's
`loss.py`)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from continual.methods.sslad import losses

# Three unit embeddings: rows 0 and 1 share class 0 (cosine 0.6), row 2 is class 1 (cosine 0
# with row 0, 0.8 with row 1).
EMBEDDINGS = tf.constant([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
LABELS = tf.constant([0, 0, 1])


def test_class_balanced_weights_use_batch_counts():
    weights = losses.class_balanced_weights(tf.constant([0, 0, 1, 2, 2, 2, 2, 2]), 4, 0.81)
    # n = 2: 0.19 / (1 - 0.81^2) = 0.5525; n = 1: 1; n = 5: 0.19 / (1 - 0.81^5) = 0.2917
    np.testing.assert_allclose(weights.numpy()[:3], [0.5525, 1.0, 0.2917], atol=1e-3)
    assert np.isfinite(weights.numpy()[3])  # absent class: no NaN


def test_focal_reduces_to_half_cross_entropy_and_weights_rows():
    logits = tf.constant([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    labels = tf.constant([0, 1, 1])
    p = np.exp([2.0, 1.0, 0.0]) / np.array([math.exp(2) + 2, math.e + 2, 3.0])
    plain = losses.class_balanced_focal(labels, logits, alpha=0.5, gamma=0.0, beta=None)
    assert float(plain) == pytest.approx(np.mean(-0.5 * np.log(p + 1e-6)), rel=1e-5)
    focal = losses.class_balanced_focal(labels, logits, alpha=1.0, gamma=2.0, beta=None)
    assert float(focal) == pytest.approx(np.mean(-(1 - p - 1e-6) ** 2 * np.log(p + 1e-6)),
                                         rel=1e-4)
    balanced = losses.class_balanced_focal(labels, logits, alpha=0.5, gamma=0.0, beta=0.81)
    weights = np.array([1.0, 0.5525, 0.5525])  # class 0 once, class 1 twice in the batch
    assert float(balanced) == pytest.approx(np.mean(-0.5 * weights * np.log(p + 1e-6)), rel=1e-3)


def test_soft_label_kl_is_zero_on_agreement_and_scaled_by_tau_squared():
    saved = tf.constant([[1.0, 0.0]])
    assert float(losses.soft_label_kl(saved, saved, 0.5)) == pytest.approx(0.0, abs=1e-6)
    q = np.array([math.e ** 2, 1.0]) / (math.e ** 2 + 1)      # softmax([1, 0] / 0.5)
    kl = float(np.sum(q * (np.log(q) - np.log([0.5, 0.5]))))  # now: logits equal
    got = losses.soft_label_kl(saved, tf.constant([[3.0, 3.0]]), 0.5)
    assert float(got) == pytest.approx(0.25 * kl, rel=1e-5)
    assert float(losses.soft_label_kl(tf.zeros([0, 2]), tf.zeros([0, 2]), 0.5)) == 0.0


def test_contrastive_averages_positive_hinges_over_nonzero_pairs():
    # positive pair (0, 1): d = sqrt(2 - 1.2) = 0.894; negative pairs: (0, 2) d = 1.414, no
    # loss, so not averaged; (1, 2) d = sqrt(0.4) = 0.632, loss 1 - 0.632.
    want = math.sqrt(0.8) + (1 - math.sqrt(0.4))
    assert float(losses.contrastive(EMBEDDINGS, LABELS)) == pytest.approx(want, rel=1e-5)


def test_supervised_contrastive_by_hand():
    # tau 1; anchor 0: log(e^.6 + e^0) - .6; anchor 1: log(e^.6 + e^.8) - .6; anchor 2 has no
    # positive and is left out of the mean.
    anchors = [math.log(math.exp(0.6) + 1) - 0.6, math.log(math.exp(0.6) + math.exp(0.8)) - 0.6]
    got = losses.supervised_contrastive(EMBEDDINGS, LABELS, temperature=1.0)
    assert float(got) == pytest.approx(np.mean(anchors), rel=1e-5)


def test_metric_losses_have_finite_gradients_on_identical_rows():
    embeddings = tf.Variable([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    with tf.GradientTape() as tape:
        loss = losses.contrastive(embeddings, LABELS) + losses.supervised_contrastive(
            embeddings, LABELS)
    assert np.isfinite(tape.gradient(loss, embeddings).numpy()).all()


@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_focal_gradient_is_finite_when_a_row_is_certain(gamma):
    """A row whose softmax rounds to 1 makes 1 - p_true exactly 0: with gamma 0, pow's own
    gradient there is 0 * 0^-1 = NaN, which once reached every weight (a diverged run)."""
    logits = tf.Variable([[14.439015, 0.0, 0.0], [0.5, 0.2, 0.1]])  # p_true + 1e-6 == 1.0
    labels = tf.constant([0, 1])
    p_true = tf.nn.softmax(logits)[0, 0] + losses.PROBABILITY_EPSILON
    assert float(1.0 - p_true) == 0.0  # float32 rounding: the case that gave NaN
    with tf.GradientTape() as tape:
        loss = losses.class_balanced_focal(labels, logits, alpha=0.5, gamma=gamma, beta=0.99)
    gradient = tape.gradient(loss, logits)
    assert np.isfinite(float(loss)) and np.isfinite(gradient.numpy()).all()
    assert np.abs(gradient.numpy()[1]).max() > 0  # the uncertain row still learns
