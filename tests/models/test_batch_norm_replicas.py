"""Training BN gives the same results on one replica and on two when it is synchronised.

tests/models/sync_bn_worker.py trains the tiny encoder (RECALL step 0) and the ports'
tiny_convnet classifier for three steps on the same batches of 8 images, on one device and under
MirroredStrategy over two logical CPUs (4 images per replica), each in a fresh interpreter (the
two run at once). With `sync_batch_norm` at auto the two-replica run must match the one-device
run; with it bound False each replica normalises with its own 4 images, and the results must
differ, which shows the comparison can fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gin
import numpy as np
import pytest
import tensorflow as tf

from continual.models.batch_norm import sync_batch_norm

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().parent / "sync_bn_worker.py"
MODELS = ("tiny_encoder", "tiny_convnet")
RTOL = 1e-4  # float32 all-reduce of moments vs one device's moments: ~1e-6 observed
DIFFERENT = 1e-3  # per-replica BN moved some statistic by more than this (~5% observed)


@pytest.fixture(scope="module")
def runs() -> dict[tuple, dict]:
    """(replicas, model, sync) -> the worker's report."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
    workers = [subprocess.Popen([sys.executable, str(WORKER), mode], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for mode in ("one", "two")]
    reports = {}
    for worker in workers:
        stdout, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, f"worker failed:\n{stderr[-4000:]}"
        for line in stdout.splitlines():
            if line.startswith("{"):
                report = json.loads(line)
                reports[report["replicas"], report["model"], report["sync"]] = report
    assert len(reports) == 6, sorted(reports)
    return reports


def _values(report: dict) -> np.ndarray:
    return np.asarray(report["losses"] + report["weights"] + report["moving_statistics"])


def _relative_gap(a: dict, b: dict) -> float:
    one, two = _values(a), _values(b)
    return float(np.max(np.abs(one - two) / (np.abs(one) + 1e-3)))


@pytest.mark.parametrize("model", MODELS)
def test_two_replicas_with_synchronised_bn_match_one_device(runs, model):
    one, two = runs[1, model, None], runs[2, model, None]
    assert one["synchronized"] == [False]  # one replica: plain BN, the same computation
    assert two["synchronized"] == [True]   # auto turns it on for two replicas
    assert len(set(one["losses"])) == 3
    np.testing.assert_allclose(_values(two), _values(one), rtol=RTOL, atol=1e-6)


@pytest.mark.parametrize("model", MODELS)
def test_two_replicas_with_per_replica_bn_differ_from_one_device(runs, model):
    two_plain = runs[2, model, False]
    assert two_plain["synchronized"] == [False]
    assert _relative_gap(runs[1, model, None], two_plain) > DIFFERENT


def test_switch_is_plain_bn_on_one_replica_and_rejects_non_booleans():
    gin.parse_config("sync_batch_norm.enabled = True")
    assert sync_batch_norm() is False  # default strategy: one replica
    with pytest.raises(TypeError, match="sync_batch_norm.enabled = 'yes'"):
        sync_batch_norm(enabled="yes")
    assert tf.distribute.get_strategy().num_replicas_in_sync == 1
