"""The Rainbow Memory demo through main.py: RM ahead of fine-tuning by the paired margin over
seeds 1, 2, 3 (the full demo, slow: ahead of every baseline), the mean ± std table over seeds,
bad input refused before training, and a SIGKILL mid-task resumed to the same numbers. The
demo's experiments are `<FILE>_seed<s>`."""

import csv
import subprocess
from pathlib import Path

import numpy as np
import pytest

import main
from continual.data.synthetic_stream import generate_stream_set
from continual.metrics import stream_metrics
from continual.reporting.claims import MARGIN, SHOWN
from tests.core.stream_resume import final_buffer, kill_mid_experience, records, start_main
from tests.core.test_stream_keys import plan_keys

ROOT = Path(main.__file__).resolve().parent
DEMO = "config/ports/rainbow_memory/demo.gin"


def rm_args(tmp: Path, *extra: str, only=("RM_seed1",), small: bool = True) -> list[str]:
    sizes = ["generate_stream_set.size = 12", "generate_stream_set.train_per_class = 20",
             "generate_stream_set.test_per_class = 4", "EpisodicBuffer.capacity = 20",
             "RainbowMemory.memory_epochs = 2"] if small else []  # else the demo's sizes
    params = [f"Suite.stream_data_dir = '{tmp / 'data'}'",
              f"StreamPlan.data_dir = '{tmp / 'data'}'",
              f"TrainManager.checkpoint_dir = '{tmp / 'ckpt'}'", *sizes, *extra]
    args = ["--gin_file", DEMO, "--workdir", str(tmp / "runs")]
    for name in only:
        args += ["--only", name]
    for param in params:
        args += ["--gin_param", param]
    return args


SEEDS = (1, 2, 3)


def paired_differences(tmp: Path, better: str, worse: str) -> list[float]:
    """A_last of `better` minus `worse`, seed by seed (same stream, split and initial weights)."""
    def final(name: str, seed: int) -> float:
        return stream_metrics(records(tmp, f"{name}_seed{seed}"))["final_accuracy"]
    return [final(better, s) - final(worse, s) for s in SEEDS]


def summary_verdicts(tmp: Path) -> dict[str, str]:
    with (tmp / "runs" / "summary_claims.csv").open() as handle:
        return {row["claim"]: row["verdict"] for row in csv.DictReader(handle)}


def assert_claim_shown(tmp: Path, better: str, worse: str) -> None:
    """The margin of issue 21 item 1: mean paired difference beyond twice its std over seeds,
    computed here from the runs' rows and stated as 'shown' by the summary's Claims table."""
    diffs = paired_differences(tmp, better, worse)
    assert np.mean(diffs) > MARGIN * np.std(diffs, ddof=1), (better, worse, diffs)
    assert summary_verdicts(tmp)[f"{better} > {worse}"] == SHOWN


@pytest.mark.slow  # RM and fine-tuning at the demo's sizes over three seeds: minutes on 2 cores
def test_rm_beats_finetuning_over_three_paired_seeds(tmp_path):
    """A slice of the demo (its sizes, RM and fine-tuning only, seeds 1, 2, 3): RM ahead of
    fine-tuning in A_last by more than twice the paired difference's std over the seeds."""
    only = [f"{name}_seed{s}" for name in ("RM", "FINETUNE") for s in SEEDS]
    assert main.main(rm_args(tmp_path, only=only, small=False)) == 0
    assert_claim_shown(tmp_path, "RM", "FINETUNE")
    assert [r["scenario"] for r in records(tmp_path, "RM_seed1")][-1] == "blurry"
    assert records(tmp_path, "RM_seed1")[-1]["a_avg_rule"] == "last epoch"


@pytest.mark.slow  # the whole demo; the default run holds RM > fine-tuning on its slice
def test_the_demo_shows_every_claim_over_three_paired_seeds(tmp_path):
    """The full demo: RM above fine-tuning (A_last, Blurry10-Online) by the paired margin,
    the claim its Suite.claims does not declare open; the open ones (above EWC, GDumb and
    random memory) are computed and given a verdict."""
    assert main.main(rm_args(tmp_path, only=(), small=False)) == 0
    assert_claim_shown(tmp_path, "RM", "FINETUNE")
    verdicts = summary_verdicts(tmp_path)
    assert len(verdicts) == 4 and all(verdicts.values())


