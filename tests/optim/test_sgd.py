"""TorchSGD against torch.optim.SGD's update written out by hand in numpy."""

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from continual.optim import TorchSGD

P0 = np.array([1.0, -2.0, 0.5])
G1 = np.array([0.5, 1.0, -1.0])
G2 = np.array([0.1, -0.3, 0.2])


def _run(optimizer, grads, lrs=None):
    """Apply `grads` one step each (setting the lr before each step when given)."""
    variable = keras.Variable(P0.astype("float32"))
    for step, grad in enumerate(grads):
        if lrs is not None:
            optimizer.learning_rate = lrs[step]
        optimizer.apply([tf.constant(grad, tf.float32)], [variable])
    return variable.numpy()


def test_coupled_weight_decay_passes_through_momentum():
    lr, mu, wd = 0.1, 0.9, 0.05
    b1 = G1 + wd * P0
    p1 = P0 - lr * b1
    b2 = mu * b1 + (G2 + wd * p1)
    p2 = p1 - lr * b2
    ours = _run(TorchSGD(learning_rate=lr, momentum=mu, weight_decay=wd), [G1, G2])
    np.testing.assert_allclose(ours, p2, rtol=1e-6)
    # Keras decays p directly (decoupled), so the decay never enters the momentum.
    decoupled = _run(keras.optimizers.SGD(learning_rate=lr, momentum=mu, weight_decay=wd),
                     [G1, G2])
    assert np.abs(decoupled - p2).max() > 1e-3


def test_momentum_keeps_lr_outside_the_buffer_when_lr_changes():
    mu, lrs = 0.9, [0.1, 0.5, 0.2]
    grads = [G1, G2, G1]
    # torch: b1 = g1; b_t = mu b_{t-1} + g_t; p_t = p_{t-1} - lr_t b_t
    b1 = G1
    b2 = mu * b1 + G2
    b3 = mu * b2 + G1
    torch_p = P0 - lrs[0] * b1 - lrs[1] * b2 - lrs[2] * b3
    ours = _run(TorchSGD(learning_rate=lrs[0], momentum=mu), grads, lrs)
    np.testing.assert_allclose(ours, torch_p, rtol=1e-6)
    # Keras: m_t = mu m_{t-1} - lr_t g_t, so past gradients keep their old lr.
    m1 = -lrs[0] * G1
    m2 = mu * m1 - lrs[1] * G2
    m3 = mu * m2 - lrs[2] * G1
    keras_p = _run(keras.optimizers.SGD(learning_rate=lrs[0], momentum=mu), grads, lrs)
    np.testing.assert_allclose(keras_p, P0 + m1 + m2 + m3, rtol=1e-6)
    assert np.abs(keras_p - torch_p).max() > 0.1


def test_nesterov_with_weight_decay():
    lr, mu, wd = 0.05, 0.9, 1e-2
    g1 = G1 + wd * P0
    b1 = g1
    p1 = P0 - lr * (g1 + mu * b1)
    g2 = G2 + wd * p1
    b2 = mu * b1 + g2
    p2 = p1 - lr * (g2 + mu * b2)
    ours = _run(TorchSGD(learning_rate=lr, momentum=mu, nesterov=True, weight_decay=wd),
                [G1, G2])
    np.testing.assert_allclose(ours, p2, rtol=1e-6)


def test_dampening_starts_the_buffer_at_the_first_gradient():
    lr, mu, damp = 0.1, 0.9, 0.5
    b1 = G1                             # torch clones g on the first step, no dampening
    b2 = mu * b1 + (1 - damp) * G2
    ours = _run(TorchSGD(learning_rate=lr, momentum=mu, dampening=damp), [G1, G2])
    np.testing.assert_allclose(ours, P0 - lr * b1 - lr * b2, rtol=1e-6)


def test_compiled_step_matches_eager_values():
    lr, mu = 0.1, 0.9
    variable = keras.Variable(P0.astype("float32"))
    optimizer = TorchSGD(learning_rate=lr, momentum=mu)

    @tf.function
    def step(grad):
        optimizer.apply([grad], [variable])

    step(tf.constant(G1, tf.float32))
    step(tf.constant(G2, tf.float32))
    np.testing.assert_allclose(variable.numpy(), P0 - lr * G1 - lr * (mu * G1 + G2), rtol=1e-6)


def test_bad_settings_name_the_binding():
    with pytest.raises(ValueError, match=r"TorchSGD.nesterov = True needs momentum > 0"):
        TorchSGD(nesterov=True)
    with pytest.raises(ValueError, match=r"TorchSGD.weight_decay must be >= 0"):
        TorchSGD(weight_decay=-1.0)


def test_config_round_trip_and_gin_binding():
    gin.parse_config("TorchSGD.momentum = 0.9\nTorchSGD.weight_decay = 1e-4")
    optimizer = TorchSGD(learning_rate=0.05)
    config = optimizer.get_config()
    assert (config["momentum"], config["weight_decay"]) == (0.9, 1e-4)
    restored = TorchSGD.from_config(config)
    assert (restored.momentum, restored.coupled_weight_decay) == (0.9, 1e-4)
    assert restored.weight_decay is None    # Keras' decoupled decay stays off
