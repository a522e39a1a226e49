"""Stream keys: every bound parameter of the method, buffer, scenario, model, optimiser and
loop changes the key of the first experience; unrelated runner values do not; experiments
that share a prefix share its artefacts."""

from pathlib import Path

import pytest

import suite
from continual.data.synthetic_stream import generate_stream_set
from train_manager import TrainManager

ER = "config/ports/baselines/ER.gin"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stream")
    generate_stream_set(out, num_classes=10, size=12, train_per_class=6, test_per_class=2)
    return out


def plan_keys(data_dir: Path, *params: str, files=(ER,)) -> dict[str, str]:
    suite.parse_gin(list(files), [f"StreamPlan.data_dir = '{data_dir}'",
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
                     "sync_batch_norm.enabled = False") == base


def test_experiments_sharing_a_prefix_share_artefacts(data_dir):
    er = plan_keys(data_dir)
    longer = plan_keys(data_dir, "EpisodicBuffer.capacity = 500")  # the file's own value
    assert longer == er
    finetune = plan_keys(data_dir, files=("config/ports/baselines/FINETUNE.gin",))
    assert finetune["exp0"] != er["exp0"]
    assert set(er) == {"init", "eval_init", *(f"exp{i}" for i in range(5)),
                       *(f"eval{i}" for i in range(5))}
