"""LARS against Kaizen's LARSWrapper(SGD) update written out by hand in numpy."""

import gin
import keras
import numpy as np
import tensorflow as tf

from continual.optim import LARS, TorchSGD

W0 = np.array([[1.0, -2.0], [0.5, 3.0]])
B0 = np.array([0.3, -0.1])
GW = [np.array([[0.2, 0.1], [-0.4, 0.3]]), np.array([[0.05, -0.2], [0.1, 0.0]])]
GB = [np.array([1.0, -2.0]), np.array([0.5, 0.5])]


def _trust_ratio(p, g, lr, eta=0.02, wd=1e-5, eps=1e-8, clip=True):
    local = eta * np.linalg.norm(p) / (np.linalg.norm(g) + wd * np.linalg.norm(p) + eps)
    return min(local / lr, 1.0) if clip else local


def _run(optimizer, lrs):
    kernel = keras.Variable(W0.astype("float32"))
    bias = keras.Variable(B0.astype("float32"))
    for step in range(2):
        optimizer.learning_rate = lrs[step]
        optimizer.apply([tf.constant(GW[step], tf.float32), tf.constant(GB[step], tf.float32)],
                        [kernel, bias])
    return kernel.numpy(), bias.numpy()


def test_matrix_gets_trust_ratio_and_bias_gets_plain_momentum():
    lrs, mu, wd = [0.5, 0.25], 0.9, 1e-5
    d1 = (GW[0] + wd * W0) * _trust_ratio(W0, GW[0], lrs[0])
    w1 = W0 - lrs[0] * d1
    d2 = (GW[1] + wd * w1) * _trust_ratio(w1, GW[1], lrs[1])
    w2 = w1 - lrs[1] * (mu * d1 + d2)
    b2 = B0 - lrs[0] * GB[0] - lrs[1] * (mu * GB[0] + GB[1])   # no LARS, no weight decay
    kernel, bias = _run(LARS(momentum=mu, weight_decay=wd), lrs)
    np.testing.assert_allclose(kernel, w2, rtol=1e-5)
    np.testing.assert_allclose(bias, b2, rtol=1e-6)


def test_unclipped_ratio_and_bias_included_when_not_excluded():
    lr, wd = 0.5, 1e-3
    optimizer = LARS(momentum=0.0, weight_decay=wd, clip_lr=False, exclude_bias_n_norm=False)
    kernel = keras.Variable(W0.astype("float32"))
    bias = keras.Variable(B0.astype("float32"))
    optimizer.learning_rate = lr
    optimizer.apply([tf.constant(GW[0], tf.float32), tf.constant(GB[0], tf.float32)],
                    [kernel, bias])
    ratio_w = _trust_ratio(W0, GW[0], lr, wd=wd, clip=False)
    ratio_b = _trust_ratio(B0, GB[0], lr, wd=wd, clip=False)
    np.testing.assert_allclose(kernel.numpy(), W0 - lr * ratio_w * (GW[0] + wd * W0), rtol=1e-5)
    np.testing.assert_allclose(bias.numpy(), B0 - lr * ratio_b * (GB[0] + wd * B0), rtol=1e-5)


def test_zero_gradient_means_no_weight_decay_unlike_torch_sgd():
    zero = tf.zeros((2, 2))
    lars_kernel = keras.Variable(W0.astype("float32"))
    LARS(learning_rate=0.5, weight_decay=0.1).apply([zero], [lars_kernel])
    np.testing.assert_array_equal(lars_kernel.numpy(), W0.astype("float32"))
    sgd_kernel = keras.Variable(W0.astype("float32"))
    TorchSGD(learning_rate=0.5, weight_decay=0.1).apply([zero], [sgd_kernel])
    np.testing.assert_allclose(sgd_kernel.numpy(), W0 * (1 - 0.05), rtol=1e-6)


def test_defaults_are_kaizens_and_bindings_stay_apart_from_torch_sgd():
    gin.parse_config("TorchSGD.momentum = 0.5")
    optimizer = LARS()
    assert (optimizer.eta, optimizer.clip_lr, optimizer.exclude_bias_n_norm) == (0.02, True, True)
    assert (optimizer.momentum, optimizer.coupled_weight_decay) == (0.9, 1e-5)
    assert float(optimizer.learning_rate) == 1.0
    restored = LARS.from_config(optimizer.get_config())
    assert (restored.eta, restored.momentum) == (0.02, 0.9)
