"""`ContinuousBuffer.shards` reproduces one buffer per replica: under MirroredStrategy over
two logical CPUs, each replica's own MinRed buffer (fed its half of every stream batch by the
strategy, sampling with its share of the step seed) keeps exactly the ids of the matching
shard of one 2-shard buffer fed the same stream (tests/replay/ssl_shards_worker.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().parent / "ssl_shards_worker.py"


@pytest.mark.slow  # a fresh TensorFlow interpreter: ~10 s of CPU, 30 s on a loaded machine
def test_two_shards_keep_what_one_minred_buffer_per_replica_keeps():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, str(WORKER)], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))
    assert [d.rsplit(":", 1)[1] for d in report["devices"]] == ["0", "1"]
    assert report["replicas"] == report["shards"]
    assert all(len(ids) == 8 for ids in report["shards"])
    # replica 0 sees ids 0-3, 8-11, ...; replica 1 ids 4-7, 12-15, ...
    assert all((i // 4) % 2 == r for r, ids in enumerate(report["replicas"]) for i in ids)
    # MinRed's similarity removals ran (not only the lifespan fallback, which keeps the newest)
    kept = sorted(report["shards"][0] + report["shards"][1])
    assert kept != report["fifo_would_keep"]
