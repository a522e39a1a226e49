"""What the stream experiments' end-to-end tests share: starting main.py in a subprocess,
reading an experiment's metrics and its final buffer, and killing a run in mid-experience."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[2]


def start_main(args: list[str]) -> subprocess.Popen:
    """`python main.py ARGS` in a subprocess from the repository root, output discarded."""
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def records(tmp: Path, name: str) -> list[dict]:
    """The metrics.jsonl records of experiment `name` under `tmp/runs`."""
    path = tmp / "runs" / "experiments" / name / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def final_buffer(tmp: Path, name: str) -> dict[str, np.ndarray]:
    """The buffer variables in the state after the last experience of experiment `name`."""
    info = records(tmp, name)[-1]
    folder = tmp / "ckpt" / "stream_experience" / info["model_key"] / "state" / "state"
    reader = tf.train.load_checkpoint(str(folder))
    names = sorted(n for n in reader.get_variable_to_shape_map()
                   if n.startswith("buffer/") and "OPTIMIZER" not in n)
    assert names, "the state holds no buffer"
    return {n: reader.get_tensor(n) for n in names}


def mid_experience(root: Path, checkpoints: int = 4) -> bool:
    """An experience after the first is running and has saved its `checkpoints`-th checkpoint."""
    done = list(root.glob("*/COMPLETE.json"))
    for index in root.glob("*/ckpt/checkpoint"):
        text = index.read_text()
        number = int(text.split('"')[1].rsplit("-", 1)[1]) if '"' in text else 0
        if done and not (index.parent.parent / "COMPLETE.json").exists() and number >= checkpoints:
            return True
    return False


def kill_mid_experience(start: Callable[[], subprocess.Popen], store: Path,
                        checkpoints: int = 4) -> None:
    """Start a run, SIGKILL it once it is inside an experience after the first, and wait."""
    proc = start()
    deadline, cut = time.time() + 300, False
    while time.time() < deadline and proc.poll() is None:
        if mid_experience(store / "stream_experience", checkpoints):
            cut = True
            break
        time.sleep(0.02)
    assert cut, "the run never reached a mid-experience checkpoint of experience 1 or later"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
