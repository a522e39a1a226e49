"""RM's baselines through main.py on a short Blurry10-Online run: each runs end to end, EWC's
anchors are written once per task, and bad input is refused before training."""

from pathlib import Path

import pytest
import tensorflow as tf

import main
from continual.data.synthetic_stream import generate_stream_set
from tests.core.stream_resume import records
from tests.core.test_stream_keys import plan_keys

DEMO = "config/ports/rainbow_memory/baselines_demo.gin"
TASKS = 2


def baseline_args(tmp: Path, *extra: str, only=("EWC",)) -> list[str]:
    params = [f"Suite.stream_data_dir = '{tmp / 'data'}'",
              f"StreamPlan.data_dir = '{tmp / 'data'}'",
              f"TrainManager.checkpoint_dir = '{tmp / 'ckpt'}'",
              "generate_stream_set.size = 12", "generate_stream_set.train_per_class = 12",
              "generate_stream_set.test_per_class = 2", "EpisodicBuffer.capacity = 20",
              f"blurry.num_tasks = {TASKS}", "EWC.memory_epochs = 1", "RWalk.memory_epochs = 1",
              "GDumb.memory_epochs = 1", "ICaRL.memory_epochs = 1", "BiC.memory_epochs = 1",
              "BiC.validation_size = 10", "BiC.bias_epochs = 1", *extra]
    args = ["--gin_file", DEMO, "--workdir", str(tmp / "runs")]
    for name in only:
        args += ["--only", name]
    for param in params:
        args += ["--gin_param", param]
    return args


def final_state(tmp: Path, name: str):
    info = records(tmp, name)[-1]
    folder = tmp / "ckpt" / "stream_experience" / info["model_key"] / "state" / "state"
    return tf.train.load_checkpoint(str(folder))


def test_every_baseline_runs_and_ewc_writes_one_anchor_per_task(tmp_path):
    names = ("EWC", "RWALK", "GDUMB", "ICARL", "BIC")
    assert main.main(baseline_args(tmp_path, only=names)) == 0
    for name in names:
        rows = [r for r in records(tmp_path, name) if r["experience"] >= 0]
        assert len(rows) == TASKS and all(0.0 <= r["accuracy"] <= 1.0 for r in rows), name
    for name in ("EWC", "RWALK"):
        tasks = final_state(tmp_path, name).get_tensor("anchors/tasks/.ATTRIBUTES/VARIABLE_VALUE")
        assert int(tasks) == TASKS, name


@pytest.mark.parametrize("binding, only, message", [
    ("EWC.reg_coef = -1.0", "EWC", "EWC.reg_coef"),
    ("RWalk.alpha = 2.0", "RWALK", "RWalk.alpha"),
    ("EpisodicBuffer.policy = 'fifo'", "GDUMB", "EpisodicBuffer.policy"),
    ("EpisodicBuffer.policy = 'reservoir'", "ICARL", "EpisodicBuffer.policy"),
    ("BiC.validation_size = 5", "BIC", "BiC.validation_size"),
])
def test_bad_baseline_input_fails_before_training(tmp_path, capsys, binding, only, message):
    assert main.main(baseline_args(tmp_path, binding, only=(only,))) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert not list((tmp_path / "ckpt").rglob("COMPLETE.json"))


def test_er_with_a_boundary_only_policy_is_refused(tmp_path, capsys):
    args = baseline_args(tmp_path, only=("RESERVOIR_ER",)) + [
        "--gin_param", "Suite.experiments = ['config/ports/rainbow_memory/RESERVOIR_ER.gin']",
        "--gin_param", "EpisodicBuffer.policy = 'rainbow'"]
    assert main.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "EpisodicBuffer.policy = 'rainbow'" in err, err


BASELINE_PERTURBED = [
    ("EWC", "EWC.reg_coef = 5.0"), ("EWC", "EWC.keep_every_task = False"),
    ("EWC", "EWC.fisher_batch_size = 4"), ("EWC", "EWC.memory_epochs = 3"),
    ("RWALK", "RWalk.alpha = 0.25"), ("RWALK", "RWalk.epsilon = 0.1"),
    ("RWALK", "RWalk.reg_coef = 5.0"), ("RWALK", "RWalk.normalize = False"),
    ("GDUMB", "GDumb.memory_epochs = 3"),
    ("GDUMB", "EpisodicBuffer.policy = 'random_subset'"), ("ICARL", "ICaRL.memory_epochs = 3"),
    ("BIC", "BiC.validation_size = 30"), ("BIC", "BiC.bias_epochs = 3"),
    ("BIC", "BiC.bias_lr = 0.01"), ("BIC", "BiC.temperature = 3.0"),
]


@pytest.fixture(scope="module")
def keys_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rm_baseline_keys")
    generate_stream_set(out, num_classes=10, size=12, train_per_class=10, test_per_class=2)
    return out


@pytest.mark.parametrize("name, binding", BASELINE_PERTURBED)
def test_baseline_bindings_enter_the_keys(keys_data, name, binding):
    files = (f"config/ports/rainbow_memory/{name}.gin",)
    base = plan_keys(keys_data, "EpisodicBuffer.capacity = 40", files=files)
    changed = plan_keys(keys_data, "EpisodicBuffer.capacity = 40", binding, files=files)
    assert changed["exp0"] != base["exp0"], binding
