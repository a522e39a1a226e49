"""The baselines demo at its own settings holds its claim: ER ahead of fine-tuning in final
accuracy and forgetting, joint the upper bound (margins measured on the demo: see the note
in config/ports/baselines/demo.gin)."""

import pytest

import main
from continual.metrics import stream_metrics
from tests.core.stream_resume import records

DEMO = "config/ports/baselines/demo.gin"


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("baselines_demo")
    args = ["--gin_file", DEMO, "--workdir", str(tmp / "runs"),
            "--gin_param", f"Suite.stream_data_dir = '{tmp / 'data'}'",
            "--gin_param", f"StreamPlan.data_dir = '{tmp / 'data'}'",
            "--gin_param", f"TrainManager.checkpoint_dir = '{tmp / 'ckpt'}'"]
    assert main.main(args) == 0
    return {name: stream_metrics(records(tmp, name)) for name in ("JOINT", "FINETUNE", "ER")}


def test_er_beats_finetuning_and_joint_is_the_upper_bound(demo_results):
    joint, finetune, er = (demo_results[n] for n in ("JOINT", "FINETUNE", "ER"))
    assert er["final_accuracy"] > finetune["final_accuracy"] + 0.10
    assert er["forgetting"] < finetune["forgetting"] - 0.20
    assert joint["final_accuracy"] > er["final_accuracy"] + 0.05
