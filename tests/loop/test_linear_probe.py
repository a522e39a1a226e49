"""The linear probe under mixed_float16: its step goes through the dynamic loss scale, equals
the float32 probe bit for bit on finite features, and skips a batch of overflowed features
instead of turning the head into NaN."""

import keras
import numpy as np
import pytest

from continual.loop.linear_probe import LinearProbe, train_linear_probe


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def _data(inf_row: int | None = None):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 24)
    features = (rng.normal(size=(24, 6)) + 2.0 * np.eye(3, 6)[labels]).astype(np.float32)
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    if inf_row is not None:
        features[inf_row, 0] = np.inf   # a float16 backbone overflowed on this image
    return features, labels


PROBE = LinearProbe(learning_rate=30.0, epochs=10, batch_size=8, trust=0.01)


def _weights(head) -> list[np.ndarray]:
    return [w.numpy() for w in head.weights]


def test_under_mixed_float16_the_probe_equals_the_float32_probe(mixed_float16):
    features, labels = _data()
    scaled = train_linear_probe(features, labels, 3, PROBE, seed=4)
    assert scaled.skipped_steps == 0
    keras.mixed_precision.set_global_policy("float32")
    plain = train_linear_probe(features, labels, 3, PROBE, seed=4)
    for got, want in zip(_weights(scaled), _weights(plain), strict=True):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    accuracy = (np.argmax(features @ _weights(plain)[0] + _weights(plain)[1], 1) == labels)
    assert accuracy.mean() > 0.8   # it learnt something: the comparison is not of two no-ops


def test_an_overflowed_batch_is_skipped_under_mixed_float16_only(mixed_float16):
    features, labels = _data(inf_row=5)
    head = train_linear_probe(features, labels, 3, PROBE, seed=4)
    assert head.skipped_steps == 10         # the batch holding row 5, once per epoch
    assert all(np.isfinite(w).all() for w in _weights(head))
    keras.mixed_precision.set_global_policy("float32")
    head = train_linear_probe(features, labels, 3, PROBE, seed=4)
    assert not all(np.isfinite(w).all() for w in _weights(head))
