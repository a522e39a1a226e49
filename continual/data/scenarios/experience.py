"""What a scenario hands the stream loop: experiences in stream order and their test rows.

An experience lists the train rows it feeds (row indices into the train record set, in the
order the stream presents them), the classes it introduces, and the test rows the evaluation
after it reads for the overall accuracy. `Scenario.task_test_ids[j]` are the test rows of
task j, from which the accuracy matrix R[i, j] is filled
(`continual/metrics/accuracy_matrix.py`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Experience:
    """One experience of a stream.

    `classes` are the classes first seen in it and `seen_classes` all classes seen up to and
    including it (both sorted). `attribute_value` is the metadata value (e.g. the domain) that
    defines a `by_attribute` experience, None for the other scenarios.
    """

    index: int
    train_ids: tuple[int, ...]
    classes: tuple[int, ...]
    seen_classes: tuple[int, ...]
    eval_ids: tuple[int, ...]
    attribute_value: int | None = None


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A record set cut into experiences.

    `params` holds every value that defines the cut (the resolved arguments, the seed and the
    content hashes of both record sets), so it can go into artefact keys as it is.
    `task_test_ids` has one entry per task j; it has as many entries as `experiences`, except
    for `joint`, whose single experience is evaluated on the tasks of the matching
    class-incremental stream. `num_classes` is the head size stated by the train manifest.
    """

    name: str
    params: dict
    experiences: tuple[Experience, ...]
    task_test_ids: tuple[tuple[int, ...], ...]
    num_classes: int

    def describe(self) -> dict:
        """Name, params and counts per experience, for logs and the dry run."""
        return {
            "name": self.name,
            "params": self.params,
            "num_classes": self.num_classes,
            "experiences": [_counts(exp) for exp in self.experiences],
            "task_test_rows": [len(ids) for ids in self.task_test_ids],
        }


def _counts(exp: Experience) -> dict:
    counts = {"index": exp.index, "train_rows": len(exp.train_ids), "classes": list(exp.classes),
              "seen_classes": len(exp.seen_classes), "eval_rows": len(exp.eval_ids)}
    if exp.attribute_value is not None:
        counts["attribute_value"] = exp.attribute_value
    return counts


def as_ids(rows: np.ndarray | Sequence[int]) -> tuple[int, ...]:
    """Row indices as a tuple of Python ints (JSON-friendly, hashable)."""
    return tuple(int(row) for row in np.asarray(rows, dtype=np.int64).reshape(-1))


def chain_experiences(streams: Sequence[np.ndarray], new_classes: Sequence[Sequence[int]],
                      eval_ids: Sequence[Sequence[int]],
                      attribute_values: Sequence[int | None] | None = None
                      ) -> tuple[Experience, ...]:
    """Experiences from per-experience train rows, classes and eval rows, in stream order.

    `new_classes[i]` may repeat classes seen before; only the first sighting counts as
    introduced, and `seen_classes` accumulates.
    """
    values = attribute_values or [None] * len(streams)
    seen: set[int] = set()
    experiences = []
    for index, (rows, classes, evals, value) in enumerate(
            zip(streams, new_classes, eval_ids, values, strict=True)):
        introduced = {int(c) for c in classes} - seen
        seen |= introduced
        experiences.append(Experience(
            index=index, train_ids=as_ids(rows), classes=tuple(sorted(introduced)),
            seen_classes=tuple(sorted(seen)), eval_ids=as_ids(evals), attribute_value=value))
    return tuple(experiences)
