"""The suite end to end on tiny synthetic data: results, reuse on rerun, resume after SIGKILL."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import main

ROOT = Path(main.__file__).resolve().parent
EXPERIMENT = "FINE_TUNING_DISJOINT_NO_MIX_10-10"


def suite_args(tmp: Path, per_class: int = 3, *extra: str) -> list[str]:
    params = [
        f"Suite.synthetic_data_dir = '{tmp / 'data'}'",
        f"Suite.replay_standins_dir = '{tmp / 'standins'}'",  # not the repository's data/
        f"GanReplay.generator_handle = '{tmp / 'standins/generator'}'",
        f"GanReplay.classifier_handle = '{tmp / 'standins/classifier'}'",
        f"WebReplay.folder = '{tmp / 'standins/web'}'",
        "generate_synthetic.size = 32", "generate_synthetic.num_train = 90",
        "generate_synthetic.num_val = 30",
        f"TrainManager.data_dir = '{tmp / 'data'}'",
        f"TrainManager.checkpoint_dir = '{tmp / 'ckpt'}'",
        "TrainManager.train_image_size = 32", "TrainManager.eval_pad_to = 32",
        "TrainManager.batch_size = 4",
        f"TrainManager.training_steps_per_class = {per_class}",
        f"TrainManager.training_steps_per_class_incremental = {per_class}",
        *extra,
    ]
    args = ["--gin_file", "config/demo.gin", "--workdir", str(tmp / "runs"), "--only", EXPERIMENT]
    for param in params:
        args += ["--gin_param", param]
    return args


def markers(tmp: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in sorted((tmp / "ckpt").rglob("COMPLETE.json"))}


def test_suite_runs_writes_results_and_a_rerun_trains_nothing(tmp_path, capsys, caplog):
    assert main.main(suite_args(tmp_path)) == 0
    experiment = tmp_path / "runs" / "experiments" / EXPERIMENT
    records = [json.loads(line) for line in (experiment / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 1]
    assert records[1]["classes"] == list(range(11, 21))
    assert 0.0 <= records[1]["miou_all_bg"] <= 1.0 and records[1]["miou_new"] is not None
    assert records[1]["method"] == "fine-tuning" and records[1]["setup"] == "disjoint"
    assert "TrainManager.train_image_size = 32" in (experiment / "operative_config.gin").read_text()
    assert list((experiment / "tensorboard").glob("events.out.tfevents.*"))
    summary = (tmp_path / "runs" / "summary.md").read_text()
    assert EXPERIMENT in summary and "10-10" in summary
    assert (tmp_path / "runs" / "summary.csv").exists()
    assert (tmp_path / "runs" / "miou_by_step.png").exists()

    before = markers(tmp_path)
    assert len(before) == 4  # step 0, eval 0, step 1, eval 1
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert main.main(suite_args(tmp_path)) == 0
    assert markers(tmp_path) == before
    assert " running " not in caplog.text and "reused" in caplog.text
    rerun = (experiment / "metrics.jsonl").read_text().splitlines()
    assert len(rerun) == 2

    capsys.readouterr()
    assert main.main([*suite_args(tmp_path), "--dry_run"]) == 0
    plan = capsys.readouterr().out
    assert plan.count("reuse (on disk)") == 4 and "train" not in plan.split(EXPERIMENT)[1]


def test_bad_input_fails_before_training_with_a_clear_message(tmp_path, capsys):
    assert main.main(suite_args(tmp_path, 3, "TrainManager.interleave_ratio_olf = 2")) == 2
    assert "interleave_ratio_olf" in capsys.readouterr().err
    assert not (tmp_path / "ckpt").exists()
    args = suite_args(tmp_path, 3, "Suite.synthetic_data_dir = None",
                      f"TrainManager.data_dir = '{tmp_path / 'nothing'}'")
    assert main.main(args) == 2
    err = capsys.readouterr().err
    assert "nothing/train.manifest.json does not exist" in err and "continual.data.synthetic" in err
    assert not (tmp_path / "ckpt").exists()


def _run(tmp: Path, per_class: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    args = suite_args(tmp, per_class, "LoopSettings.checkpoint_every = 10")
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _metrics(tmp: Path) -> list[dict]:
    path = tmp / "runs" / "experiments" / EXPERIMENT / "metrics.jsonl"
    keys = ("step", "miou_all_bg", "miou_old", "miou_new", "pixel_acc", "eval_key")
    return [{k: json.loads(line)[k] for k in keys} for line in path.read_text().splitlines()]


def test_sigkill_then_rerun_gives_the_metrics_of_an_uninterrupted_run(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert _run(reference, 12).wait(timeout=600) == 0

    proc = _run(killed, 12)
    deadline = time.time() + 300
    ckpt_index = None
    while time.time() < deadline and proc.poll() is None:
        found = sorted((killed / "ckpt" / "model_step0").glob("*/ckpt/checkpoint"))
        if found and "ckpt-20" in found[0].read_text():
            ckpt_index = found[0]
            break
        time.sleep(0.05)
    assert ckpt_index is not None, "the run never wrote a mid-stage checkpoint"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _run(killed, 12).wait(timeout=600) == 0

    info = json.loads(next((killed / "ckpt" / "model_step0").glob("*/COMPLETE.json")).read_text())
    assert info["info"]["resumed_from"] >= 20
    resumed, uninterrupted = _metrics(killed), _metrics(reference)
    assert [r["eval_key"] for r in resumed] == [r["eval_key"] for r in uninterrupted]
    for got, want in zip(resumed, uninterrupted, strict=True):
        for name in ("miou_all_bg", "miou_old", "miou_new", "pixel_acc"):
            assert got[name] == pytest.approx(want[name], abs=1e-6), (got["step"], name)
