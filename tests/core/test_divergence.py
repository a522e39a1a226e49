"""Divergence is an error (issue 20, item 6): a non-finite loss stops the stage at its step
with `error: ... diverged at experience E, step S`, exit 2, and nothing trained is marked
complete; a checkpoint holding a NaN is never marked complete, whatever the stage kind."""

import numpy as np
import pytest
import tensorflow as tf

import main
from continual.divergence import DivergedError, check_finite_outputs, check_finite_state
from tests.core.test_stream_run import stream_args


def error_line(stderr: str) -> str:
    """The `error: ...` line (the log's lines come before it on stderr)."""
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_an_infinite_learning_rate_is_refused_before_training(tmp_path, capsys):
    args = stream_args(tmp_path, "TorchSGD.learning_rate = 1e999", only="FINETUNE")
    assert main.main(args) == 2
    err = error_line(capsys.readouterr().err)
    assert "TorchSGD.learning_rate must be a finite" in err, err
    assert not list((tmp_path / "ckpt").rglob("COMPLETE.json"))


def test_a_huge_learning_rate_ends_in_exit_2_with_nothing_trained_complete(tmp_path, capsys):
    args = stream_args(tmp_path, "TorchSGD.learning_rate = 1e30", only="FINETUNE")
    assert main.main(args) == 2
    out = capsys.readouterr().err
    err = error_line(out)
    assert "diverged at experience 0, step " in err and "(loss nan)" in err, err
    assert "lower the learning rate" in err and "Traceback" not in out
    complete = sorted(p.parent.parent.name for p in (tmp_path / "ckpt").rglob("COMPLETE.json"))
    assert "stream_experience" not in complete  # the initial state and its evaluation only
    assert set(complete) <= {"stream_init", "stream_evaluation"}


def test_a_checkpoint_holding_nan_is_refused(tmp_path):
    good = tf.train.Checkpoint(w=tf.Variable([1.0, 2.0]), step=tf.Variable(3, tf.int64))
    good.write(str(tmp_path / "good" / "state"))
    check_finite_state(tmp_path / "good", "stage")  # finite: accepted
    bad = tf.train.Checkpoint(w=tf.Variable([1.0, np.nan]))
    bad.write(str(tmp_path / "bad" / "state" / "state"))
    with pytest.raises(DivergedError, match=r"holds non-finite values in 1 variables"):
        check_finite_state(tmp_path / "bad", "exp0 (stream_experience)")


def test_a_step_the_loss_scale_skipped_is_not_divergence():
    check_finite_outputs({"loss": float("inf")}, "experience 0, step 3", skipped=True)
    with pytest.raises(DivergedError, match=r"diverged at experience 0, step 3 \(loss inf\)"):
        check_finite_outputs({"loss": float("inf")}, "experience 0, step 3")
