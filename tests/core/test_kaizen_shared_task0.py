"""Task 0 of Kaizen, CaSSLe and no-distill is trained once: their replay and distillation
bindings (`Kaizen.first_experience_invariant`) stay out of the keys of the initial state and
of task 0, and the state after task 0 does not depend on them, so a Kaizen run that reuses
no-distill's task 0 gives exactly the numbers of a Kaizen run that trains its own."""

import re
from pathlib import Path

import pytest

import main
from continual.data.synthetic_stream import generate_stream_set
from tests.core.stream_resume import records
from tests.core.test_kaizen_demo import kaizen_args
from tests.core.test_stream_keys import plan_keys

SHARED = ("init", "eval_init", "exp0", "eval0")
TINY = ("Kaizen.epochs = 1", "Kaizen.warmup_epochs = 0", "StreamPlan.evaluate_random_init = True")


def plan_lines(out: str) -> dict[str, dict[str, tuple[str, str]]]:
    """experiment -> step -> (key, action) from a --dry_run printout."""
    plans, current = {}, None
    for line in out.splitlines():
        header = re.fullmatch(r"(\S+)  \(\S+\)", line)
        if header:
            current = plans.setdefault(header.group(1), {})
        elif current is not None and line.startswith("  "):
            step, _kind, key, action = line.split(maxsplit=3)
            reason_aside = action if action.startswith("reuse") else action.split(" (")[0]
            current[step] = (key, reason_aside)  # why a step trains, left aside
    return plans


def test_dry_run_shows_task_0_reused_by_two_of_the_three(tmp_path, capsys):
    args = kaizen_args(tmp_path, *TINY, only=())
    assert main.main([*args, "--dry_run"]) == 0
    plans = plan_lines(capsys.readouterr().out)
    assert list(plans) == ["NO_DISTILL", "CASSLE", "KAIZEN"]
    for name in ("CASSLE", "KAIZEN"):
        for step in SHARED:
            assert plans[name][step] == (plans["NO_DISTILL"][step][0],
                                         "reuse (from NO_DISTILL)"), (name, step)
        for step in ("exp1", "eval1"):  # the flags act from task 1 on: own keys
            assert plans[name][step][1] in ("train", "evaluate"), (name, step)
    assert len({plans[n]["exp1"][0] for n in plans}) == 3


def _records(tmp: Path, name: str) -> list[tuple]:
    return [(r["experience"], r["eval_key"], r["accuracy"], tuple(r["accuracy_row"]))
            for r in records(tmp, name)]


@pytest.mark.slow  # two short runs through main (~1 min on 2 cores)
def test_kaizen_on_no_distills_task_0_equals_kaizen_on_its_own(tmp_path):
    shared, alone = tmp_path / "shared", tmp_path / "alone"
    data = tmp_path / "data"
    assert main.main(kaizen_args(shared, *TINY, only=("NO_DISTILL", "KAIZEN"), data=data)) == 0
    assert main.main(kaizen_args(alone, *TINY, only=("KAIZEN",), data=data)) == 0
    trained = list((shared / "ckpt").rglob("stream_experience/*/COMPLETE.json"))
    assert len(trained) == 3                  # exp0 once, exp1 for each of the two
    assert _records(shared, "KAIZEN") == _records(alone, "KAIZEN")


FLAGS = ("Kaizen.replay = False", "Kaizen.distill_features = False",
         "Kaizen.distill_classifier = False", "Kaizen.feature_distill_weight = 0.5",
         "Kaizen.classifier_distill_weight = 0.5", "Kaizen.distill_temperature = 0.3")
SMALL = ("ProportionPerClassPolicy.replay_proportion = 0.5", "class_incremental.num_tasks = 2")
FILES = ("config/ports/kaizen/KAIZEN.gin", "config/ports/kaizen/demo.gin")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("kaizen_keys")   # 40 rows a task: at least one batch of 32
    generate_stream_set(out, num_classes=10, size=12, train_per_class=8, test_per_class=2)
    return out


def test_only_the_declared_bindings_leave_the_task_0_keys(data_dir):
    base = plan_keys(data_dir, *SMALL, files=FILES)
    flags = plan_keys(data_dir, *SMALL, *FLAGS, files=FILES)
    assert {s: flags[s] for s in SHARED} == {s: base[s] for s in SHARED}
    assert flags["exp1"] != base["exp1"] and flags["eval1"] != base["eval1"]
    weight = plan_keys(data_dir, *SMALL, "Kaizen.classifier_loss_weight = 0.5", files=FILES)
    assert weight["exp0"] != base["exp0"]     # w_c acts in task 0: not left out
