"""A short slice of each port's demo experiment, run through main.py in a subprocess, so the
bit-exactness tests can run a slice alone in a fresh process, after other slices in one
process, or killed and resumed, and compare the metrics.jsonl rows.

    python -m tests.core.history_runs OUT PORT [PORT...]

runs the slices of the PORTs one after another in this one process, each under OUT/<port>/
(its own data, checkpoint store and results), with `TrainManager.seed` and every other
binding the same whatever ran before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Columns that measure time, not results: the only ones allowed to differ between runs.
TIMING_COLUMNS = ("images_per_sec", "train_seconds")

# port -> (demo file, experiments run, bindings that make the slice tiny)
SLICES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "baselines": ("config/ports/baselines/demo.gin", ("FINETUNE", "ER"), (
        "generate_stream_set.size = 12", "generate_stream_set.train_per_class = 16",
        "generate_stream_set.test_per_class = 4", "class_incremental.num_tasks = 2",
        "tiny_convnet_backbone.widths = (8, 8, 16)", "FineTuning.epochs = 2",
        "ExperienceReplay.epochs = 2", "ExperienceLoop.stream_batch_size = 8",
        "ExperienceLoop.replay_batch_size = 8", "EpisodicBuffer.capacity = 16",
        "StreamPlan.joint_experiment = None")),
    "rainbow_memory": ("config/ports/rainbow_memory/demo.gin", ("RM_seed1",), (
        "generate_stream_set.size = 12", "generate_stream_set.train_per_class = 20",
        "generate_stream_set.test_per_class = 4", "EpisodicBuffer.capacity = 20",
        "RainbowMemory.memory_epochs = 2", "blurry.num_tasks = 2")),
    "sslad": ("config/ports/sslad/demo.gin", ("FULL_seed1",), (
        "generate_stream_set.size = 12", "generate_stream_set.train_per_class = 60",
        "generate_stream_set.test_per_class = 4", "generate_stream_set.run_length = 4",
        "EpisodicBuffer.capacity = 20", "UncertaintyGuidedReplay.sweep_size = 10",
        "UncertaintyGuidedReplay.sweep_every = 8", "UncertaintyGuidedReplay.votes = 3",
        "LR_MILESTONES = [6, 10]",
        "UncertaintyGuidedReplay.soft_label_milestones = [8, 10, 11]",
        "by_attribute.max_experiences = 2")),
    "continuous_ssl": ("config/ports/continuous_ssl/demo.gin", ("MINRED_seed1",), (
        "generate_stream_set.size = 12", "generate_stream_set.train_per_class = 24",
        "generate_stream_set.test_per_class = 4", "class_sequential_runs.num_tasks = 2",
        "tiny_convnet_backbone.widths = (8, 16, 16)", "SimSiamStream.projection_dim = 16",
        "SimSiamStream.predictor_dim = 8", "SimSiamStream.updates_per_batch = 2",
        "ExperienceLoop.stream_batch_size = 8", "ContinuousBuffer.capacity = 32",
        "LinearProbe.epochs = 2")),
    "kaizen": ("config/ports/kaizen/demo.gin", ("CASSLE_seed1",), (
        "generate_stream_set.size = 12", "generate_stream_set.train_per_class = 16",
        "generate_stream_set.test_per_class = 6", "class_incremental.num_tasks = 2",
        "Kaizen.epochs = 2", "tiny_convnet_backbone.widths = (8, 8, 16)",
        "ExperienceLoop.stream_batch_size = 8", "LinearProbe.epochs = 2")),
}


def slice_args(port: str, out: Path, *extra: str, only: tuple[str, ...] = ()) -> list[str]:
    """main.py arguments of `port`'s slice (or of its experiments `only`), all under `out`."""
    demo, experiments, bindings = SLICES[port]
    args = ["--gin_file", demo, "--workdir", str(out / "runs")]
    for name in only or experiments:
        args += ["--only", name]
    data = out / "data"
    params = [f"Suite.stream_data_dir = '{data}'", f"StreamPlan.data_dir = '{data}'",
              f"TrainManager.checkpoint_dir = '{out / 'ckpt'}'", *bindings, *extra]
    for param in (*params, "ExperienceLoop.checkpoint_every = 2"):
        args += ["--gin_param", param]
    return args


def start(out: Path, ports: list[str]) -> subprocess.Popen:
    """This module in a subprocess: the slices of `ports`, in order, in one process."""
    return subprocess.Popen([sys.executable, "-m", "tests.core.history_runs", str(out), *ports],
                            cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def run(out: Path, ports: list[str]) -> None:
    """The slices of `ports` in one fresh process; raises with its stderr's tail on failure."""
    proc = start(out, ports)
    _, err = proc.communicate(timeout=1200)
    if proc.returncode:
        raise AssertionError(f"slices {ports} exited {proc.returncode}:\n{err[-3000:]}")


def rows(out: Path, port: str) -> dict[str, list[str]]:
    """Each experiment's metrics.jsonl rows of `port`'s slice under `out`, timing columns
    left out, as canonical JSON text (so equal means byte-identical)."""
    found = {}
    for name in SLICES[port][1]:
        path = out / port / "runs" / "experiments" / name / "metrics.jsonl"
        found[name] = [json.dumps({k: v for k, v in json.loads(line).items()
                                   if k not in TIMING_COLUMNS}, sort_keys=True)
                       for line in path.read_text().splitlines()]
    return found


def main(argv: list[str]) -> int:
    import main as runner  # TensorFlow loads here

    out, ports = Path(argv[0]), argv[1:]
    for port in ports:
        code = runner.main(slice_args(port, out / port))
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
