"""The loop's per-epoch callback (used by StreamPlan.accuracy_rule = 'best_epoch'): once at
the end of each epoch of each phase, after that epoch's last step; again after a crash only for
epochs whose end the resumed run passes again."""

import pytest

from continual.loop.experience import ExperienceLoop, LoopState, run_experience
from continual.methods.base import Phase
from tests.loop.test_experience import Experience, Recorder, Table, run


class EpochRecorder(Recorder):
    """Notes (phase, epoch, steps trained so far) at each epoch end."""

    def epoch_end(self, phase_index, phase, epoch):
        self.calls.append(("epoch_end", phase_index, phase.kind, epoch, int(self.counter)))


def _run(method, tmp_path, experience, checkpoint_every=2):
    settings = ExperienceLoop(stream_batch_size=4, replay_batch_size=2,
                              checkpoint_every=checkpoint_every)
    return run_experience(method, experience, Table(), settings, seed=3, folder=tmp_path,
                          state=LoopState(), after_epoch=method.epoch_end)


def test_called_once_per_epoch_after_its_last_step(tmp_path):
    method = EpochRecorder([Phase("online"), Phase("offline", epochs=3)])
    _run(method, tmp_path, Experience(0, tuple(range(10))))
    # 10 rows in batches of 4: 3 steps per epoch; online 1 epoch, then 3 offline epochs
    assert [c for c in method.calls if c[0] == "epoch_end"] == [
        ("epoch_end", 0, "online", 0, 3), ("epoch_end", 1, "offline", 0, 6),
        ("epoch_end", 1, "offline", 1, 9), ("epoch_end", 1, "offline", 2, 12)]
    kinds = [c[0] for c in method.calls]
    assert kinds.index("epoch_end") < kinds.index("end_phase")   # before the phase's hook
    run(Recorder([Phase("online")]), tmp_path / "none", Experience(0, (0, 1)))  # optional


@pytest.mark.parametrize("checkpoint_every, ends", [
    (2, [0, 1, 2]),      # checkpoint at batch 4 = epoch 1's end: nothing repeated
    (3, [0, 1, 1, 2]),   # checkpoint at batch 3, mid epoch 1: its end is passed again
])
def test_a_resumed_run_repeats_only_the_epoch_ends_after_its_checkpoint(tmp_path,
                                                                       checkpoint_every, ends):
    experience = Experience(0, tuple(range(8)))                  # 2 steps per epoch
    crashed = EpochRecorder([Phase("offline", epochs=3)], crash_at=5)
    with pytest.raises(RuntimeError, match="killed"):
        _run(crashed, tmp_path, experience, checkpoint_every)
    resumed = EpochRecorder([Phase("offline", epochs=3)])
    _run(resumed, tmp_path, experience, checkpoint_every)
    assert [c[3] for c in crashed.calls + resumed.calls if c[0] == "epoch_end"] == ends
    assert int(resumed.counter) == 6                     # as many steps as without the kill
