"""What a stream phase shows and records (issue 23): a bar per phase with epoch, loss, lr and
images/s, the scalars every `log_every` global steps, and a clear error for a train step that
returns a non-scalar."""

import keras
import pytest
import tensorflow as tf

from continual.loop.experience import ExperienceLoop, LoopState, run_experience
from continual.methods.base import Phase, StreamMethod
from tests.loop.test_experience import Experience, Table


class Stepper(StreamMethod):
    """Two offline epochs; a learning rate from a Keras optimiser; a chosen loss shape."""

    def __init__(self, loss_shape=()):
        self.loss_shape = loss_shape
        self.optimizer = keras.optimizers.SGD(learning_rate=0.25)
        self.counter = tf.Variable(0, dtype=tf.int64)

    def trackables(self):
        return {"counter": self.counter, "optimizer": self.optimizer}

    def phases(self, experience):
        return [Phase("offline", epochs=2)]

    def train_step(self, batch, step):
        self.counter.assign_add(1)
        return {"loss": tf.fill(self.loss_shape, 1.5), "term": tf.constant(0.5)}


def _run(method, tmp_path, log_every=2):
    recorded = []
    run_experience(method, Experience(0, tuple(range(12))), Table(),
                   ExperienceLoop(stream_batch_size=4), seed=1, folder=tmp_path,
                   state=LoopState(), log_scalars=lambda step, v: recorded.append((step, v)),
                   log_every=log_every)
    return recorded


def test_a_phase_shows_a_bar_and_records_scalars_every_log_every_steps(tmp_path, capsys):
    recorded = _run(Stepper(), tmp_path)
    assert [step for step, _ in recorded] == [2, 4, 6]  # 2 epochs x 3 batches
    step, values = recorded[-1]
    assert values["loss"] == 1.5 and values["term"] == 0.5 and values["lr"] == 0.25
    assert values["images_per_sec"] > 0
    bar = capsys.readouterr().err
    assert "exp 0 phase 1/1 offline" in bar
    assert "epoch=2/2" in bar and "loss=1.5" in bar and "lr=0.25" in bar and "img/s=" in bar


def test_a_train_step_that_returns_a_non_scalar_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"Stepper.train_step returned 'loss' with shape "
                                         r"\(4,\); a train step returns scalars only"):
        _run(Stepper(loss_shape=(4,)), tmp_path)


def test_a_phase_shorter_than_the_interval_still_records_its_last_step(tmp_path):
    """Six steps in all, an interval of 20: the phase's last step is recorded all the same, so
    a short experience leaves a training curve."""
    recorded = _run(Stepper(), tmp_path, log_every=20)
    assert [step for step, _ in recorded] == [6]
