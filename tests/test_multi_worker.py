"""A stage trained by two MultiWorkerMirroredStrategy workers equals it trained by one process.

The README's "Several GPUs, several workers" section runs exactly this: one process per worker,
each with TF_CONFIG naming every worker's host:port and its own index, all started at once
(here two on 127.0.0.1 with free ports; each runs tests/multi_worker_process.py). The workers
train RECALL's step 0 on the tiny encoder (its BN synchronised across them) with a global batch
of 4 (2 per worker), checkpointing every 2 iterations into a shared folder. They are stopped
after iteration 2 and started again, and resume to iteration 4. Meanwhile one process trains
the same 4 iterations alone. Checked: every iteration's loss and the final weights agree
within RTOL; the checkpoint folder holds the chief's checkpoint of iteration 2 only; the
non-chief's temporary checkpoint folders are gone.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
PROCESS = Path(__file__).resolve().parent / "multi_worker_process.py"
RTOL = 1e-4  # float32 all-reduce vs one device's sums: ~5e-7 observed
TIMEOUT = 240


def free_ports(count: int) -> list[int]:
    """Ports that nothing listens on now (held open together so that they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start(role: str, store: Path, stop_at: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(PROCESS), role, str(store), str(stop_at)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def reports_of(processes: list[subprocess.Popen]) -> list[dict]:
    """Each process's JSON report; if one fails, the others (waiting on it) are killed."""
    reports = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=TIMEOUT)
            assert process.returncode == 0, f"{process.args} failed:\n{stderr[-4000:]}"
            reports.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return reports


def start_workers(store: Path, stop_at: int, scratch: list[Path]) -> list[subprocess.Popen]:
    """Both workers at once, each with its TF_CONFIG and its own TMPDIR."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    return [start("multi_worker", store, stop_at, {
        **os.environ, "CUDA_VISIBLE_DEVICES": "", "TMPDIR": str(scratch[index]),
        "TF_CONFIG": json.dumps({"cluster": cluster,
                                 "task": {"type": "worker", "index": index}})})
        for index in range(2)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("multi_worker")
    scratch = [root / f"tmp{index}" for index in range(2)]
    for folder in scratch:
        folder.mkdir()
    store = root / "store"
    first = start_workers(store, 2, scratch)
    single = start("single", root / "single", 4, {**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    stopped = reports_of(first)
    checkpoints_after_stop = sorted(p.name for p in (store / "ckpt").iterdir())
    resumed = reports_of(start_workers(store, 4, scratch))
    return {"stopped": stopped, "resumed": resumed, "single": reports_of([single])[0],
            "checkpoints": checkpoints_after_stop, "store": store, "scratch": scratch}


def test_two_workers_one_chief_and_resume_from_the_checkpoint(runs):
    for phase, resumed_from in (("stopped", 0), ("resumed", 2)):
        assert [r["chief"] for r in runs[phase]] == [True, False]
        assert [r["replicas"] for r in runs[phase]] == [2, 2]
        assert [r["resumed_from"] for r in runs[phase]] == [resumed_from] * 2
    assert runs["single"]["replicas"] == 1


def test_losses_equal_single_process_losses(runs):
    single = runs["single"]["losses"]
    assert sorted(single) == ["1", "2", "3", "4"] and len(set(single.values())) == 4
    for chief_first, worker in zip(runs["stopped"], runs["resumed"], strict=True):
        trained = {**chief_first["losses"], **worker["losses"]}
        assert sorted(trained) == sorted(single)
        np.testing.assert_allclose([trained[i] for i in sorted(single)],
                                   [single[i] for i in sorted(single)], rtol=RTOL)


@pytest.mark.parametrize("checksum", ("abs_sums", "projections"))
def test_final_weights_equal_single_process_weights(runs, checksum):
    single = np.asarray(runs["single"][checksum])
    scale = np.asarray(runs["single"]["abs_sums"])  # a projection can be near 0 by chance
    for worker in runs["resumed"]:
        error = np.abs(np.asarray(worker[checksum]) - single)
        assert np.all(error <= RTOL * (np.abs(single) + scale)), (checksum, error.max())
    assert runs["resumed"][0][checksum] == runs["resumed"][1][checksum]


def test_only_the_chief_keeps_checkpoints(runs):
    # Saved at iteration 2 (checkpoint_every) and not at 4, the last: the stage is done then.
    assert runs["checkpoints"] == ["checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
    assert sorted(p.name for p in (runs["store"] / "ckpt").iterdir()) == runs["checkpoints"]
    assert [sorted(os.listdir(folder)) for folder in runs["scratch"]] == [[], []]
