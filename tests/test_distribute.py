"""A train step under MirroredStrategy on two CPU replicas equals the same step on one device.

Logical devices must be configured before TensorFlow initialises, so each strategy runs in a
fresh interpreter (tests/distribute_worker.py); both run at once. The worker trains with
`StageTrainer.train` for 3 steps on the same batches of 4 images (2 per replica when
mirrored) and reports losses, the replica count and a checksum of each variable's update.

Batch normalisation: Keras BN under MirroredStrategy normalises with each replica's own batch
statistics (2 images instead of 4), which would make the runs differ for a legitimate reason.
RECALL never trains with batch statistics, so neither case here does:
- "decoder": the tiny encoder is frozen (`train_encoder=False`, the incremental step), so its
  BN runs in inference mode and only the decoder (no BN) trains;
- "encoder+decoder": a small DeepLab-v2 ResNet, whose BN is frozen by design
  (continual/plans/RECALL.md), trained with its decoder as in step 0; this checks the encoder's
  gradients are summed too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "distribute_worker.py"
CASES = ("decoder", "encoder+decoder")
RTOL = 1e-4


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, dict]]:
    """strategy -> case -> the worker's JSON report; both workers run concurrently."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
    workers = {name: subprocess.Popen([sys.executable, str(WORKER), name], cwd=ROOT, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("default", "mirrored")}
    reports = {}
    for name, worker in workers.items():
        stdout, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, f"{name} worker failed:\n{stderr[-4000:]}"
        lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        reports[name] = {line["case"]: line for line in lines}
        assert sorted(reports[name]) == sorted(CASES), f"{name} worker printed {stdout!r}"
    return reports


def test_mirrored_run_really_has_two_replicas(runs):
    for case in CASES:
        assert runs["default"][case]["replicas"] == 1
        assert runs["mirrored"][case]["replicas"] == 2


@pytest.mark.parametrize("case", CASES)
def test_mirrored_losses_equal_single_device_losses(runs, case):
    default, mirrored = runs["default"][case]["losses"], runs["mirrored"][case]["losses"]
    assert len(default) == 3 and len(set(default)) == 3  # three distinct batches were trained
    np.testing.assert_allclose(mirrored, default, rtol=RTOL)


@pytest.mark.parametrize("case", CASES)
def test_mirrored_weight_updates_equal_single_device_updates(runs, case):
    default, mirrored = runs["default"][case], runs["mirrored"][case]
    assert mirrored["trained_variables"] == default["trained_variables"]
    norms = np.asarray(default["update_norms"])
    assert np.all(norms > 0), "a trained variable did not change"
    np.testing.assert_allclose(mirrored["update_norms"], norms, rtol=RTOL)
    # A projection can be near 0 by chance: its tolerance scales with the update's norm.
    projections = np.asarray(default["update_projections"])
    error = np.abs(np.asarray(mirrored["update_projections"]) - projections)
    assert np.all(error <= RTOL * (np.abs(projections) + norms)), (
        f"update checksums differ: default {projections}, mirrored "
        f"{mirrored['update_projections']}")
    np.testing.assert_allclose(mirrored["weight_sum"], default["weight_sum"], rtol=RTOL)
