"""Up-front checks of Kaizen's replay memory against the stream, before any training.

The memory after task t holds ⌊n_c · p⌋ items of each class c of tasks 0..t (the policy
`proportion_per_class`). Class counts are not known before the labels are read, so the check
uses each task's mean class size: it refuses a proportion that keeps 0 per class and a capacity
that the memory would outgrow, and warns when a replay batch is larger than the memory it
draws from (the batch is then the whole memory, as the original's `min(32, |memory|)`).
`remember_task` adds a finished task's share to the memory.
"""

from __future__ import annotations

import functools
import logging

from continual.replay.buffers.policies.proportion_per_class import items_per_class

log = logging.getLogger(__name__)


def expected_memory(scenario, proportion: float) -> list[int]:
    """Memory size after each task but the last, from each task's mean class size."""
    sizes, total = [], 0
    for experience in scenario.experiences[:-1]:
        per_class = len(experience.train_ids) // max(len(experience.classes), 1)
        kept = items_per_class(per_class, proportion)
        if kept < 1:
            raise ValueError(
                f"ProportionPerClassPolicy.replay_proportion = {proportion} keeps 0 items per "
                f"class of task {experience.index} (about {per_class} per class); raise it to "
                f"at least {1 / max(per_class, 1):.4g}")
        total += kept * len(experience.classes)
        sizes.append(total)
    return sizes


def check_memory(buffer, scenario, replay_batch_size: int) -> None:
    """Raise for a memory that keeps 0 per class or outgrows EpisodicBuffer.capacity."""
    sizes = expected_memory(scenario, buffer.policy.replay_proportion)
    if sizes and sizes[-1] > buffer.capacity:
        raise ValueError(f"the replay memory grows to about {sizes[-1]} items, more than "
                         f"EpisodicBuffer.capacity = {buffer.capacity}; raise the capacity")
    if sizes and sizes[0] < replay_batch_size:
        _warn_small_memory(replay_batch_size, sizes[0])


def remember_task(buffer, experiences, index: int, table, seed: int) -> None:
    """Add task `index`'s share of each class to the memory. Kaizen calls it when the next task
    starts (not when task `index` ends), so the state after task 0 is the same with and
    without replay."""
    if experiences is None:
        raise RuntimeError("Kaizen fills its memory from the scenario: call check_stream "
                           "before the first experience")
    ids = list(experiences[index].train_ids)
    buffer.end_experience(ids, table.labels_of(ids), seed)


@functools.lru_cache(maxsize=8)
def _warn_small_memory(replay_batch_size: int, memory: int) -> None:
    """Once per process (every stage builds the method and checks again)."""
    log.warning("ExperienceLoop.replay_batch_size = %d is larger than the replay memory after "
                "task 0 (about %d items): replay batches hold the whole memory until it grows",
                replay_batch_size, memory)
