"""What a researcher sees of a stream run (issue 23, items 1 and 2): a progress bar with loss,
lr, images/s and ETA, no TensorFlow start-up lines, a log file per experiment, `--quiet` for
batch jobs, and one TensorBoard run per experiment with its training and evaluation curves,
also when every stage is reused from another run."""

import os
import subprocess
import sys
from pathlib import Path

import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import main
from continual.tf_startup import STARTUP_NOISE, kept_lines
from tests.core.test_stream_run import ROOT, TWO_TASKS, stream_args


def _main_process(args: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",
                                                            "TQDM_DISABLE",
                                                            "CONTINUAL_TENSORFLOW_LOG")}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def test_a_stream_run_shows_its_bar_and_logs_but_no_tensorflow_start_up(tmp_path):
    loud = _main_process(stream_args(tmp_path, *TWO_TASKS, "TrainingCurves.every_steps = 2",
                                     only="FINETUNE"))
    assert loud.returncode == 0, loud.stderr[-2000:]
    assert [line for line in loud.stderr.splitlines() if STARTUP_NOISE.match(line)] == []
    assert "oneDNN" not in loud.stderr and "cuInit" not in loud.stderr
    assert "exp 0 phase 1/1 offline" in loud.stderr and "exp 1 phase 1/1 offline" in loud.stderr
    assert "loss=" in loud.stderr and "img/s=" in loud.stderr and "epoch=2/2" in loud.stderr
    log = (tmp_path / "runs" / "experiments" / "FINETUNE" / "experiment.log").read_text()
    assert "[FINETUNE] exp0 running" in log and "FINETUNE] eval1 evaluated" in log

    quiet = _main_process([*stream_args(tmp_path, *TWO_TASKS, only="ER"), "--quiet"])
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert "phase 1/1" not in quiet.stderr and " INFO " not in quiet.stderr
    assert "| final_accuracy" in quiet.stdout or "final_accuracy" in quiet.stdout
    log = (tmp_path / "runs" / "experiments" / "ER" / "experiment.log").read_text()
    assert "[ER] exp1 running" in log and "offline phase done" in log


def test_a_converter_starts_without_tensorflow_start_up_lines(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",
                                                            "CONTINUAL_TENSORFLOW_LOG")}
    done = subprocess.run([sys.executable, "-m", "continual.data.synthetic_stream", "--out",
                           str(tmp_path / "set"), "--num_classes", "2", "--size", "12",
                           "--train_per_class", "8", "--test_per_class", "1",
                           "--run_length", "1"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line for line in done.stderr.splitlines() if STARTUP_NOISE.match(line)] == []
    assert "oneDNN" not in done.stderr and "cuInit" not in done.stderr


def test_known_start_up_lines_are_dropped_and_others_kept():
    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to "
        "STDERR\n"
        "I0000 00:00:1796584365.094944    6425 port.cc:153] oneDNN custom operations are on.\n"
        "E0000 00:00:1796584388.809741    7113 cuda_platform.cc:52] failed call to cuInit\n"
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild "
        "TensorFlow with the appropriate compiler flags.\n"
        "W0000 00:00:1.0    1 some_op.cc:7] a real warning\n"
        "UserWarning: something Python said\n")
    assert kept_lines(text) == ("W0000 00:00:1.0    1 some_op.cc:7] a real warning\n"
                                "UserWarning: something Python said\n")


def _scalars(board: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of a TensorBoard run, read with TensorBoard's own event reader."""
    events = EventAccumulator(str(board), size_guidance={"tensors": 0})
    events.Reload()
    return {tag: [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]
            for tag in events.Tags()["tensors"]}


def test_each_run_shows_training_and_evaluation_curves_also_of_reused_stages(tmp_path, capsys):
    every = "TrainingCurves.every_steps = 2"
    assert main.main(stream_args(tmp_path, every, only="FINETUNE")) == 0
    first = _scalars(tmp_path / "runs" / "experiments" / "FINETUNE" / "tensorboard")

    # Another workdir: every stage is reused from the store, yet the run has all its curves.
    other = [*stream_args(tmp_path, every, only="FINETUNE"), "--workdir",
             str(tmp_path / "other")]
    assert main.main(other) == 0
    assert main.main(other) == 0  # a rerun into the same run folder adds no second copy
    board = tmp_path / "other" / "experiments" / "FINETUNE" / "tensorboard"
    scalars = _scalars(board)
    assert scalars == first
    steps = [step for step, _ in scalars["train/loss"]]
    assert steps == list(range(2, 31, 2))  # 5 experiences x 2 epochs x 3 batches of 8
    assert {"train/lr", "train/images_per_sec"} <= scalars.keys()
    assert [step for step, _ in scalars["eval/accuracy"]] == [-1, 0, 1, 2, 3, 4]
    assert [step for step, _ in scalars["eval/accuracy_row/task_0"]] == [-1, 0, 1, 2, 3, 4]
    assert len(list(board.glob("events.out.tfevents.*"))) >= 1

    # The interval is a reporting choice: it enters no key, so nothing retrains.
    capsys.readouterr()
    changed = stream_args(tmp_path, "TrainingCurves.every_steps = 5", only="FINETUNE")
    assert main.main([*changed, "--dry_run"]) == 0
    plan = capsys.readouterr().out
    assert " train" not in plan and plan.count("reuse (on disk)") == 12

    # The dry run names the binding that changed since the experiment's last run.
    one_epoch = stream_args(tmp_path, every, "FineTuning.epochs = 1", only="FINETUNE")
    assert main.main([*one_epoch, "--dry_run"]) == 0
    assert "values changed: FineTuning.epochs 2 -> 1" in capsys.readouterr().out

    # Other values for the same experiment: its TensorBoard run shows the new configuration's
    # curves only (one epoch: 15 steps, a point every 2 and at each experience's end), never
    # the old ones (to step 30) beside them.
    assert main.main(one_epoch) == 0
    rerun = _scalars(tmp_path / "runs" / "experiments" / "FINETUNE" / "tensorboard")
    assert [step for step, _ in rerun["train/loss"]] == sorted({*range(2, 16, 2), 3, 6, 9,
                                                                 12, 15})
    assert [step for step, _ in rerun["eval/accuracy"]] == [-1, 0, 1, 2, 3, 4]
