"""RM's best-epoch rule and the joint reference per task count through main.py: RM evaluated
after each memory epoch, A_last / A_avg by best epoch (test-selected) beside the last-epoch
ones; intransigence against JOINT_PER_TASK (a fresh model per task count); default keys
unchanged by the opt-in binding."""

import json
from pathlib import Path

import pytest

import main
from continual.data.synthetic_stream import generate_stream_set
from continual.metrics import stream_metrics
from tests.core.stream_resume import records
from tests.core.test_stream_keys import plan_keys

RM = "config/ports/rainbow_memory/RM.gin"
JOINT = "config/ports/rainbow_memory/JOINT_PER_TASK.gin"
TINY = ["generate_stream_set.size = 12", "generate_stream_set.train_per_class = 12",
        "generate_stream_set.test_per_class = 2", "build_classifier.name = 'tiny_convnet'",
        "blurry.num_tasks = 2", "EpisodicBuffer.capacity = 20", "RainbowMemory.memory_epochs = 3",
        "RainbowMemory.transforms = []", "RainbowMemory.uncertainty_metric = 'vr'",
        "StreamPlan.evaluate_random_init = False"]


def _suite(tmp: Path) -> Path:
    suite = tmp / "suite.gin"
    suite.write_text(
        "import continual.methods.rainbow_memory\n"
        "import continual.methods.rainbow_memory.joint_reference\n"
        "JointFromScratch.epochs = 2\n"
        f"Suite.name = 'best-epoch'\nSuite.joint_config = None\n"
        f"Suite.stream_data_dir = '{tmp / 'data'}'\n"
        f"Suite.experiments = ['{JOINT}', {{'file': '{RM}', 'bindings': "
        "[\"StreamPlan.joint_experiment = 'JOINT_PER_TASK'\"]}]\n")
    return suite


@pytest.mark.slow  # about 25 s on a loaded 2-core CPU; the pieces are unit-tested
def test_best_epoch_and_joint_per_task_count_end_to_end(tmp_path):
    params = [f"StreamPlan.data_dir = '{tmp_path / 'data'}'",
              f"TrainManager.checkpoint_dir = '{tmp_path / 'ckpt'}'",
              "StreamPlan.accuracy_rule = 'best_epoch'", *TINY]
    args = ["--gin_file", str(_suite(tmp_path)), "--workdir", str(tmp_path / "runs")]
    for param in params:
        args += ["--gin_param", param]
    assert main.main(args) == 0
    rm = [r for r in records(tmp_path, "RM") if r["experience"] >= 0]
    for record in rm:
        info = json.loads((tmp_path / "ckpt" / "stream_experience" / record["model_key"]
                           / "COMPLETE.json").read_text())
        epochs = info.get("info", info)["epoch_accuracies"]
        assert len(epochs) == 3 and epochs[-1] == pytest.approx(record["accuracy"])
        assert record["accuracy_best_epoch_test"] == pytest.approx(max(epochs))
        assert record["accuracy_rule"] == "best epoch, selected on the test set"
    metrics = stream_metrics(records(tmp_path, "RM"), records(tmp_path, "JOINT_PER_TASK"))
    assert metrics["intransigence_reference"] == "joint on tasks 0..k"
    assert metrics["a_last_best_epoch_test"] >= rm[-1]["accuracy"]
    joint = [r for r in records(tmp_path, "JOINT_PER_TASK") if r["experience"] >= 0]
    assert len(joint) == 2 and metrics["intransigence"] == pytest.approx(
        sum(j["accuracy_row"][k] - r["accuracy_row"][k]
            for k, (j, r) in enumerate(zip(joint, rm, strict=True))) / 2)
    summary = (tmp_path / "runs" / "summary.md").read_text()
    assert "SELECTED ON THE TEST SET" in summary and "| joint on tasks 0..k |" in summary


@pytest.fixture(scope="module")
def keys_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rm_rule_keys")
    generate_stream_set(out, num_classes=10, size=12, train_per_class=6, test_per_class=2)
    return out


def test_the_rule_enters_the_keys_only_when_set(keys_data):
    base = plan_keys(keys_data, files=(RM,))
    assert plan_keys(keys_data, "StreamPlan.accuracy_rule = 'last_epoch'", files=(RM,)) == base
    best = plan_keys(keys_data, "StreamPlan.accuracy_rule = 'best_epoch'", files=(RM,))
    assert best["exp0"] != base["exp0"]


def test_an_unknown_rule_is_refused_before_training(tmp_path, capsys):
    args = ["--gin_file", RM, "--workdir", str(tmp_path / "runs"),
            "--gin_param", f"StreamPlan.data_dir = '{tmp_path / 'data'}'",
            "--gin_param", f"Suite.stream_data_dir = '{tmp_path / 'data'}'",
            "--gin_param", f"TrainManager.checkpoint_dir = '{tmp_path / 'ckpt'}'",
            "--gin_param", "StreamPlan.accuracy_rule = 'best'", *sum((
                ["--gin_param", p] for p in TINY), [])]
    assert main.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "StreamPlan.accuracy_rule = 'best'" in err, err
