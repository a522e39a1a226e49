"""Checks of the SSLAD method's bindings and of the challenge rules, and its weight schedule.

Kept apart from the method so the method file reads as the algorithm. Every error names the
binding and says how to fix it (raised before any training: `make_method` builds the method
and calls `check_stream` up front).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import tensorflow as tf

OWNER = "UncertaintyGuidedReplay"
MAX_STREAM_BATCH = 10  # the challenge's training mini-batch limit (`classification.py`)


def increasing(name: str, values: Sequence[int]) -> tuple[int, ...]:
    """Strictly increasing non-negative integers (iteration milestones)."""
    values = tuple(values)
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values) or any(
            b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"{OWNER}.{name} = {list(values)} must be strictly increasing "
                         "integers >= 0 (global iterations); fix the gin binding")
    return values


def non_negative(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{OWNER}.{name} = {value!r} must be a number >= 0 (0 switches the "
                         "term off); fix the gin binding")
    return float(value)


def positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{OWNER}.{name} = {value!r} must be a number > 0; fix the gin binding")
    return float(value)


def at_most(name: str, value, limit: float) -> float:
    """A number in [0, limit]."""
    value = non_negative(name, value)
    if value > limit:
        raise ValueError(f"{OWNER}.{name} = {value!r} must be at most {limit}; fix the gin "
                         "binding")
    return value


def beta_or_none(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{OWNER}.class_balanced_beta = {value!r} must be in [0, 1) (or None "
                         "for no class-balanced weights); fix the gin binding")
    return float(value)


def weights_for(name: str, weights: Sequence[float], milestones: Sequence[int],
                milestones_name: str) -> tuple[float, ...]:
    weights = tuple(non_negative(name, w) for w in weights)
    if len(weights) != len(milestones):
        raise ValueError(f"{OWNER}.{name} has {len(weights)} values for {len(milestones)} "
                         f"{milestones_name}; give one weight per milestone")
    return weights


def weight_schedule(milestones_name: str, milestones: Sequence[int], weights_name: str,
                    weights: Sequence[float]) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """(milestones, weights) of a term ramped at global iterations, both checked."""
    milestones = increasing(milestones_name, milestones)
    return milestones, weights_for(weights_name, weights, milestones, milestones_name)


def step_weight(step: tf.Tensor, milestones: Sequence[int],
                weights: Sequence[float]) -> tf.Tensor:
    """0 before milestones[0], then weights[i] from milestones[i] on (float32)."""
    passed = tf.zeros([], tf.int32)
    for milestone in milestones:
        passed += tf.cast(tf.cast(step, tf.int64) >= milestone, tf.int32)
    return tf.gather(tf.constant((0.0, *weights), tf.float32), passed)


def check_head(head_epochs: int, head_batch_size: int, replay: bool, sweep_size: int) -> None:
    """Head fine-tuning reads the memory: one schedule at a time, replay on, rows available."""
    if head_epochs and head_batch_size:
        raise ValueError(f"{OWNER}.head_epochs = {head_epochs} and {OWNER}.head_batch_size = "
                         f"{head_batch_size} are two head fine-tuning schedules; set one to 0")
    if (head_epochs or head_batch_size) and not replay:
        raise ValueError(f"{OWNER}.head_epochs / head_batch_size fine-tune the head on the "
                         f"memory, but {OWNER}.replay = False keeps none; set replay = True")
    if head_batch_size > sweep_size:
        raise ValueError(f"{OWNER}.head_batch_size = {head_batch_size} is more than "
                         f"{OWNER}.sweep_size = {sweep_size} (the memory head steps start "
                         "from); lower it")


def check_head_soft_labels(on: bool, head_batch_size: int, milestones: Sequence[int]) -> None:
    """The head steps' soft-label term needs the per-update head steps and a start iteration."""
    if on and not head_batch_size:
        raise ValueError(f"{OWNER}.head_soft_labels = True adds a term to the per-update head "
                         f"steps, but {OWNER}.head_batch_size = 0 runs none; set "
                         "head_batch_size > 0 (the original: 6)")
    if on and not milestones:
        raise ValueError(f"{OWNER}.head_soft_labels = True needs head_soft_label_milestones "
                         "(the global iteration it starts at first); give at least one")


def check_challenge_rules(stream_batch: int, epochs: int) -> None:
    """The SSLAD Track 3A rules: mini-batches of at most 10 stream items, one pass."""
    if stream_batch > MAX_STREAM_BATCH:
        raise ValueError(f"ExperienceLoop.stream_batch_size = {stream_batch} breaks the SSLAD "
                         f"challenge rule (at most {MAX_STREAM_BATCH} stream items per batch); "
                         f"lower it, or set {OWNER}.challenge_rules = False")
    if epochs != 1:
        raise ValueError(f"{OWNER}.epochs = {epochs} breaks the SSLAD challenge rule (one pass "
                         f"over the stream); set it to 1, or {OWNER}.challenge_rules = False")


def check_experiences(scenario, stream_batch: int) -> int:
    """Every experience holds at least one full batch; returns the stream's iterations."""
    for experience in scenario.experiences:
        if len(experience.train_ids) < stream_batch:
            raise ValueError(f"experience {experience.index} of scenario {scenario.name!r} has "
                             f"{len(experience.train_ids)} records, fewer than one batch "
                             f"(ExperienceLoop.stream_batch_size = {stream_batch}); use a longer "
                             "stream or a smaller batch")
    return sum(math.ceil(len(e.train_ids) / stream_batch) for e in scenario.experiences)


def warn_unreachable(name: str, start: int, iterations: int, what: str) -> None:
    """A warning when a schedule starts at or after the stream's last iteration."""
    if start >= iterations:
        warnings.warn(f"{OWNER}.{name} starts {what} at iteration {start}, but the stream has "
                      f"only {iterations} iterations: {what} never runs; lower "
                      f"{OWNER}.{name}", UserWarning, stacklevel=3)


def warn_beyond_stream(name: str, milestones, iterations: int) -> None:
    """A warning naming the milestones at or after the stream's last iteration (they never
    take effect), e.g. an lr schedule written for a longer stream."""
    late = [m for m in milestones if m >= iterations]
    if late:
        warnings.warn(f"{OWNER}.{name} = {tuple(milestones)}: {late} lie at or beyond the "
                      f"stream's {iterations} iterations and never take effect; lower them "
                      f"or drop them", UserWarning, stacklevel=3)
