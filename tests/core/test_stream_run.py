"""Stream experiments end to end through main.py: the baselines on a tiny generated set,
reuse on rerun, resume after SIGKILL with the same metrics and buffer, and bad input refused
before training."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import main
from tests.core.stream_resume import final_buffer, kill_mid_experience, records

ROOT = Path(main.__file__).resolve().parent
DEMO = "config/ports/baselines/demo.gin"
# Two experiences instead of the demo's five, for the end-to-end tests whose property (reuse,
# resume, keys, sharding, input from disk) shows from experience 1 on: each experience is two
# stages, each traced afresh, which is most of a tiny run's time.
TWO_TASKS = ("class_incremental.num_tasks = 2", "joint.num_tasks = 2")


def stream_args(tmp: Path, *extra: str, only: str | None = None) -> list[str]:
    params = [
        f"Suite.stream_data_dir = '{tmp / 'data'}'",
        "generate_stream_set.size = 12", "generate_stream_set.train_per_class = 12",
        "generate_stream_set.test_per_class = 4",
        f"StreamPlan.data_dir = '{tmp / 'data'}'",
        f"TrainManager.checkpoint_dir = '{tmp / 'ckpt'}'",
        "FineTuning.epochs = 2", "ExperienceReplay.epochs = 2",
        "EpisodicBuffer.capacity = 40",
        "ExperienceLoop.stream_batch_size = 8", "ExperienceLoop.replay_batch_size = 8",
        *extra,
    ]
    args = ["--gin_file", DEMO, "--workdir", str(tmp / "runs")]
    if only:
        args += ["--only", only]
    for param in params:
        args += ["--gin_param", param]
    return args


def markers(tmp: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in sorted((tmp / "ckpt").rglob("COMPLETE.json"))}


def test_baselines_run_report_and_a_rerun_trains_nothing(tmp_path, capsys, caplog):
    assert main.main(stream_args(tmp_path, *TWO_TASKS)) == 0
    er = records(tmp_path, "ER")
    assert [r["experience"] for r in er] == [-1, 0, 1]
    assert all(r["plan_kind"] == "stream" and r["method"] == "er" for r in er)
    assert all(len(r["accuracy_row"]) == 2 for r in er)
    assert er[1]["accuracy_row"][1] is not None and er[-1]["images_per_sec"] > 0
    joint = records(tmp_path, "JOINT")
    assert [r["experience"] for r in joint] == [-1, 0]
    summary = (tmp_path / "runs" / "summary.md").read_text()
    for name in ("JOINT", "FINETUNE", "ER", "final_accuracy", "forgetting", "amca"):
        assert name in summary
    header = (tmp_path / "runs" / "summary.csv").read_text().splitlines()[0]
    assert header.startswith("experiment,method,scenario,final_accuracy_pct,"
                             "average_incremental_accuracy_pct,forgetting_pct,bwt_pct,fwt_pct,"
                             "amca_pct,images_per_sec")
    assert (tmp_path / "runs" / "accuracy_matrix.png").exists()
    assert list((tmp_path / "runs" / "experiments" / "ER" / "tensorboard").glob("events.*"))

    inits = [tf.train.load_checkpoint(str(p.parent / "state" / "state"))
             for p in sorted((tmp_path / "ckpt" / "stream_init").glob("*/COMPLETE.json"))]
    weights = sorted(n for n in inits[0].get_variable_to_shape_map() if n.startswith("model/"))
    assert len(inits) == 3 and len(weights) >= 6
    for other in inits[1:]:  # joint, fine-tuning and ER of one seed start from the same weights
        for name in weights:
            np.testing.assert_array_equal(other.get_tensor(name), inits[0].get_tensor(name))

    before = markers(tmp_path)
    assert len(before) == 2 + 2 + 2 * (2 + 4)  # joint; finetune and ER: init, eval_init, 2 x 2
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert main.main(stream_args(tmp_path, *TWO_TASKS)) == 0
    assert markers(tmp_path) == before
    assert " running " not in caplog.text and "reused" in caplog.text
    assert len(records(tmp_path, "ER")) == 3

    capsys.readouterr()
    assert main.main([*stream_args(tmp_path, *TWO_TASKS), "--dry_run"]) == 0
    plan = capsys.readouterr().out
    assert plan.count("reuse (on disk)") == len(before) and " train" not in plan


def test_one_stream_experiment_file_runs_alone(tmp_path, capsys):
    data = tmp_path / "data"
    assert main.main([*stream_args(tmp_path, only="FINETUNE"), "--dry_run"]) == 0  # makes data
    capsys.readouterr()
    args = ["--gin_file", "config/ports/baselines/FINETUNE.gin", "--workdir",
            str(tmp_path / "alone"), "--dry_run"]
    for param in (f"StreamPlan.data_dir = '{data}'", f"TrainManager.checkpoint_dir = "
                  f"'{tmp_path / 'ckpt2'}'", "build_classifier.name = 'tiny_convnet'"):
        args += ["--gin_param", param]
    assert main.main(args) == 0
    out = capsys.readouterr().out
    assert "FINETUNE" in out and "exp4" in out and "JOINT" not in out


def _run(tmp: Path) -> subprocess.Popen:
    args = stream_args(tmp, *TWO_TASKS, "ExperienceLoop.checkpoint_every = 2",
                       "ExperienceReplay.epochs = 6", only="ER")
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _accuracies(tmp: Path) -> list[tuple]:
    return [(r["experience"], r["accuracy"], tuple(r["accuracy_row"]), r["eval_key"])
            for r in records(tmp, "ER")]


def test_sigkill_mid_experience_then_rerun_gives_the_same_metrics_and_buffer(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert _run(reference).wait(timeout=600) == 0
    kill_mid_experience(lambda: _run(killed), killed / "ckpt")
    assert _run(killed).wait(timeout=600) == 0
    assert _accuracies(killed) == _accuracies(reference)
    got, want = final_buffer(killed, "ER"), final_buffer(reference, "ER")
    assert any("ids" in name for name in want), sorted(want)
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


@pytest.mark.parametrize("binding, message", [
    ("class_incremental.class_order = [0, 1, 2]", "class_incremental.class_order"),
    ("class_incremental.num_tasks = 3", "class_incremental.num_tasks"),
    ("EpisodicBuffer.capacity = 5", "EpisodicBuffer.capacity"),
    ("ExperienceLoop.replay_batch_size = 64", "ExperienceLoop.replay_batch_size"),
    ("EpisodicBuffer.policy = 'lifo'", "lifo"),
    ("EpisodicBuffer.sampler = 'greedy'", "greedy"),
    ("build_classifier.name = 'vgg'", "build_classifier.name"),
    ("tiny_convnet_backbone.strides = (4, 4, 4)", "tiny_convnet"),  # 12 px < its stride 64
    ("StreamPlan.scenario = @by_attribute", "time"),
    ("EpisodicBuffer.num_classes = 3", "num_classes"),  # the data says; never a binding
])
def test_bad_stream_input_fails_before_training(tmp_path, capsys, binding, message):
    extra = [binding]
    if "by_attribute" in binding:  # a set without the stream metadata
        extra.append("generate_stream_set.run_length = 1")
    args = stream_args(tmp_path, *extra, only="ER")
    if "by_attribute" in binding:
        args = _without_metadata(tmp_path, args)
    assert main.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert not list((tmp_path / "ckpt").rglob("COMPLETE.json"))


def _without_metadata(tmp: Path, args: list[str]) -> list[str]:
    """Point StreamPlan.data_dir at a set written without time/domain/group metadata."""
    from continual.data.classification import ClassificationSample, write_classification_set

    rng = np.random.default_rng(0)
    bare = tmp / "bare"
    for split, count in (("train", 20), ("test", 10)):
        samples = [ClassificationSample(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8),
                                        i % 10, f"{split}{i}") for i in range(count)]
        write_classification_set(bare, split, samples, num_classes=10)
    return [*args, "--gin_param", f"StreamPlan.data_dir = '{bare}'"]
