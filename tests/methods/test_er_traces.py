"""ER's train step traces once: the batch grows from stream rows to stream + replay rows when
the buffer first holds items (and an epoch's last batch is smaller), and neither retraces, so
the loop's images/s never times a trace after a phase's first step."""

from types import SimpleNamespace

import gin

from continual.data.image_table import ImageTable
from continual.data.scenarios import iid
from continual.data.shards import open_record_set
from continual.data.synthetic_stream import generate_stream_set
from continual.loop.experience import ExperienceLoop, LoopState, run_experience
from continual.methods.baselines import ExperienceReplay
from continual.plans.stream_stages import make_method
from continual.replay.buffers import EpisodicBuffer


def test_er_step_traces_once_when_replay_starts_and_a_batch_is_short(tmp_path):
    generate_stream_set(tmp_path / "data", num_classes=4, size=12, train_per_class=9,
                        test_per_class=1)
    train, test = (open_record_set(tmp_path / "data", s) for s in ("train", "test"))
    table = ImageTable(train)
    experience = iid(train, test, 0, num_tasks=1).experiences[0]   # 36 rows: 4 x 8 + 4
    gin.parse_config(["build_classifier.name = 'tiny_convnet'", "EpisodicBuffer.capacity = 16",
                      "ExperienceLoop.stream_batch_size = 8",
                      "ExperienceLoop.replay_batch_size = 8"])
    plan = SimpleNamespace(method_cls=ExperienceReplay, method_name="er",
                           buffer_cls=EpisodicBuffer)
    method = make_method(plan, table.image_shape, table.num_classes, seed=0)
    info = run_experience(method, experience, table, ExperienceLoop(), 0, tmp_path / "run",
                          LoopState())
    assert info["global_step"] == 5   # 8, then 8 + 8 replayed, ..., last 4 + 8
    assert method._step.experimental_get_tracing_count() == 1
    assert method._step.function_spec.input_signature[0].shape[0] is None  # any batch size
