"""The dynamic loss scale: unscaled gradients reach the optimiser, a non-finite step is skipped
whole and halves the scale, finite steps grow it, and its state survives a checkpoint."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from continual.optim.loss_scale import DynamicLossScale
from continual.optim.sgd import TorchSGD


def _setup(initial_scale=8.0, growth_steps=3, momentum=0.9):
    weight = keras.Variable(np.array([1.0, 2.0], np.float32), name="w")
    optimizer = TorchSGD(learning_rate=0.5, momentum=momentum)
    optimizer.build([weight])
    scale = DynamicLossScale(initial_scale=initial_scale, growth_steps=growth_steps, enabled=True)
    return weight, optimizer, scale


def _step(weight, optimizer, scale, grads):
    """Apply `grads` as if they were gradients of the scaled loss."""
    scaled = [tf.constant(grads, tf.float32) * scale.scale]
    return scale.apply(scaled, lambda g: optimizer.apply_gradients(zip(g, [weight], strict=True)))


def test_the_optimiser_sees_unscaled_gradients():
    weight, optimizer, scale = _setup()
    assert float(scale.scale_loss(tf.constant(0.25))) == 2.0  # 0.25 * 8
    assert bool(_step(weight, optimizer, scale, [1.0, -2.0]))
    np.testing.assert_allclose(weight.numpy(), [1.0 - 0.5, 2.0 + 1.0])  # lr * g, g unscaled


def test_a_non_finite_step_is_skipped_whole_and_halves_the_scale():
    weight, optimizer, scale = _setup()
    _step(weight, optimizer, scale, [1.0, 1.0])
    before = [v.numpy().copy() for v in [weight, *optimizer.variables]]
    assert not bool(_step(weight, optimizer, scale, [np.inf, 1.0]))
    after = [v.numpy() for v in [weight, *optimizer.variables]]
    for old, new in zip(before, after, strict=True):  # weights, momentum, iterations unchanged
        np.testing.assert_array_equal(old, new)
    assert float(scale.scale) == 4.0
    assert int(scale.skipped_steps) == 1
    assert scale.report() == {"loss_scale": 4.0, "skipped_steps": 1}


def test_a_nan_step_is_skipped_too_and_the_scale_never_drops_below_one():
    weight, optimizer, scale = _setup(initial_scale=1.0)
    assert not bool(_step(weight, optimizer, scale, [np.nan, 0.0]))
    assert float(scale.scale) == 1.0 and int(scale.skipped_steps) == 1
    np.testing.assert_array_equal(weight.numpy(), [1.0, 2.0])


def test_the_scale_doubles_after_growth_steps_finite_steps_in_a_row():
    weight, optimizer, scale = _setup(growth_steps=3)
    seen = []
    for grads in ([1.0, 1.0], [1.0, 1.0], [np.inf, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]):
        _step(weight, optimizer, scale, grads)
        seen.append(float(scale.scale))
    # the overflow resets the count: growth only after three finite steps following it
    assert seen == [8.0, 8.0, 4.0, 4.0, 4.0, 8.0]


def test_scale_and_counters_are_restored_from_a_checkpoint(tmp_path):
    weight, optimizer, scale = _setup()
    _step(weight, optimizer, scale, [np.inf, 0.0])
    _step(weight, optimizer, scale, [1.0, 0.0])
    path = tf.train.Checkpoint(loss_scale=scale).save(str(tmp_path / "ckpt"))
    restored = DynamicLossScale(initial_scale=8.0, growth_steps=3, enabled=True)
    tf.train.Checkpoint(loss_scale=restored).restore(path).assert_existing_objects_matched()
    assert (float(restored.scale), int(restored.good_steps), int(restored.skipped_steps)) == \
        (4.0, 1, 1)


def test_disabled_outside_float16_the_loss_and_gradients_pass_unchanged():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        scale = DynamicLossScale()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert not scale.enabled and scale.report() == {}
    assert float(scale.scale_loss(tf.constant(3.0))) == 3.0
    received = []
    scale.apply([tf.constant([np.inf])], received.append)  # no skipping without scaling
    assert np.isinf(received[0][0].numpy()).all()


def test_mixed_float16_enables_it():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        assert DynamicLossScale().enabled
        assert float(DynamicLossScale().scale) == 2.0 ** 15
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("argument", [{"initial_scale": 0.5}, {"growth_steps": 0}])
def test_bad_settings_are_refused(argument):
    with pytest.raises(ValueError, match=next(iter(argument))):
        DynamicLossScale(enabled=True, **argument)
