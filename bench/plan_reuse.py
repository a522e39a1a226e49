"""How much work content keys save: the plan of whole suites, all steps vs distinct steps.

Builds, without training, the plan of every experiment of a suite (`TrainManager.plan`, the
same plan `python main.py --dry_run` prints) and counts steps and training iterations once per
experiment ("in all", what a runner without reuse would do) and once per distinct artefact key
("distinct", what ours does). Iterations are classes x the per-class value of each stage, as
bound in the experiment's gin files (the paper's values for the RECALL configs).

Suites: config/suite.gin as committed (joint + fine-tuning baselines while replay is missing),
the intended RECALL grid (joint + {gan, flickr} x {OVERLAPPED, DISJOINT, SEQUENTIAL} x 7 tests;
an experiment TrainManager refuses is counted as not plannable), and the embedded demo.
Keys need data manifests, so a tiny synthetic set is generated in a temporary folder and bound
as `TrainManager.data_dir`; `pretrained_encoder = None`. Asserts nothing.

Usage (from the repo root): python -m bench.plan_reuse
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import tempfile
from pathlib import Path

import gin

ROOT = Path(__file__).resolve().parent.parent
INTENDED_GRID = [
    "Suite.configs = ['config/OVERLAPPED.gin', 'config/DISJOINT.gin', 'config/SEQUENTIAL.gin']",
    "Suite.sources = ['gan', 'flickr']",
]
SUITES = (
    ("recall: config/suite.gin (baselines)", ["config/suite.gin"], []),
    ("recall: intended grid (replay)", ["config/suite.gin"], INTENDED_GRID),
    ("demo: config/demo.gin", ["config/demo.gin"], ["Suite.synthetic_data_dir = None"]),
)


@dataclasses.dataclass
class SuitePlan:
    """Model and evaluation steps of a suite's plannable experiments, and the refused ones."""

    name: str
    experiments: int = 0
    steps: list = dataclasses.field(default_factory=list)   # (kind, key, iterations)
    refused: dict = dataclasses.field(default_factory=dict)  # experiment -> error message


def step_iterations(plan_step) -> int:
    """Training iterations of a model step (classes x per-class value); 0 for evaluations."""
    from recall.data import splits

    if plan_step.kind == "evaluation":
        return 0
    return splits.iterations(plan_step.step, plan_step.inputs["stage"]["steps_per_class"])


def plan_suite(name: str, gin_files: list[str], params: list[str], data_dir: Path) -> SuitePlan:
    """Plan every experiment of one suite; record (not raise) TrainManager's refusals."""
    import suite as suite_module
    from recall.data.shards import open_record_set

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
    if planned < plan.experiments:
        return (f"| {plan.name} | {plan.experiments} ({planned} plannable) | not plannable yet "
                f"({len(plan.refused)} experiments refused, NotImplementedError) | - | - | - |")
    distinct = {(kind, key): iters for kind, key, iters in plan.steps}
    all_iters = sum(iters for _, _, iters in plan.steps)
    distinct_iters = sum(distinct.values())
    return (f"| {plan.name} | {plan.experiments} | {len(plan.steps)} | {len(distinct)} | "
            f"{len(plan.steps) / len(distinct):.2f}x | {all_iters:,} vs {distinct_iters:,} "
            f"({all_iters / distinct_iters:.2f}x) |")


def kind_rows(plan: SuitePlan) -> list[str]:
    """Per artefact kind: steps in all vs distinct, for the suite's breakdown table."""
    rows = []
    for kind in sorted({kind for kind, _, _ in plan.steps}):
        mine = [(k, key, it) for k, key, it in plan.steps if k == kind]
        distinct = {key: it for _, key, it in mine}
        rows.append(f"| {plan.name} | {kind} | {len(mine)} | {len(distinct)} | "
                    f"{sum(it for *_, it in mine):,} | {sum(distinct.values()):,} |")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=24, help="synthetic train/val images")
    args = parser.parse_args(argv)
    gin.add_config_file_search_path(str(ROOT))
    from recall.data.synthetic import generate_synthetic

    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        quiet = io.StringIO()  # the generator's summary lines and progress bars
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            generate_synthetic(Path(tmp) / "data", size=32, num_train=args.images,
                               num_val=args.images, seed=0)
        data_dir = Path(tmp) / "data"
        common = [f"TrainManager.data_dir = '{data_dir}'",
                  "TrainManager.pretrained_encoder = None",
                  f"TrainManager.checkpoint_dir = '{Path(tmp) / 'checkpoints'}'"]
        plans = [plan_suite(name, files, params + common, data_dir)
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
            print(f"\n{plan.name}: e.g. {experiment} refused: {message}")


if __name__ == "__main__":
    main()
