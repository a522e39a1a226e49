"""Stream methods trained data-parallel on two replicas equal the same run on one device.

tests/methods/stream_replicas_worker.py trains each method with the experience loop for two
experiences (stream batches of 6 rows plus, for ER, replay batches of 4; an odd last batch of 2)
on one device and under MirroredStrategy over two logical CPUs, each in a fresh interpreter
(the two run at once). The runs must agree within 1e-4 in every step's loss, every float
variable the method checkpoints (weights, BN statistics: the tiny convnet's BN trains,
synchronised across replicas; optimiser slots; RWalk's path score and Fisher, EWC's anchors,
BiC's bias) and the buffer's contents. Methods: fine-tuning (also joint), ER, RM's joint
reference, the linear probe, Rainbow Memory (CutMix, uncertainty memory) and its baselines
EWC, RWalk, iCaRL, GDumb, BiC (their loop at batch 4), SSLAD (every loss term, sweeps, head
steps on an odd number of memory rows, or head epochs), SimSiam with FIFO and MinRed buffers
of one shard per replica, Kaizen / CaSSLe / no-distill with BYOL (momentum encoder, SyncBN
heads, the online probe's own rows split), Kaizen with MoCo v2+ (its queue of the whole batch's
keys), CaSSLe with SimCLR (NT-Xent and the contrastive distiller over the whole batch) and
Kaizen with VICReg (variance and covariance of the whole batch). A method whose step does not
split the batch is refused under several replicas instead of training on one device.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from continual.errors import InputError
from continual.methods import data_parallel
from continual.methods.base import StreamMethod
from continual.methods.baselines import ExperienceReplay, FineTuning
from continual.methods.kaizen import Kaizen
from continual.methods.rainbow_memory import RainbowMemory
from continual.methods.rainbow_memory.bic import BiC
from continual.methods.rainbow_memory.ewc import EWC
from continual.methods.rainbow_memory.gdumb import GDumb
from continual.methods.rainbow_memory.icarl import ICaRL
from continual.methods.rainbow_memory.joint_reference import JointFromScratch
from continual.methods.rainbow_memory.rwalk import RWalk
from continual.methods.simsiam_stream import SimSiamStream
from continual.methods.sslad.method import UncertaintyGuidedReplay
from training import _check_strategy_fits

# Two worker processes train 22 cases on one device and on two logical CPUs: ~3 minutes on 2
# cores, so slow (python3 bootstrap.py test -m slow).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().parent / "stream_replicas_worker.py"
CASES = ("finetune", "er", "joint_from_scratch", "linear_probe", "rainbow_memory", "ewc",
         "rwalk", "icarl", "gdumb", "bic", "sslad", "sslad_head_epochs", "simsiam_fifo",
         "simsiam_minred", "kaizen_byol", "cassle_byol", "no_distill_byol", "kaizen_mocov2plus",
         "cassle_simclr", "kaizen_vicreg")
RTOL = 1e-4
# SimSiam's loss is a mean cosine near 0 and its ten updates at lr 0.1 amplify float rounding
# (its first step agrees to 3e-7 relative, its buffer's loss statistics after the run to
# ~1.2e-4): (relative, absolute) tolerance 3e-4, 1e-5 (its predictor BN's moving mean is ~1e-8).
# A wrong split moves values by far more: BN statistics per replica by ~5 %
# (tests/models/test_batch_norm_replicas.py), a loss averaged per replica doubles the step.
TOLERANCE = {"simsiam_fifo": (3e-4, 1e-5), "simsiam_minred": (3e-4, 1e-5)}


def _tolerance(case: str) -> tuple[float, float]:
    return TOLERANCE.get(case, (RTOL, 0.0))


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, dict]]:
    """strategy -> case -> the worker's report; both workers run concurrently."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
    workers = {name: subprocess.Popen([sys.executable, str(WORKER), name, *CASES], cwd=ROOT,
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
               for name in ("default", "mirrored")}
    reports = {}
    for name, worker in workers.items():
        stdout, stderr = worker.communicate(timeout=600)
        assert worker.returncode == 0, f"{name} worker failed:\n{stderr[-4000:]}"
        lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        reports[name] = {line["case"]: line for line in lines}
        assert sorted(reports[name]) == sorted(CASES), f"{name} worker printed {stdout!r}"
    return reports


def test_the_mirrored_run_really_splits_each_batch_over_two_replicas(runs):
    for case in CASES:
        assert runs["default"][case]["replicas"] == 1
        assert runs["mirrored"][case]["replicas"] == 2
        assert runs["default"][case]["sliced_on_replicas"] == []
        assert runs["mirrored"][case]["sliced_on_replicas"] == [0, 1]


@pytest.mark.parametrize("case", CASES)
def test_losses_equal_one_device(runs, case):
    default, mirrored = runs["default"][case]["losses"], runs["mirrored"][case]["losses"]
    assert len(default) >= 5 and len(set(default)) == len(default)
    rtol, atol = _tolerance(case)
    np.testing.assert_allclose(mirrored, default, rtol=rtol, atol=atol)
    # loss terms and head steps' losses (some are 0 before replay starts)
    np.testing.assert_allclose(runs["mirrored"][case]["outputs"], runs["default"][case]["outputs"],
                               rtol=rtol, atol=max(atol, 1e-6))


@pytest.mark.parametrize("case", CASES)
def test_weights_equal_one_device(runs, case):
    default, mirrored = runs["default"][case], runs["mirrored"][case]
    norms = np.asarray(default["weight_norms"])
    rtol, atol = _tolerance(case)
    np.testing.assert_allclose(mirrored["weight_norms"], norms, rtol=rtol, atol=atol)
    for name in ("weight_sums", "weight_projections"):  # near 0 by chance: scaled by the norm
        one, two = np.asarray(default[name]), np.asarray(mirrored[name])
        assert one.shape == two.shape
        assert np.all(np.abs(two - one) <= rtol * (np.abs(one) + norms) + atol), (name, one,
                                                                                 two)


def test_buffer_contents_equal_one_device(runs):
    for case in ("er", "rainbow_memory", "ewc", "rwalk", "icarl", "gdumb", "bic"):
        assert len(runs["default"][case]["buffer_ids"]) == 8  # the memory filled up
    assert runs["default"]["sslad"]["buffer_ids"]  # swept down, not empty
    for case in ("simsiam_fifo", "simsiam_minred"):  # one 6-item shard per replica, full
        assert len(runs["default"][case]["buffer_ids"]) == 12
    assert runs["default"]["simsiam_fifo"]["buffer_ids"] != runs["default"]["simsiam_minred"][
        "buffer_ids"]  # MinRed removed by redundancy, not by age
    for case in ("kaizen_byol", "kaizen_mocov2plus", "kaizen_vicreg"):  # half of each class
        assert len(runs["default"][case]["buffer_ids"]) == 6
    assert runs["default"]["cassle_byol"]["buffer_ids"] == []  # CaSSLe replays nothing
    for case in CASES:
        assert runs["mirrored"][case]["buffer_ids"] == runs["default"][case]["buffer_ids"]


def _two_replicas():
    return SimpleNamespace(num_replicas_in_sync=2, cluster_resolver=None)


@pytest.mark.parametrize("method", [FineTuning, ExperienceReplay, JointFromScratch,
                                    RainbowMemory, EWC, RWalk, ICaRL, GDumb, BiC,
                                    UncertaintyGuidedReplay, SimSiamStream, Kaizen])
def test_converted_methods_are_accepted_on_two_replicas(method):
    assert data_parallel.refusal(method, _two_replicas()) is None
    _check_strategy_fits(SimpleNamespace(kind="stream", method_cls=method), _two_replicas(),
                         "exp")


class OneDeviceMethod(StreamMethod):
    """A stream method that does not declare `data_parallel`."""


def test_a_method_not_converted_is_refused_on_two_replicas_not_run_on_one():
    planner = SimpleNamespace(kind="stream", method_cls=OneDeviceMethod)
    with pytest.raises(InputError, match="OneDeviceMethod runs on one device only"):
        _check_strategy_fits(planner, _two_replicas(), "exp")
    one = SimpleNamespace(num_replicas_in_sync=1, cluster_resolver=None)
    _check_strategy_fits(planner, one, "exp")  # one device: nothing to refuse


def test_the_declaration_is_not_inherited():
    """A subclass that changes the step must declare itself: it is not converted by its base."""

    class ChangedStep(FineTuning):
        def _replica_step(self, images, labels):
            raise NotImplementedError

    assert "ChangedStep runs on one device only" in data_parallel.refusal(ChangedStep,
                                                                          _two_replicas())
