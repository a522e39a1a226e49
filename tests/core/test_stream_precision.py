"""The precision policy of a stream experiment enters its keys, and float16 is refused for a
method whose train step does not scale its loss."""

from pathlib import Path
from types import SimpleNamespace

import pytest

import suite  # noqa: F401  (registers every configurable the files bind)
from continual.data.synthetic_stream import generate_stream_set
from continual.gin_files import parse_gin
from continual.methods.base import StreamMethod
from continual.plans.stream import StreamPlan
from train_manager import TrainManager

ER = "config/ports/baselines/ER.gin"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stream")
    generate_stream_set(out, num_classes=10, size=12, train_per_class=6, test_per_class=2)
    return out


def plan_keys(data_dir: Path, *params: str) -> dict[str, str]:
    parse_gin([ER], [f"StreamPlan.data_dir = '{data_dir}'",
                     "build_classifier.name = 'tiny_convnet'",
                     "class_incremental.num_tasks = 2", *params])
    manager = TrainManager()
    sets = manager.planner.record_sets()
    return {step.name: step.key
            for step in manager.plan({name: m.content_hash for name, m in sets.items()})}


def test_mixed_precision_changes_every_trained_stream_key(data_dir):
    base = plan_keys(data_dir)
    assert plan_keys(data_dir, "TrainManager.mixed_precision = None") == base
    for policy in ("mixed_bfloat16", "mixed_float16"):
        changed = plan_keys(data_dir, f"TrainManager.mixed_precision = '{policy}'")
        assert all(changed[name] != base[name] for name in ("init", "exp0", "exp1")), policy


def test_float16_is_refused_for_a_method_without_loss_scaling(tmp_path):
    manager = SimpleNamespace(mixed_precision="mixed_float16", base_folder=tmp_path)
    with pytest.raises(ValueError, match="StreamPlan.method = @StreamMethod does not do"):
        StreamPlan(manager, scenario=lambda *a: None, method=StreamMethod)
    manager.mixed_precision = "mixed_bfloat16"  # bfloat16 needs no scaling
    StreamPlan(manager, scenario=lambda *a: None, method=StreamMethod)
