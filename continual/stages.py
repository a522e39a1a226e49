"""What every stage shares: its context, the registry of stage functions, and running one.

A stage turns complete upstream artefacts into its own artefact folder and returns the info its
completion marker records (written after every file, so a half-written stage never counts).
Stage functions register themselves by artefact kind (`@register_stage("model_step0")`); a
plan only names kinds, so plans and stages never import each other in a circle.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from continual import code_keys
from continual.data.manifest import Manifest, read_manifest
from continual.data.pipeline import EncodedRecords

StageFunction = Callable[["StageContext", object, Path], dict]
_REGISTRY: dict[str, StageFunction] = {}


@dataclasses.dataclass
class StageContext:
    """What every stage of one experiment needs: the manager, strategy, record sets, plan.

    `record_sets` maps names to manifests: RECALL's plan uses "train" and "val", a stream plan
    "train" and "test" (and whatever else its scenario reads).
    """

    manager: object          # train_manager.TrainManager (continual/ never imports it)
    strategy: tf.distribute.Strategy
    record_sets: dict[str, Manifest]
    plan: dict
    # What the stages of this one walk of the plan hand on to the next ones in the process
    # (a stream experiment's built method, `stream_stages.restored_method`); a context lives
    # for one experiment's walk, so nothing here crosses experiments.
    kept: dict = dataclasses.field(default_factory=dict)

    @property
    def train_set(self) -> Manifest:
        return self.record_set("train")

    @property
    def val_set(self) -> Manifest:
        return self.record_set("val")

    def record_set(self, name: str) -> Manifest:
        if name not in self.record_sets:
            raise KeyError(f"this experiment has no record set {name!r}; it has "
                           f"{sorted(self.record_sets)}")
        return self.record_sets[name]


def register_stage(kind: str) -> Callable[[StageFunction], StageFunction]:
    """Decorator: `function(ctx, plan_step, folder) -> info` makes artefacts of `kind`."""
    def register(function: StageFunction) -> StageFunction:
        if kind in _REGISTRY and _REGISTRY[kind] is not function:
            raise ValueError(f"two stage functions for artefact kind {kind!r}: "
                             f"{_REGISTRY[kind].__module__} and {function.__module__}")
        _REGISTRY[kind] = function
        return function
    return register


def registered_kinds() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def run_stage(ctx: StageContext, plan_step, folder: Path) -> dict:
    """Run one plan step with the function registered for its kind."""
    if plan_step.kind not in _REGISTRY:
        raise ValueError(f"no stage implements artefact kind {plan_step.kind!r}; registered: "
                         f"{list(registered_kinds())} (is the plan's module imported?)")
    return _REGISTRY[plan_step.kind](ctx, plan_step, folder)


def stage_seed(seed: int, plan_step) -> int:
    """Seed of a stage's draws: the experiment seed and the stage's place in the plan (its
    kind and name, e.g. stream_experience / exp2), never its key. So every method of one seed
    draws the same stream order, split and augmentation at the same place, and a binding
    that changes a key (a learning rate) re-draws nothing: comparisons are paired."""
    words = np.random.SeedSequence([int(seed), zlib.crc32(plan_step.kind.encode()),
                                    zlib.crc32(plan_step.name.encode())]).generate_state(1)
    return int(words[0]) % (2**31 - 1)


def stage_module(kind: str) -> str:
    """The module of the function registered for artefact kind `kind`."""
    if kind not in _REGISTRY:
        raise ValueError(f"no stage implements artefact kind {kind!r}; registered: "
                         f"{list(registered_kinds())}")
    return _REGISTRY[kind].__module__


def stage_code(kind: str, roots, code_in_keys: bool = True) -> dict:
    """What a stage's key holds of the code: Pipfile.lock's hash and, unless the user opted
    out (`TrainManager.code_in_keys = False`), the code hash of every project module the
    stage computes with (the stage function's module, `roots`, and what they import)."""
    module = stage_module(kind)
    if not code_in_keys:
        return {"lock": code_keys.lock_hash()}
    return {"lock": code_keys.lock_hash(), "modules": code_keys.module_hashes({module, *roots})}


@functools.lru_cache(maxsize=4)
def _encoded(manifest_path: str, content_hash: str) -> EncodedRecords:
    """Encoded records of a set, loaded once per process (keyed by content, not path)."""
    return EncodedRecords.from_manifest(read_manifest(manifest_path))


def records_of(manifest: Manifest) -> EncodedRecords:
    return _encoded(str(manifest.path), manifest.content_hash)
