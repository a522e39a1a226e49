"""Kaizen's MoCo v2+ and VICReg: their losses and distillers against values computed by hand or
by an independent numpy formula, MoCo's queue (FIFO with wrap-around, checkpointed), one short
training step per SSL method, and bad SSL bindings refused with the binding's name."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

import continual.optim.lars  # noqa: F401  (registers LARS with gin)
from continual.methods.kaizen import Kaizen, losses
from continual.methods.kaizen.moco import NegativeQueue
from continual.methods.kaizen.ssl import SSL_METHODS, build_projector, resolve_ssl, ssl_loss
from tests.methods.test_kaizen import SMALL, Task, batch, built, values


def t(rows):
    return tf.constant(rows, tf.float32)


def test_moco_loss_puts_the_key_first_among_the_queue_negatives():
    # q = k = (1, 0); negatives (0, 1) and (-1, 0) at tau 0.5: logits 2, 0, -2, target the first
    got = losses.moco_loss(t([[2, 0]]), t([[5, 0]]), t([[0, 1], [-1, 0]]), temperature=0.5)
    assert float(got) == pytest.approx(-math.log(math.e**2 / (math.e**2 + 1 + math.e**-2)))


def test_moco_ssl_loss_pairs_each_view_with_the_other_views_key_and_queue():
    queue = NegativeQueue(queue_size=2, dim=2, seed=0)
    queue.keys.assign(t([[[1, 0], [1, 0]], [[0, 1], [0, 1]]]))  # view 1's keys, view 2's keys
    online, targets = {"z1": t([[1, 0]]), "z2": t([[0, 1]])}, {"z1": t([[0, 1]]), "z2": t([[1, 0]])}
    got = ssl_loss(SSL_METHODS["mocov2plus"], online, targets, {"moco_temperature": 1.0}, queue)
    # z1 . k2 = 1 against view 2's queue (dots 0, 0); z2 . k1 = 1 against view 1's (0, 0)
    assert float(got) == pytest.approx(math.log(1 + 2 / math.e), rel=1e-6)


def test_vicreg_terms_by_hand():
    z1 = t([[0, 0], [2, 2]])   # per-dimension variance 2 (n - 1), covariance 2 off the diagonal
    z2 = t([[0, 0], [0, 0]])   # variance 0: std sqrt(1e-4) = 0.01
    assert float(losses.invariance_loss(z1, z2)) == pytest.approx(2.0)      # (0 + 0 + 4 + 4) / 4
    assert float(losses.variance_loss(z1, z2)) == pytest.approx(0.99, rel=1e-6)
    assert float(losses.covariance_loss(z1, z2)) == pytest.approx(4.0)      # (4 + 4) / 2
    assert float(losses.vicreg_loss(z1, z2, 25.0, 25.0, 1.0)) == pytest.approx(
        25 * 2.0 + 25 * 0.99 + 4.0, rel=1e-6)


def test_vicreg_loss_matches_an_independent_numpy_formula():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(6, 4)), rng.normal(scale=0.5, size=(6, 4))

    def var_term(z):
        return np.mean(np.maximum(0.0, 1.0 - np.sqrt(z.var(axis=0, ddof=1) + 1e-4)))

    def cov_term(z):
        cov = np.cov(z, rowvar=False)
        return (np.sum(cov**2) - np.sum(np.diag(cov) ** 2)) / z.shape[1]

    want = (25 * np.mean((a - b) ** 2) + 25 * (var_term(a) + var_term(b))
            + 1 * (cov_term(a) + cov_term(b)))
    got = losses.vicreg_loss(t(a), t(b), 25.0, 25.0, 1.0)
    assert float(got) == pytest.approx(want, rel=1e-5)


def test_predictive_mse_distill_averages_the_views_and_spares_the_teacher():
    h1, h2 = tf.Variable([[1.0, 0.0]]), tf.Variable([[0.0, 0.0]])
    old1, old2 = tf.Variable([[3.0, 0.0]]), tf.Variable([[0.0, 2.0]])
    with tf.GradientTape() as tape:
        got = losses.predictive_mse_distill_loss(h1, h2, old1, old2)
    assert float(got) == pytest.approx(0.5 * (4.0 / 2 + 4.0 / 2))
    grads = tape.gradient(got, [h1, old1])
    assert grads[0] is not None and grads[1] is None


def test_queue_writes_fifo_with_wrap_around_and_restores_from_a_checkpoint(tmp_path):
    queue = NegativeQueue(queue_size=5, dim=2, seed=1)
    np.testing.assert_allclose(np.linalg.norm(queue.keys.numpy(), axis=2), 1.0, rtol=1e-6)
    start = queue.keys.numpy().copy()
    queue.enqueue(t([[3, 0]] * 3), t([[0, 4]] * 3))
    assert int(queue.pointer) == 3
    np.testing.assert_allclose(queue.keys.numpy()[:, :3], [[[1, 0]] * 3, [[0, 1]] * 3])
    np.testing.assert_array_equal(queue.keys.numpy()[:, 3:], start[:, 3:])   # untouched
    queue.enqueue(t([[0, -2]] * 3), t([[-1, 0]] * 3))   # slots 3, 4, then 0 (oldest out)
    assert int(queue.pointer) == 1
    keys = queue.keys.numpy()
    np.testing.assert_allclose(keys[0], [[0, -1], [1, 0], [1, 0], [0, -1], [0, -1]])
    np.testing.assert_allclose(keys[1], [[-1, 0], [0, 1], [0, 1], [-1, 0], [-1, 0]])
    prefix = tf.train.Checkpoint(queue=queue).write(str(tmp_path / "queue"))
    resumed = NegativeQueue(queue_size=5, dim=2, seed=9)
    tf.train.Checkpoint(queue=resumed).read(prefix).assert_consumed()
    np.testing.assert_array_equal(resumed.keys.numpy(), keys)
    assert int(resumed.pointer) == 1


@pytest.fixture
def compiled(request):
    """Eager steps by default (tracing the step takes ~10 s a graph on 2 cores); the slow
    variant runs the compiled step (the queue's writes inside the graph)."""
    tf.config.run_functions_eagerly(not request.param)
    yield request.param
    tf.config.run_functions_eagerly(False)


# BYOL and SimCLR steps: tests/methods/test_kaizen.py
@pytest.mark.parametrize("ssl_method, compiled", [
    ("mocov2plus", False), ("vicreg", False),
    pytest.param("mocov2plus", True, marks=pytest.mark.slow)], indirect=["compiled"])
def test_a_training_step_per_ssl_method_trains_and_distils(ssl_method, compiled, tmp_path):
    method = built(ssl_method=ssl_method, queue_size=12)
    assert (method.queue is not None) == (ssl_method == "mocov2plus")
    method.begin_experience(Task(0), None)
    encoder = values(method.encoder.trainable_variables)
    first = method.train_step(batch(), tf.constant(0, tf.int64))
    assert float(first["ssl"]) > 0 and "feature_distill" not in first
    assert any(not np.allclose(b, a) for b, a in
               zip(encoder, values(method.encoder.trainable_variables), strict=True))
    if method.queue is not None:
        keys = method.queue.keys.numpy()   # the momentum branch's keys, normalised, per view
        assert int(method.queue.pointer) == 4 and "moco_queue" in method.trackables()
        np.testing.assert_allclose(np.linalg.norm(keys[:, :4], axis=2), 1.0, rtol=1e-5)
        assert not np.allclose(keys[0, :4], keys[1, :4])
        saved = tf.train.Checkpoint(**method.trackables()).write(str(tmp_path / "state"))
        resumed = built(ssl_method=ssl_method, queue_size=12)
        tf.train.Checkpoint(**resumed.trackables()).read(saved).assert_consumed()
        np.testing.assert_array_equal(resumed.queue.keys.numpy(), keys)   # a resumed run's
        assert int(resumed.queue.pointer) == 4                            # queue, unchanged
    method.begin_experience(Task(1), None)
    second = method.train_step(batch(1), tf.constant(1, tf.int64))
    assert "feature_distill" in second and np.isfinite(float(second["loss"]))
    if method.queue is not None:
        assert int(method.queue.pointer) == 8                 # two steps of 4 rows


def test_vicreg_projector_has_two_hidden_layers_and_each_method_its_distiller():
    names = [layer.name for layer in build_projector(SSL_METHODS["vicreg"], 8, SMALL, 0,
                                                     "p").layers]
    assert [n for n in names if "_bn" in n] == ["p_bn0", "p_bn1"]
    names = [layer.name for layer in build_projector(SSL_METHODS["mocov2plus"], 8, SMALL, 0,
                                                     "p").layers]
    assert [n for n in names if "_fc" in n] == ["p_fc0", "p_fc1"] and "p_bn0" not in names

    def distiller(**bound):
        return resolve_ssl({"ssl_method": "vicreg", "distiller": None, **bound}).distiller
    assert distiller() == "predictive_mse"
    assert distiller(ssl_method="mocov2plus") == "contrastive"
    assert distiller(distiller="predictive") == "predictive"


@pytest.mark.parametrize("binding, message", [
    ({"ssl_method": "swav"}, "Kaizen.ssl_method"),
    ({"distiller": "decorrelative"}, "Kaizen.distiller"),
    ({"queue_size": 0}, "Kaizen.queue_size"),
    ({"moco_temperature": 0.0}, "Kaizen.moco_temperature"),
    ({"vicreg_variance_weight": -1.0}, "Kaizen.vicreg_variance_weight"),
])
def test_bad_ssl_settings_name_their_binding(binding, message):
    with pytest.raises(ValueError, match=message):
        Kaizen(**{**SMALL, **binding})


def test_a_queue_smaller_than_the_batch_is_refused_naming_the_binding():
    method = built(ssl_method="mocov2plus", queue_size=5)
    stream = SimpleNamespace(experiences=())
    with pytest.raises(ValueError, match=r"Kaizen.queue_size = 5 is smaller than a batch of 8"):
        method.check_stream(stream, SimpleNamespace(stream_batch_size=8, replay_batch_size=2))
    method.check_stream(stream, SimpleNamespace(stream_batch_size=5, replay_batch_size=2))