@pytest.mark.slow  # tests/reporting/test_seed_tables.py checks the table in the default run
def test_summary_prints_mean_and_std_over_the_seeds(tmp_path, capsys):
    """Two seeds of fine-tuning on tiny data: one 'Over seeds' line with mean ± std."""
    args = rm_args(tmp_path, "Suite.experiments = [{'file': "
                   "'config/ports/rainbow_memory/FINETUNE.gin', 'seeds': [1, 2]}]",
                   only=("FINETUNE_seed*",))
    assert main.main(args) == 0
    out = capsys.readouterr().out
    finals = [stream_metrics(records(tmp_path, f"FINETUNE_seed{s}"))["final_accuracy"]
              for s in (1, 2)]
    mean, std = 100 * np.mean(finals), 100 * np.std(finals, ddof=1)
    assert "## Over seeds" in out
    assert f"| FINETUNE | finetune | 1, 2 | {mean:.1f} ± {std:.1f} |" in out, out


@pytest.mark.parametrize("binding, message", [
    ("blurry.blurry_percent = 100", "blurry.blurry_percent"),
    ("blurry.blurry_percent = -10", "blurry.blurry_percent"),
    ("blurry.num_tasks = 3", "blurry.num_tasks"),
    ("EpisodicBuffer.capacity = 5", "EpisodicBuffer.capacity"),
    ("ExperienceLoop.replay_batch_size = 0", "ExperienceLoop.replay_batch_size"),
    ("RainbowMemory.transforms = ['autoaug', 'autoaug']", "RainbowMemory.transforms"),
    ("RainbowMemory.transforms = ['randaug']\nRandAugment.magnitude = 12",
     "RandAugment.magnitude"),
    ("StreamPlan.top_k = 11", "StreamPlan.top_k"),
    ("RainbowMemory.transforms = ['mixup']", "RainbowMemory.transforms"),
    ("RainbowMemory.uncertainty_metric = 'loss'", "RainbowMemory.uncertainty_metric"),
    ("RainbowMemory.stream = 'batch'", "RainbowMemory.stream"),
    ("RainbowMemory.sched_name = 'step'", "RainbowMemory.sched_name"),
    ("EpisodicBuffer.policy = 'fifo'", "EpisodicBuffer.policy"),
])
def test_bad_rm_input_fails_before_training(tmp_path, capsys, binding, message):
    assert main.main(rm_args(tmp_path, binding)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert not list((tmp_path / "ckpt").rglob("COMPLETE.json"))


def test_a_rainbow_memory_binding_gdumb_would_override_fails_before_training(tmp_path, capsys):
    """GDumb passes its own transforms: a differing suite-wide RainbowMemory.transforms would
    do nothing for it, so the run stops naming the binding to use."""
    args = rm_args(tmp_path, "GDumb.memory_epochs = 2", "RainbowMemory.transforms = ['cutout']",
                   only=("GDUMB_seed1",))
    assert main.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "bind GDumb.transforms instead" in err, err


RM_PERTURBED = [
    "RainbowMemory.stream = 'offline'", "RainbowMemory.memory_epochs = 3",
    "RainbowMemory.transforms = ['cutout']", "RainbowMemory.warm_start_factor = 0.2",
    "EpisodicBuffer.policy = 'random_subset'", "blurry.blurry_percent = 30",
    "RainbowMemory.sched_name = 'multistep'",
]


@pytest.fixture(scope="module")
def keys_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rm_keys")
    generate_stream_set(out, num_classes=10, size=12, train_per_class=10, test_per_class=2)
    return out


@pytest.mark.parametrize("binding", RM_PERTURBED)
def test_rm_bindings_enter_the_keys(keys_data, binding):
    files = ("config/ports/rainbow_memory/RM.gin",)
    base = plan_keys(keys_data, "EpisodicBuffer.capacity = 20", files=files)
    changed = plan_keys(keys_data, "EpisodicBuffer.capacity = 20", binding, files=files)
    assert changed["exp0"] != base["exp0"], binding


def _run(tmp: Path) -> subprocess.Popen:
    args = rm_args(tmp, "ExperienceLoop.checkpoint_every = 2", "blurry.num_tasks = 2")
    return start_main(args)


def _numbers(tmp: Path) -> list[tuple]:
    return [(r["experience"], r["accuracy"], tuple(r["accuracy_row"]), r["eval_key"])
            for r in records(tmp, "RM_seed1")]


@pytest.mark.slow  # same resume logic as test_stream_run.py SIGKILL test (default run)
def test_sigkill_mid_task_then_rerun_gives_the_same_numbers_and_memory(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert _run(reference).wait(timeout=600) == 0
    kill_mid_experience(lambda: _run(killed), killed / "ckpt")
    assert _run(killed).wait(timeout=600) == 0
    assert _numbers(killed) == _numbers(reference)
    got, want = final_buffer(killed, "RM_seed1"), final_buffer(reference, "RM_seed1")
    assert got.keys() == want.keys() and any("ids" in n for n in want)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
