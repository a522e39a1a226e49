"""The loop and the evaluation hand their batches to a table read from shards ahead of time:
every stream batch comes from the read-ahead pipeline, only replay rows are read on the spot."""

from types import SimpleNamespace

import gin
import numpy as np
import pytest

from continual.data.scenarios import iid
from continual.data.shard_table import ShardTable
from continual.data.shards import open_record_set
from continual.data.synthetic_stream import generate_stream_set
from continual.loop.evaluation import predict_logits
from continual.loop.experience import ExperienceLoop, LoopState, run_experience
from continual.methods.baselines import ExperienceReplay, FineTuning
from continual.plans.stream_stages import make_method
from continual.replay.buffers import EpisodicBuffer


@pytest.fixture(scope="module")
def stream_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    generate_stream_set(folder, num_classes=4, size=12, train_per_class=10, test_per_class=2)
    return open_record_set(folder, "train"), open_record_set(folder, "test")


def counting(table: ShardTable) -> list:
    """Replace the table's on-the-spot reader by one that records each call's row count."""
    calls, read = [], table._read_now

    def read_now(ids):
        calls.append(int(np.size(ids)))
        return read(ids)
    table._read_now = read_now
    return calls


@pytest.mark.parametrize("method_cls", [FineTuning, ExperienceReplay])
def test_stream_batches_come_from_the_read_ahead(stream_set, tmp_path, method_cls):
    train, test = stream_set
    gin.parse_config(["build_classifier.name = 'tiny_convnet'", "EpisodicBuffer.capacity = 8",
                      "FineTuning.epochs = 2", "ExperienceReplay.epochs = 2",
                      "ExperienceLoop.stream_batch_size = 8",
                      "ExperienceLoop.replay_batch_size = 4"])
    plan = SimpleNamespace(method_cls=method_cls, method_name=method_cls.name,
                           buffer_cls=EpisodicBuffer if method_cls.uses_buffer else None)
    method = make_method(plan, train.image_shape, train.num_classes, seed=0)
    table = ShardTable(train)
    calls = counting(table)
    experience = iid(train, test, 0, num_tasks=1).experiences[0]
    info = run_experience(method, experience, table, ExperienceLoop(), 0, tmp_path, LoopState())
    assert info["global_step"] == 10 and not table._expected  # 2 epochs of 5 batches, all served
    replayed = [4] * 9 if method_cls.uses_buffer else []  # every step after the first replays
    assert calls == replayed


def test_the_evaluation_reads_ahead(stream_set):
    train, _ = stream_set
    table = ShardTable(train)
    calls = counting(table)
    logits = predict_logits(lambda images: np.asarray(images, np.float32).mean(axis=(1, 2)),
                            table, np.arange(40)[::-1], batch_size=16)
    assert logits.shape == (40, 3) and calls == []
