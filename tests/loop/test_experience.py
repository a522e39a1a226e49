"""The experience loop: hook order, each hook once per experience (also across a crash and
resume), batches of each phase kind, replay only from a filled buffer, throughput counted."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from continual.loop.batches import phase_batches
from continual.loop.experience import ExperienceLoop, LoopState, run_experience
from continual.methods.base import Phase, StreamMethod
from continual.replay.buffers import EpisodicBuffer


class Table:
    """Rows i -> image filled with i, label i % 3."""

    num_classes = 3

    def gather(self, ids):
        ids = tf.convert_to_tensor(ids, tf.int64)
        images = tf.cast(tf.reshape(ids, [-1, 1, 1, 1]) * tf.ones([1, 2, 2, 1], tf.int64),
                         tf.uint8)
        return images, tf.cast(ids % 3, tf.int32)


@dataclasses.dataclass(frozen=True)
class Experience:
    index: int
    train_ids: tuple


class Recorder(StreamMethod):
    """Records hook calls and batches; crashes at a chosen train step on request."""

    uses_buffer = True

    def __init__(self, phases, crash_at=None):
        self._phases, self.crash_at, self.calls = phases, crash_at, []
        self.counter = tf.Variable(0, dtype=tf.int64)
        self.buffer = EpisodicBuffer(capacity=6, num_classes=3)

    def trackables(self):
        return {"counter": self.counter, "buffer": self.buffer}

    def phases(self, experience):
        return self._phases

    def train_step(self, batch, step):
        if self.crash_at is not None and int(step) == self.crash_at:
            raise RuntimeError("killed")
        self.counter.assign_add(1)
        replay = None if batch.replay_labels is None else len(batch.replay_labels)
        self.calls.append(("step", int(step), tuple(batch.ids.numpy()), replay, batch.epoch))
        return {"loss": tf.constant(0.0)}

    def after_step(self, batch, step, outputs):
        self.calls.append(("after_step", int(step)))
        if batch.first_sight:
            self.buffer.observe(batch.ids, batch.labels, step=step, seed=7)

    def begin_experience(self, experience, table):
        self.calls.append(("begin",))

    def end_phase(self, phase, experience, table):
        self.calls.append(("end_phase", phase.kind))

    def end_experience(self, experience, table):
        self.calls.append(("end_experience",))


def run(method, tmp_path, experience, state=None):
    settings = ExperienceLoop(stream_batch_size=4, replay_batch_size=2, checkpoint_every=1)
    return run_experience(method, experience, Table(), settings, seed=3, folder=tmp_path,
                          state=state or LoopState())


def test_hooks_run_in_order_once_and_replay_starts_after_the_buffer_fills(tmp_path):
    method = Recorder([Phase("online"), Phase("memory", epochs=2)])
    info = run(method, tmp_path, Experience(0, tuple(range(10))))
    kinds = [c[0] for c in method.calls]
    assert kinds[0] == "begin" and kinds[-1] == "end_experience"
    assert [c for c in method.calls if c[0] == "end_phase"] == [("end_phase", "online"),
                                                                ("end_phase", "memory")]
    steps = [c for c in method.calls if c[0] == "step"]
    online = steps[:3]  # 10 rows in stream order, batches of 4
    assert [s[2] for s in online] == [(0, 1, 2, 3), (4, 5, 6, 7), (8, 9)]
    assert [s[3] for s in online] == [None, 2, 2]  # no replay from an empty buffer
    memory = steps[3:]  # 6 buffered rows x 2 epochs, reshuffled, no replay batch added
    assert sorted(sum((s[2] for s in memory if s[4] == 0), ())) == sorted(
        method.buffer.stored_ids().tolist())
    assert all(s[3] is None for s in memory) and {s[4] for s in memory} == {0, 1}
    # Trained images (stream + replay), the first step of each phase excluded (it traces).
    assert info["global_step"] == len(steps) and info["images"] == (4 + 2 + 2 + 2) + (12 - 4)


def test_a_crash_and_resume_runs_each_hook_once_and_the_same_batches(tmp_path):
    experience = Experience(0, tuple(range(13)))
    reference = Recorder([Phase("offline", epochs=2)])
    run(reference, tmp_path / "ref", experience)

    crashed = Recorder([Phase("offline", epochs=2)], crash_at=5)
    with pytest.raises(RuntimeError, match="killed"):
        run(crashed, tmp_path / "cut", experience)
    resumed = Recorder([Phase("offline", epochs=2)])
    run(resumed, tmp_path / "cut", experience)
    calls = crashed.calls + resumed.calls
    assert [c for c in calls if c[0] == "begin"] == [("begin",)]
    assert [c for c in calls if c[0] in ("end_phase", "end_experience")] == [
        ("end_phase", "offline"), ("end_experience",)]
    assert [c for c in calls if c[0] == "step"] == [c for c in reference.calls if c[0] == "step"]
    assert int(resumed.counter) == int(reference.counter) == 8
    np.testing.assert_array_equal(resumed.buffer.stored_ids(), reference.buffer.stored_ids())


def test_offline_epochs_are_reshuffled_statelessly():
    phase = Phase("offline", epochs=2)
    first = phase_batches(phase, 0, np.arange(10), 4, seed=1, experience=2)
    again = phase_batches(phase, 0, np.arange(10), 4, seed=1, experience=2)
    assert [(e, b.tolist()) for e, b in first] == [(e, b.tolist()) for e, b in again]
    epochs = [np.concatenate([b for e, b in first if e == k]) for k in (0, 1)]
    assert all(sorted(x.tolist()) == list(range(10)) for x in epochs)
    assert epochs[0].tolist() != epochs[1].tolist()
    other = phase_batches(phase, 0, np.arange(10), 4, seed=2, experience=2)
    assert [b.tolist() for _, b in other] != [b.tolist() for _, b in first]


def test_a_drop_last_phase_trains_on_full_batches_only():
    """As a PyTorch loader with drop_last: 10 rows at batch 4 give 2 batches an epoch, not 3."""
    phase = Phase("offline", epochs=2, drop_last=True)
    batches = phase_batches(phase, 0, np.arange(10), 4, seed=1, experience=2)
    assert [(e, len(b)) for e, b in batches] == [(0, 4), (0, 4), (1, 4), (1, 4)]
    kept = phase_batches(Phase("offline", epochs=2), 0, np.arange(10), 4, seed=1, experience=2)
    assert [len(b) for _, b in kept] == [4, 4, 2, 4, 4, 2]
    with pytest.raises(ValueError, match="drop_last"):
        Phase("online", drop_last=True)


def test_loop_settings_are_checked():
    with pytest.raises(ValueError, match="ExperienceLoop.replay_batch_size"):
        ExperienceLoop(replay_batch_size=0)
    with pytest.raises(ValueError, match="phase kind"):
        Phase("streaming")
