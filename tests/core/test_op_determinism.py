"""TensorFlow's op determinism switch is process-wide: each experiment sets it as its own
`TrainManager.deterministic` says (default: on for stream plans) and puts it back afterwards,
so no experiment inherits what an earlier one in the process set (issue 20 item 5)."""

import pytest
from tensorflow.python.framework import config as tf_config

import main
import training
from tests.core.history_runs import slice_args


@pytest.fixture
def switch_during_stages(monkeypatch):
    """The op determinism switch as each stage found it, and the switch restored after."""
    seen = []
    run_stage = training.stages.run_stage

    def recording(ctx, plan_step, folder):
        seen.append(tf_config.is_op_determinism_enabled())
        return run_stage(ctx, plan_step, folder)

    monkeypatch.setattr(training.stages, "run_stage", recording)
    before = tf_config.is_op_determinism_enabled()
    yield seen
    training.switch_op_determinism(before)  # as before the test, whatever it left


def test_a_stream_experiment_trains_with_op_determinism_and_restores_the_switch(
        tmp_path, switch_during_stages):
    tf_config.disable_op_determinism()
    assert main.main(slice_args("baselines", tmp_path, only=("FINETUNE",))) == 0
    assert switch_during_stages and all(switch_during_stages), switch_during_stages
    assert not tf_config.is_op_determinism_enabled()


def test_an_experiment_does_not_inherit_the_switch_an_earlier_one_left_on(
        tmp_path, switch_during_stages):
    training.switch_op_determinism(True)  # as an earlier deterministic experiment left it
    args = slice_args("baselines", tmp_path, "TrainManager.deterministic = False",
                      only=("FINETUNE",))
    assert main.main(args) == 0
    assert switch_during_stages and not any(switch_during_stages), switch_during_stages
    assert tf_config.is_op_determinism_enabled()
