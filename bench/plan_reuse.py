"""How much work content keys save: the plan of whole suites, all steps vs distinct steps.

Builds, without training, the plan of every experiment of a suite (`TrainManager.plan`, the
same plan `python main.py --dry_run` prints) and counts steps and training iterations once per
experiment ("in all", what a runner without reuse would do) and once per distinct artefact key
("distinct", what ours does). Iterations are classes x the per-class value of each training
stage (step 0, helper decoders, incremental steps), as bound in the experiment's gin files: the
paper's values for the RECALL configs, the demo's for config/demo.gin.

Suites: config/suite.gin (joint + {gan, flickr} x {OVERLAPPED, DISJOINT, SEQUENTIAL} x 7
tests), the same plus the fine-tuning baselines, and the embedded demo. Keys need data, so a
tiny synthetic set and a one-image-per-class web replay folder are generated in a temporary
folder and bound in gin (`TrainManager.data_dir`, `WebReplay.folder`), with
`pretrained_encoder = None`. An experiment that TrainManager refuses (NotImplementedError) is
reported as not plannable. Asserts nothing.

Usage (from the repo root): python -m bench.plan_reuse
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import tempfile
from pathlib import Path

BASELINES = ["config/FINE_TUNING_OVERLAPPED_NO_MIX.gin", "config/FINE_TUNING_DISJOINT_NO_MIX.gin",
             "config/FINE_TUNING.gin", "config/FINE_TUNING_OVERLAPPED.gin",
             "config/FINE_TUNING_DISJOINT.gin"]
SUITES = (
    ("recall: config/suite.gin", ["config/suite.gin"], []),
    ("recall + 5 fine-tuning baselines", ["config/suite.gin"], [f"Suite.baselines = {BASELINES}"]),
    ("demo: config/demo.gin", ["config/demo.gin"],
     ["Suite.synthetic_data_dir = None", "Suite.replay_standins_dir = None"]),
)


@dataclasses.dataclass
class SuitePlan:
    """The plan steps of a suite's plannable experiments, and the refused ones."""

    name: str
    experiments: int = 0
    steps: list = dataclasses.field(default_factory=list)   # (kind, key, iterations)
    refused: dict = dataclasses.field(default_factory=dict)  # experiment -> error message


def step_iterations(plan_step) -> int:
    """Training iterations of a training stage (classes x per-class value); 0 for the rest."""
    from continual.data import splits

    stage = plan_step.inputs.get("stage")
    if not isinstance(stage, dict) or "steps_per_class" not in stage:
        return 0
    return splits.iterations(plan_step.step, stage["steps_per_class"])


def plan_suite(name: str, gin_files: list[str], params: list[str], data_dir: Path) -> SuitePlan:
    """Plan every experiment of one suite; record (not raise) TrainManager's refusals."""
    import suite as suite_module
    from continual.data.shards import open_record_set

    runner = suite_module.SuiteRunner.from_args(gin_files, params, Path("unused"))
    hashes = {split: open_record_set(data_dir, split).content_hash for split in ("train", "val")}
    result = SuitePlan(name, experiments=len(runner.experiments))
    for experiment in runner.experiments:
        try:
            manager = runner.manager(experiment)
        except NotImplementedError as error:
            result.refused[experiment.name] = str(error)
            continue
        result.steps += [(s.kind, s.key, step_iterations(s)) for s in manager.plan(hashes)]
    return result


def table_row(plan: SuitePlan) -> str:
    planned = plan.experiments - len(plan.refused)
    if not plan.steps:
        return (f"| {plan.name} | {plan.experiments} | not plannable yet ({len(plan.refused)} "
                "experiments refused) | - | - | - |")
    distinct = {(kind, key): iters for kind, key, iters in plan.steps}
    all_iters = sum(iters for _, _, iters in plan.steps)
    distinct_iters = sum(distinct.values())
    experiments = str(plan.experiments) + (f" ({planned} plannable)" if plan.refused else "")
    return (f"| {plan.name} | {experiments} | {len(plan.steps)} | {len(distinct)} | "
            f"{len(plan.steps) / len(distinct):.2f}x | {all_iters:,} vs {distinct_iters:,} "
            f"({all_iters / distinct_iters:.2f}x) |")


def kind_rows(plan: SuitePlan) -> list[str]:
    """Per artefact kind: steps in all vs distinct, for the suite's breakdown table."""
    rows = []
    for kind in sorted({kind for kind, _, _ in plan.steps}):
        mine = [(key, it) for k, key, it in plan.steps if k == kind]
        distinct = dict(mine)
        rows.append(f"| {plan.name} | {kind} | {len(mine)} | {len(distinct)} | "
                    f"{sum(it for _, it in mine):,} | {sum(distinct.values()):,} |")
    return rows


def make_inputs(folder: Path, images: int) -> list[str]:
    """Tiny training data and web replay folder under `folder`; the gin bindings to use them."""
    from continual.data.synthetic import generate_synthetic
    from continual.replay.web_standin import write_web_standin

    quiet = io.StringIO()  # the generators' summary lines and progress bars
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        generate_synthetic(folder / "data", size=32, num_train=images, num_val=images, seed=0)
        write_web_standin(folder / "web", per_class=1, size=32, seed=0)
    return [f"TrainManager.data_dir = '{folder / 'data'}'",
            "TrainManager.pretrained_encoder = None",
            f"TrainManager.checkpoint_dir = '{folder / 'checkpoints'}'",
            f"WebReplay.folder = '{folder / 'web'}'"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=24, help="synthetic train/val images")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        common = make_inputs(Path(tmp), args.images)
        plans = [plan_suite(name, files, params + common, Path(tmp) / "data")
                 for name, files, params in SUITES]
    print("| suite | experiments | steps in all experiments | distinct steps | reuse ratio "
          "(all / distinct) | training iterations in all vs distinct |")
    print("|---|---|---|---|---|---|")
    for plan in plans:
        print(table_row(plan))
    print("\n| suite | artefact kind | steps in all | distinct | iterations in all | distinct |")
    print("|---|---|---|---|---|---|")
    for plan in plans:
        print("\n".join(kind_rows(plan)))
    for plan in plans:
        for experiment, message in list(plan.refused.items())[:1]:
            print(f"\n{plan.name}: {len(plan.refused)} experiments refused, e.g. {experiment}: "
                  f"{message}")


if __name__ == "__main__":
    main()
