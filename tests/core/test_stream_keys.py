"""Stream keys: every bound parameter of the method, buffer, scenario, model, optimiser and
loop changes the key of the first experience; unrelated runner values do not; experiments
that share a prefix share its artefacts."""

from pathlib import Path

import numpy as np
import pytest

import suite  # noqa: F401  (registers every configurable the files bind)
from continual.data.synthetic_stream import generate_stream_set
from continual.gin_files import parse_gin
from continual.loop.batches import phase_batches
from continual.methods.base import Phase
from continual.stages import stage_seed
from train_manager import TrainManager

ER = "config/ports/baselines/ER.gin"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stream")
    generate_stream_set(out, num_classes=10, size=12, train_per_class=6, test_per_class=2)
    return out


def plan_keys(data_dir: Path, *params: str, files=(ER,)) -> dict[str, str]:
    parse_gin(list(files), [f"StreamPlan.data_dir = '{data_dir}'",
                            "build_classifier.name = 'tiny_convnet'", *params])
    manager = TrainManager()
    sets = manager.planner.record_sets()
    steps = manager.plan({name: m.content_hash for name, m in sets.items()})
    return {step.name: step.key for step in steps}


# One changed value per bound parameter (and a few defaults bound for the first time).
PERTURBED = [
    "ExperienceReplay.epochs = 2", "ExperienceReplay.online = True",
    "ExperienceReplay.flip = True",
    "EpisodicBuffer.capacity = 400", "EpisodicBuffer.policy = 'fifo'",
    "EpisodicBuffer.sampler = 'class_balanced'",
    "class_incremental.num_tasks = 2", "class_incremental.shuffle_classes = False",
    "class_incremental.shuffle_within_task = False",
    "class_incremental.class_order = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]",
    "build_classifier.bn_momentum = 0.5", "tiny_convnet_backbone.widths = (4, 8, 8)",
    "TorchSGD.learning_rate = 0.01", "TorchSGD.momentum = 0.5", "TorchSGD.weight_decay = 0.0",
    "TorchSGD.nesterov = True",
    "ExperienceLoop.stream_batch_size = 16", "ExperienceLoop.replay_batch_size = 16",
    "TrainManager.seed = 3",
]


@pytest.mark.parametrize("binding", PERTURBED)
def test_every_bound_parameter_changes_the_first_experience_key(data_dir, binding):
    base = plan_keys(data_dir)
    changed = plan_keys(data_dir, binding)
    assert changed["exp0"] != base["exp0"], binding


def test_runner_values_leave_keys_alone(data_dir, tmp_path):
    base = plan_keys(data_dir)
    assert plan_keys(data_dir, "Suite.note = 'x'", "StreamPlan.name = 'other'",
                     "StreamPlan.joint_experiment = None",
                     "sync_batch_norm.enabled = False",
                     "input_memory_budget.megabytes = 0.01") == base  # read from the shards


def test_experiments_sharing_a_prefix_share_artefacts(data_dir):
    er = plan_keys(data_dir)
    longer = plan_keys(data_dir, "EpisodicBuffer.capacity = 500")  # the file's own value
    assert longer == er
    finetune = plan_keys(data_dir, files=("config/ports/baselines/FINETUNE.gin",))
    assert finetune["exp0"] != er["exp0"]
    assert set(er) == {"init", "eval_init", *(f"exp{i}" for i in range(5)),
                       *(f"eval{i}" for i in range(5))}


def test_bindings_the_experiment_never_reads_change_no_key(data_dir):
    """Only the operative config enters keys: a blurry-scenario binding under a
    class-incremental experiment, the locks' poll interval."""
    base = plan_keys(data_dir)
    assert plan_keys(data_dir, "blurry.num_tasks = 3", "blurry.blurry_percent = 30",
                     "KeyLocks.poll_seconds = 9.0") == base


def plan_steps(data_dir: Path, *params: str, files=(ER,)) -> list:
    parse_gin(list(files), [f"StreamPlan.data_dir = '{data_dir}'",
                            "build_classifier.name = 'tiny_convnet'", *params])
    manager = TrainManager()
    sets = manager.planner.record_sets()
    return manager.plan({name: m.content_hash for name, m in sets.items()}), manager


def stream_orders(data_dir: Path, *params: str, files=(ER,)) -> list[list[int]]:
    """The ids of every batch of two reshuffled epochs of every experience, as the loop
    draws them (`phase_batches` with the stage's seed)."""
    steps, manager = plan_steps(data_dir, *params, files=files)
    orders = []
    for step in steps:
        if step.kind == "stream_experience":
            phase = Phase("offline", epochs=2)
            seed = stage_seed(manager.seed, step)
            batches = phase_batches(phase, 0, np.asarray(step.step.train_ids), 8, seed,
                                    step.step.index)
            orders.append([int(i) for _, ids in batches for i in ids])
    return orders


def test_methods_of_one_seed_draw_the_same_stream(data_dir):
    """Paired draws: fine-tuning and ER of one seed, and ER with another learning rate, see
    the same experiences in the same batch order; another seed draws another order."""
    er = stream_orders(data_dir)
    assert len(er) == 5
    assert stream_orders(data_dir, files=("config/ports/baselines/FINETUNE.gin",)) == er
    assert stream_orders(data_dir, "TorchSGD.learning_rate = 0.3") == er
    assert stream_orders(data_dir, "TrainManager.seed = 5") != er


def test_code_keys_hold_each_method_file_and_no_reporting_or_docs(data_dir):
    """A stage's key holds the source of the modules it computes with: fine-tuning's holds
    baselines.py and not Rainbow Memory's EWC, EWC's holds ewc.py; no key holds reporting,
    the README or tests, so editing those retrains nothing."""
    ft, _ = plan_steps(data_dir, files=("config/ports/baselines/FINETUNE.gin",))
    modules = ft[2].inputs["code"]["modules"]  # exp0
    assert "continual/methods/baselines.py" in modules
    assert "continual/loop/experience.py" in modules and "continual/plans/stream_stages.py" in \
        modules
    assert not any("rainbow_memory" in m or "reporting" in m for m in modules)
    assert not any(m.startswith(("tests/", "README")) for m in modules)
    assert len(ft[2].inputs["code"]["lock"]) == 16


def test_code_in_keys_can_be_turned_off(data_dir):
    steps, _ = plan_steps(data_dir, "TrainManager.code_in_keys = False")
    assert set(steps[2].inputs["code"]) == {"lock"}
