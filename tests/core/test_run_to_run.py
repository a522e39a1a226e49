"""Run-to-run bit-exactness on one machine: two independent runs of one experiment (fresh
processes, fresh stores, freshly generated data) give byte-identical weights. TensorFlow's
second inter-op thread ran independent ops of a step in a varying order (a SimSiam experiment
ended 47.25 % and 47.0 % with op determinism on), so the package runs ops one at a time
unless the user sets TF_NUM_INTEROP_THREADS (continual/tf_startup.py)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import main

ROOT = Path(main.__file__).resolve().parent
PROBE = "import os, continual; print(os.environ['TF_NUM_INTEROP_THREADS'])"


def _env_without_inter_op() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "TF_NUM_INTEROP_THREADS"}


def _inter_op(env_value: str | None) -> str:
    env = _env_without_inter_op()
    if env_value is not None:
        env["TF_NUM_INTEROP_THREADS"] = env_value
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, text=True,
                          capture_output=True, check=True)
    return done.stdout.strip()


def test_the_package_runs_ops_one_at_a_time_unless_the_user_says_otherwise():
    assert _inter_op(None) == "1"
    assert _inter_op("4") == "4"


def _run(tmp: Path) -> Path:
    env = _env_without_inter_op()
    args = [sys.executable, "main.py", "--quiet", "--gin_file",
            "config/ports/continuous_ssl/demo.gin", "--only", "SINGLE_PASS_seed2",
            "--workdir", str(tmp / "runs"),
            "--gin_param", f"TrainManager.checkpoint_dir = '{tmp / 'ckpt'}'",
            "--gin_param", f"Suite.stream_data_dir = '{tmp / 'data'}'",
            "--gin_param", f"StreamPlan.data_dir = '{tmp / 'data'}'"]
    subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True)
    return tmp / "ckpt"


def _weights(store: Path) -> dict[str, np.ndarray]:
    found = {}
    for state in sorted(store.glob("stream_experience/*/state/state.index")):
        reader = tf.train.load_checkpoint(str(state.with_suffix("")))
        for name in reader.get_variable_to_shape_map():
            if "train_seconds" not in name:  # wall-clock time, not a result
                found[f"{state.parents[1].name}/{name}"] = reader.get_tensor(name)
    return found


@pytest.mark.slow
def test_two_independent_runs_of_a_simsiam_experiment_store_byte_identical_weights(tmp_path):
    first, second = _weights(_run(tmp_path / "a")), _weights(_run(tmp_path / "b"))
    assert first.keys() == second.keys() and len(first) > 100
    differing = [name for name in first if not np.array_equal(first[name], second[name])]
    assert differing == []
