"""The baselines demo the main command runs (config/ports/baselines/demo_seeds.gin, seeds 1-3)
holds its claims on paired differences: ER ahead of fine-tuning in final accuracy and in
forgetting, joint the upper bound, each 'shown' in the summary's claims (mean paired
difference beyond twice its standard deviation over the three seeds)."""

import csv

import numpy as np
import pytest

import main
from continual.metrics import stream_metrics
from tests.core.stream_resume import records

DEMO = "config/ports/baselines/demo_seeds.gin"
SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("baselines_demo")
    args = ["--gin_file", DEMO, "--workdir", str(tmp / "runs"), "--quiet",
            "--gin_param", f"Suite.stream_data_dir = '{tmp / 'data'}'",
            "--gin_param", f"StreamPlan.data_dir = '{tmp / 'data'}'",
            "--gin_param", f"TrainManager.checkpoint_dir = '{tmp / 'ckpt'}'"]
    assert main.main(args) == 0
    return tmp


def paired(tmp, a: str, b: str, metric: str) -> np.ndarray:
    """a - b of each seed (the same stream, split and initial weights)."""
    return np.array([stream_metrics(records(tmp, f"{a}_seed{s}"))[metric]
                     - stream_metrics(records(tmp, f"{b}_seed{s}"))[metric] for s in SEEDS])


@pytest.mark.parametrize("a, b, metric, sign", [
    ("ER", "FINETUNE", "final_accuracy", 1), ("ER", "FINETUNE", "forgetting", -1),
    ("JOINT", "ER", "final_accuracy", 1)])
def test_each_claim_holds_by_its_paired_margin_over_three_seeds(demo_run, a, b, metric, sign):
    d = sign * paired(demo_run, a, b, metric)
    assert d.mean() > 2 * d.std(ddof=1), (a, b, metric, d)


def test_the_summary_says_every_claim_is_shown(demo_run):
    with (demo_run / "runs" / "summary_claims.csv").open() as handle:
        verdicts = {(r["claim"], r["metric"]): r["verdict"] for r in csv.DictReader(handle)}
    assert len(verdicts) == 3 and set(verdicts.values()) == {"shown"}, verdicts
