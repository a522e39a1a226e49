"""A stream experiment without its record set: the error that names the classification
converters, and, for `--dry_run`, a placeholder scenario so the plan still prints.

A dry run on a machine that lacks the data plans every stage of the experiment: the keys hash
a placeholder (`missing:<path>`) instead of the data's content, and the experiences are those
the scenario's `num_tasks` binding asks for (one for joint), without their rows. Nothing is
reused or written under such keys (see `continual.planning.inputs_may_be_missing`).
"""

from __future__ import annotations

import inspect
from pathlib import Path

from continual import planning
from continual.data.manifest import manifest_path
from continual.data.scenarios.experience import Experience, Scenario

CONVERTERS = (
    "`python -m continual.data.image_folder --root <folder with train/<class>/* and "
    "test/<class>/*> --out {out}`",
    "`python -m continual.data.cifar --root <folder holding CIFAR's python version> "
    "--out {out}`",
    "`python -m continual.data.idx --images <idx images> --labels <idx labels> --split train "
    "--out {out}` (then --split test)",
    "`python -m continual.data.synthetic_stream --out {out}` (generated stand-in data)",
)
SINGLE_EXPERIENCE = ("joint", "cumulative_joint")


def missing_splits(data_dir: Path, splits: dict[str, str]) -> dict[str, Path]:
    """The manifests (by role) of the splits that `data_dir` does not hold."""
    paths = {role: manifest_path(data_dir, split) for role, split in splits.items()}
    return {role: path for role, path in paths.items() if not path.exists()}


def missing_data_error(paths: list[Path], data_dir: Path) -> FileNotFoundError:
    """What to do about missing splits of a stream experiment's record set."""
    out = str(data_dir)
    return FileNotFoundError(
        f"{' and '.join(str(p) for p in paths)} {'do' if len(paths) > 1 else 'does'} not exist: "
        f"StreamPlan.data_dir = {out!r} holds no complete classification record set with "
        f"{'those splits' if len(paths) > 1 else 'that split'}. Convert your data with "
        + "; or ".join(c.format(out=out) for c in CONVERTERS)
        + "; or bind StreamPlan.data_dir to a set you have")


def placeholders(missing: dict[str, Path], data_dir: Path, roles) -> dict:
    """One placeholder record set for every role while a dry run plans (raises otherwise)."""
    part = planning.missing_input(data_dir, missing_data_error(list(missing.values()), data_dir))
    return {role: planning.MissingRecordSet(part) for role in roles}


def placeholder_scenario(scenario_fn, data_part: str) -> Scenario:
    """The experiences a scenario will have, without their rows: `num_tasks` as bound (one
    for a joint scenario, and for a scenario that the data alone cut)."""
    name = getattr(scenario_fn, "__name__", str(scenario_fn))
    count = 1
    if name not in SINGLE_EXPERIENCE and "num_tasks" in inspect.signature(scenario_fn).parameters:
        count = planning.check_int(f"{name}.num_tasks",
                                   planning.bound_value(scenario_fn, "num_tasks"), minimum=1)
    experiences = tuple(Experience(index=i, train_ids=(), classes=(), seen_classes=(),
                                   eval_ids=()) for i in range(count))
    return Scenario(name=name, params={"data": data_part}, experiences=experiences,
                    task_test_ids=((),) * count, num_classes=0)
