"""Stream scenarios: functions of (train set, test set, seed) that cut records into experiences.

Each scenario is a `@gin.configurable` function in its own module and is registered here by
name, so a config picks one with `make_scenario(name, ...)` and binds its arguments in gin
(`blurry.blurry_percent = 30`).
"""

from __future__ import annotations

from collections.abc import Callable

from continual.data.manifest import Manifest
from continual.data.scenarios.blurry import blurry
from continual.data.scenarios.by_attribute import by_attribute
from continual.data.scenarios.class_incremental import class_incremental
from continual.data.scenarios.class_sequential import class_sequential_runs
from continual.data.scenarios.experience import Experience, Scenario
from continual.data.scenarios.iid import iid
from continual.data.scenarios.joint import joint
from continual.data.scenarios.video_runs import video_runs

SCENARIOS: dict[str, Callable[..., Scenario]] = {
    "class_incremental": class_incremental,
    "blurry": blurry,
    "by_attribute": by_attribute,
    "class_sequential_runs": class_sequential_runs,
    "iid": iid,
    "joint": joint,
    "video_runs": video_runs,
}

__all__ = ["SCENARIOS", "Experience", "Scenario", "blurry", "by_attribute", "class_incremental",
           "class_sequential_runs", "iid", "joint", "make_scenario", "video_runs"]


def make_scenario(name: str, train: Manifest, test: Manifest, seed: int) -> Scenario:
    """The scenario `name` of (train, test, seed), with its arguments from gin."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {sorted(SCENARIOS)}")
    return SCENARIOS[name](train, test, seed)
