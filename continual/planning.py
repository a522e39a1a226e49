"""Pieces of an experiment's plan: checked gin values and the key inputs of each stage.

Each function returns exactly the values one stage depends on, so the artefact keys built from
them change when, and only when, something that affects the artefact changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gin

# The binding checks live in continual.bindings; re-exported here for the plans' callers.
from continual.bindings import check_bool, check_choice, check_float, check_int  # noqa: F401
from continual.data.manifest import sha256_cached

# Bump the version of a stage when its code changes what it produces.
# Configurables of the runner (which experiments, where, how processes take turns, data
# generation): their values never change what a stage computes, so no key holds them.
RUNNER_CONFIGURABLES = ("Suite", "TrainManager", "make_strategy", "KeyLocks", "TrainingCurves",
                        "prepare_replay_standins", "generate_synthetic", "generate_stream_set")


def recall_stage_code(kind: str, code_in_keys: bool) -> dict:
    """The code part of a RECALL stage's key (`continual.stages.stage_code`): the stage's
    module and those of the configurables called so far, with what they import."""
    from continual import stages  # stages reads data modules that import this one

    return stages.stage_code(kind, operative_modules(RUNNER_CONFIGURABLES), code_in_keys)

# gin configurables whose bindings change the model or the training data of every stage.
MODEL_CONFIGURABLES = ("build_encoder", "build_decoder", "build_segmenter", "tiny_encoder",
                       "resnet101_v2", "aspp_v2", "aspp_v3")
PIPELINE_CONFIGURABLES = ("train_stream", "mix_streams")


_missing_inputs: list[str] | None = None  # set while a dry run plans without its inputs


@contextmanager
def inputs_may_be_missing() -> Iterator[list[str]]:
    """Plan (`--dry_run`) on a machine that lacks the data, weights or replay folders.

    Inside, a missing input gets a placeholder key part (`missing:<path>`) instead of an error;
    the yielded list collects what is missing and how to make it. Keys that hash a placeholder
    are not the keys a real run will use: nothing is reused or written under them.
    """
    global _missing_inputs
    outer, _missing_inputs = _missing_inputs, []
    try:
        yield _missing_inputs
    finally:
        _missing_inputs = outer


def planning_only() -> bool:
    """True inside `inputs_may_be_missing` (a dry run): nothing is trained or downloaded."""
    return _missing_inputs is not None


def missing_input(path: Any, error: Exception) -> str:
    """The placeholder key part for a missing input while planning only; else raise `error`."""
    if _missing_inputs is None:
        raise error
    _missing_inputs.append(str(error))
    return f"missing:{path}"


@dataclasses.dataclass(frozen=True)
class MissingRecordSet:
    """Stands for a record set that is not on disk while a dry run plans."""

    content_hash: str


def common_values(*, batch_size, n_classes, dataset_mean, train_image_size, momentum,
                  decay_power, l2_decay, start_decay_step, mixed_precision) -> dict:
    """Values shared by every stage (RECALL's "common" section)."""
    if n_classes != 21:
        raise ValueError(f"TrainManager.n_classes = {n_classes}: the VOC protocol has 21 "
                         "outputs (20 classes + background) from step 0 on; keep 21")
    mean = tuple(float(check_float("TrainManager.dataset_mean", m, positive=False))
                 for m in dataset_mean)
    if len(mean) != 3:
        raise ValueError(f"TrainManager.dataset_mean needs 3 values (B, G, R), got {mean}")
    if start_decay_step != 0:
        raise ValueError("TrainManager.start_decay_step must be 0: the poly schedule starts "
                         "at the first iteration of each stage")
    return {
        "batch_size": check_int("TrainManager.batch_size", batch_size, minimum=1),
        "n_classes": n_classes,
        "dataset_mean": list(mean),
        "train_image_size": check_int("TrainManager.train_image_size", train_image_size, 1),
        "momentum": check_float("TrainManager.momentum", momentum, positive=False),
        "decay_power": check_float("TrainManager.decay_power", decay_power),
        "l2_decay": check_float("TrainManager.l2_decay", l2_decay, positive=False),
        "mixed_precision": mixed_precision,
    }


def stage_values(suffix: str, lr_initial, lr_final, steps_per_class, setup: str) -> dict:
    """One stage's learning rates, iterations per class and data type."""
    return {
        "lr_initial": check_float(f"TrainManager.lr_initial_value{suffix}", lr_initial),
        "lr_final": check_float(f"TrainManager.lr_final_value{suffix}", lr_final),
        "steps_per_class": check_int(f"TrainManager.training_steps_per_class{suffix}",
                                     steps_per_class, minimum=1),
        "setup": setup,
    }


def replay_values(ratio_old, ratio_new, mix_labels, images_per_class, source, setup) -> dict:
    """How an incremental step mixes new data, replay and inpainting."""
    ratio_old = check_int("TrainManager.interleave_ratio_old", ratio_old, minimum=0)
    ratio_new = check_int("TrainManager.interleave_ratio_new", ratio_new, minimum=0)
    if ratio_old + ratio_new == 0:
        raise ValueError("TrainManager.interleave_ratio_old and interleave_ratio_new are both "
                         "0: an incremental step needs new data, replay or both")
    mix = check_bool("TrainManager.mix_labels", mix_labels) and setup != "sequential"
    if source is None:
        ratio_old = 0  # no replay source: new data only (continual/plans/RECALL.md, defect 13)
    if images_per_class is not None:
        check_int("TrainManager.replay_images_per_class", images_per_class, minimum=1)
    return {"ratio_old": ratio_old, "ratio_new": ratio_new, "mix_labels": mix,
            "replay_images_per_class": images_per_class}


def method_name(test_type: str, source: str | None, incremental: dict) -> str:
    """How results tables name the experiment's method: by what runs. A replay source with
    `interleave_ratio_old = 0` (a fine-tuning config) replays nothing, so it is not RECALL."""
    if test_type == "joint":
        return "joint"
    if incremental["ratio_old"] == 0:
        source = None
    if source == "gan":
        return "RECALL-GAN"
    if source == "flickr":
        return "RECALL-web"
    return "inpainting-only" if incremental["mix_labels"] else "fine-tuning"


def _bindings(names: tuple[str, ...]) -> dict:
    return {name: gin.get_bindings(name) for name in names}


def bound_value(configurable, argument: str) -> Any:
    """What gin passes for `argument` of `configurable`: its binding, else its default."""
    bindings = gin.get_bindings(configurable)
    if argument in bindings:
        return bindings[argument]
    return inspect.signature(configurable).parameters[argument].default


def model_bindings() -> dict:
    """The gin values that define the network (architecture, widths, rates, ...)."""
    return _bindings(MODEL_CONFIGURABLES)


def pipeline_bindings() -> dict:
    """The gin values of the training data pipeline (augmentation, mixing)."""
    return _bindings(PIPELINE_CONFIGURABLES)


def file_fingerprint(path: str | None) -> str | None:
    """sha256 of a weights file (or of every file of a checkpoint prefix / folder)."""
    if path is None:
        return None
    files = sorted(_weight_files(path))
    if not files:
        return missing_input(path, FileNotFoundError(
            f"TrainManager.pretrained_encoder = {path!r}: no such file, checkpoint prefix or "
            "folder. The paper starts step 0 from a DeepLab-v2 ResNet-101 (resnet_v1_101) "
            "checkpoint: put one there (see checkpoints/README.md) or bind the path to yours; "
            "set it to None only to train from random initialisation"))
    digest = hashlib.sha256()
    for name in files:
        digest.update(sha256_cached(name).encode())
    return digest.hexdigest()


def _weight_files(path: str) -> list[str]:
    if os.path.isfile(path):
        return [path]
    if os.path.isdir(path):
        return [os.path.join(path, f) for f in os.listdir(path)
                if os.path.isfile(os.path.join(path, f))]
    folder, prefix = os.path.split(path)
    folder = folder or "."
    if not os.path.isdir(folder):
        return []
    return [os.path.join(folder, f) for f in os.listdir(folder) if f.startswith(prefix + ".")]


def finite(value):
    """`value` if it is a finite number, else None (for JSON records)."""
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def gin_sections() -> dict[str, str]:
    """The bindings of every bound configurable as gin text, by configurable name."""
    return _sections(gin.config_str())


def operative_sections() -> dict[str, str]:
    """The values of every configurable called since the config was parsed (gin's operative
    config: bound values and the defaults it used), as gin text by configurable name.

    Stream keys hash these after planning has built the experiment's scenario, method, buffer,
    model and loop: a binding of a configurable the experiment never calls (a `blurry.*`
    binding under a class-incremental scenario) is not among them and changes no key.
    """
    return _sections(gin.operative_config_str())


def _sections(text: str) -> dict[str, str]:
    sections = {}
    for block in text.split("# Parameters for ")[1:]:
        header, _, body = block.partition("\n")
        lines = [line for line in body.splitlines() if line and not line.startswith("#")]
        sections[header.rstrip(":").strip()] = "\n".join(lines)
    return sections


def configurable_module(name: str) -> str | None:
    """The Python module that defines gin configurable `name` (None: gin knows no such)."""
    configurable = gin.config._REGISTRY.get_match(name)  # gin has no public lookup
    if configurable is None:
        return None
    return getattr(configurable.wrapped, "__module__", None) or configurable.module


def operative_modules(left_out: tuple[str, ...] = ()) -> set[str]:
    """The Python modules that define the configurables gin has called since the config was
    parsed, less those named in `left_out` (by their short name): the roots of a stage's
    code key (`continual.code_keys`)."""
    modules = set()
    with gin.config._OPERATIVE_CONFIG_LOCK:  # gin keeps no public view of what was called
        selectors = [selector for _, selector in gin.config._OPERATIVE_CONFIG]
    for selector in selectors:
        if selector.rpartition(".")[2] not in left_out:
            modules.add(configurable_module(selector))
    return modules - {None}
