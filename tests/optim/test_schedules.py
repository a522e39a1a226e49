"""Learning-rate schedules: values at chosen steps, computed by hand from the torch formulas."""

import math

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from continual.optim import TorchSGD, make_schedule
from continual.optim.schedules import (
    CosineDecay,
    CosineWarmRestarts,
    ExponentialDecay,
    MultiStepDecay,
    WarmupCosine,
)


def _values(schedule, steps):
    """The schedule at each step, evaluated on one tensor of steps."""
    return schedule(tf.constant(list(steps), tf.int64)).numpy().tolist()


def test_multistep_per_epoch():
    schedule = MultiStepDecay(0.05, milestones=[2, 4], gamma=0.1, steps_per_epoch=3)
    # epochs: steps 0-5 -> 0, 1; steps 6-11 -> 2, 3; step 12 -> 4
    assert _values(schedule, [0, 5, 6, 11, 12]) == pytest.approx(
        [0.05, 0.05, 0.005, 0.005, 0.0005])


def test_exponential_per_epoch():
    schedule = ExponentialDecay(0.05, gamma=1 / 1.1, steps_per_epoch=2)   # torch ExponentialLR
    assert _values(schedule, [0, 1, 2, 5]) == pytest.approx([0.05, 0.05, 0.05 / 1.1, 0.05 / 1.21])


def test_cosine_reaches_final_and_stays():
    schedule = CosineDecay(0.1, total=4, final_lr=0.01)
    expected = [0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * s / 4)) for s in (0, 1, 2, 4)]
    assert _values(schedule, [0, 1, 2, 4, 9]) == pytest.approx([*expected, 0.01])


def test_warmup_cosine_matches_pl_bolts_per_epoch():
    schedule = WarmupCosine(1.0, warmup=3, total=10, warmup_start_lr=0.003,
                            steps_per_epoch=2)
    slope = (1.0 - 0.003) / 2                  # base reached at epoch warmup - 1 = 2
    cos = [0.5 * (1 + math.cos(math.pi * k / 7)) for k in (0, 1, 6)]
    steps = [0, 1, 2, 4, 5, 6, 8, 18, 30]       # epochs 0, 0, 1, 2, 2, 3, 4, 9, >10
    expected = [0.003, 0.003, 0.003 + slope, 1.0, 1.0, cos[0], cos[1], cos[2], 0.0]
    assert _values(schedule, steps) == pytest.approx(expected, abs=1e-7)


def _torch_warm_restarts(base, t_0, t_mult, eta_min, epochs):
    """torch CosineAnnealingWarmRestarts.step() without an epoch argument, one call per epoch."""
    values, t_cur, t_i = [], 0, t_0
    for _ in range(epochs):
        values.append(eta_min + (base - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2)
        t_cur += 1
        if t_cur >= t_i:
            t_cur, t_i = t_cur - t_i, t_i * t_mult
    return values


@pytest.mark.parametrize("t_0, t_mult", [(1, 2), (3, 3), (4, 1)])
def test_warm_restarts_follow_torch_over_many_cycles(t_0, t_mult):
    schedule = CosineWarmRestarts(0.05, t_0=t_0, t_mult=t_mult, eta_min=5e-4)
    expected = _torch_warm_restarts(0.05, t_0, t_mult, 5e-4, 300)
    np.testing.assert_allclose(_values(schedule, range(300)), expected, rtol=1e-5)


def test_rainbow_memory_warm_start():
    schedule = CosineWarmRestarts(0.05, t_0=1, t_mult=2, eta_min=5e-4, warm_start_factor=0.1,
                                  steps_per_epoch=10)
    mid = 5e-4 + (0.05 - 5e-4) * 0.5                     # half-way in the 2-epoch cycle
    # epoch 0: 0.1 lr; epoch 1: lr; then scheduler.step() -> restarts at 1, 2, 3 = lr, mid, lr
    assert _values(schedule, [0, 9, 10, 20, 30, 40]) == pytest.approx(
        [0.005, 0.005, 0.05, 0.05, mid, 0.05])


def test_schedule_drives_an_optimizer_inside_tf_function():
    variable = keras.Variable(np.zeros(1, "float32"))
    optimizer = TorchSGD(learning_rate=MultiStepDecay(1.0, milestones=[1, 2], gamma=0.5))

    @tf.function
    def step():
        optimizer.apply([tf.ones(1)], [variable])

    for _ in range(3):
        step()
    np.testing.assert_allclose(variable.numpy(), [-(1.0 + 0.5 + 0.25)])


def test_serialisation_round_trip():
    schedule = CosineWarmRestarts(0.05, t_0=1, t_mult=2, eta_min=5e-4, warm_start_factor=0.1)
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule))
    assert isinstance(restored, CosineWarmRestarts)
    assert _values(restored, range(6)) == pytest.approx(_values(schedule, range(6)))


def test_make_schedule_from_gin_bindings():
    gin.parse_config("make_schedule.name = 'multistep'\nmake_schedule.gamma = 0.5")
    schedule = make_schedule(base_lr=1.0, milestones=[1])
    assert _values(schedule, [0, 1]) == pytest.approx([1.0, 0.5])


def test_make_schedule_constant_and_errors():
    assert make_schedule("constant", base_lr=0.1) == 0.1
    with pytest.raises(ValueError, match=r"'cosin' is not a schedule; registered: \['constant'"):
        make_schedule("cosin", base_lr=0.1)
    with pytest.raises(ValueError, match=r"warmup must be in \[0, total=5\)"):
        make_schedule("warmup_cosine", base_lr=0.1, warmup=5, total=5)
