"""RM's baselines train in the original's `Finetune.train` loop (issue 22 item 4): one shuffled
loader over the task's stream ∪ the memory at batch 16 (no separate replay batch), then
memory-only epochs at batch 16, the last partial batch dropped; a reservoir memory is offered
the stream after the pass. RM itself keeps its 8 + 8 online batches."""

import gin
import pytest

from continual.loop.experience import ExperienceLoop, LoopState, run_experience
from continual.methods.base import Phase
from continual.methods.rainbow_memory import RainbowMemory
from continual.methods.rainbow_memory.ewc import EWC
from continual.methods.rainbow_memory.gdumb import GDumb
from continual.methods.rainbow_memory.icarl import ICaRL
from continual.replay.buffers import EpisodicBuffer
from tests.methods.test_rainbow_memory import Experience, Table


class RecordingEWC(EWC):
    """EWC that notes each train step's phase, rows, replay rows and memory size."""

    def train_step(self, batch, step):
        self.steps.append({"phase": batch.phase, "epoch": batch.epoch,
                           "ids": batch.ids.numpy().tolist(),
                           "replay": batch.replay_images is not None,
                           "memory": sorted(self.buffer.stored_ids().tolist())})
        return super().train_step(batch, step)


def _ewc() -> RecordingEWC:
    gin.bind_parameter("build_classifier.name", "mlp")
    gin.bind_parameter("mlp_backbone.hidden_units", (16,))
    gin.bind_parameter("TorchSGD.learning_rate", 0.05)
    method = RecordingEWC(memory_epochs=2, reg_coef=1.0)
    method.build((8, 8, 3), 4, EpisodicBuffer(capacity=20, policy="reservoir", num_classes=4),
                 seed=1)
    method.steps = []
    return method


def test_baselines_train_on_one_loader_over_stream_and_memory_at_batch_16(tmp_path):
    method, table = _ewc(), Table()
    loop = ExperienceLoop(stream_batch_size=8, replay_batch_size=8)
    first = Experience(0, tuple(range(0, 40)), (0, 1, 2, 3))
    run_experience(method, first, table, loop, 3, tmp_path / "exp0", LoopState())
    memory = sorted(method.buffer.stored_ids().tolist())
    assert len(memory) == 20 and set(memory) <= set(range(40))  # offered after the pass
    assert [s["phase"] for s in method.steps] == ["mixed"] * 2 + ["memory"] * 2
    method.steps = []
    second = Experience(1, tuple(range(100, 140)), (0, 1, 2, 3))
    run_experience(method, second, table, loop, 3, tmp_path / "exp1", LoopState())
    mixed = [s for s in method.steps if s["phase"] == "mixed"]
    # (40 stream + 20 memory) // 16 = 3 full batches; 12 rows dropped; no replay batch
    assert len(mixed) == 3 and all(len(s["ids"]) == 16 and not s["replay"] for s in mixed)
    rows = [i for s in mixed for i in s["ids"]]
    assert len(set(rows)) == 48 and set(rows) <= set(range(100, 140)) | set(memory)
    assert set(rows) & set(memory) and set(rows) & set(range(100, 140))
    assert all(s["memory"] == memory for s in mixed)   # the memory holds still in the pass
    # memory-only epochs at 16, last partial batch dropped: 20 // 16 = 1 batch per epoch
    memory_steps = [s for s in method.steps if s["phase"] == "memory"]
    assert [(s["epoch"], len(s["ids"])) for s in memory_steps] == [(0, 16), (1, 16)]
    assert set(memory_steps[0]["ids"]) <= set(memory_steps[0]["memory"])
    assert memory_steps[0]["memory"] != memory           # the stream was offered after it


@pytest.mark.parametrize("cls, extra", [(ICaRL, {}), (EWC, {"reg_coef": 1.0})])
def test_baseline_phases_online_and_offline(cls, extra):
    online = cls(memory_epochs=3, **extra)
    assert online.phases(None) == [Phase("mixed", 1, 16, drop_last=True),
                                   Phase("memory", 3, 16, drop_last=True)]
    offline = cls(stream="offline", offline_epochs=4, batch_size=32, **extra)
    assert offline.phases(None) == [Phase("mixed", 4, 32, drop_last=True)]


def test_gdumb_trains_its_memory_at_batch_16_and_rm_keeps_its_own_loop():
    assert GDumb(memory_epochs=2).phases(None) == [
        Phase("online"), Phase("memory", 2, 16, drop_last=True)]
    assert RainbowMemory(memory_epochs=2).phases(None) == [Phase("online"),
                                                           Phase("memory", 2)]
