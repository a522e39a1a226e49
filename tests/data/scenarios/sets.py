"""Tiny classification record sets (2x2 grey images) for the scenario tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from continual.data.classification import ClassificationSample, write_classification_set
from continual.data.manifest import Manifest, read_manifest


def write_set(directory, split: str, labels: Sequence[int], *, num_classes: int = 6,
              times: Sequence[int] | None = None, domains: Sequence[int] | None = None,
              groups: Sequence[int] | None = None) -> Manifest:
    """A record set whose record i has labels[i] (and times[i], ... when given)."""
    def meta(values, row):
        return None if values is None else values[row]

    samples = [ClassificationSample(image=np.full((2, 2, 1), row % 256, np.uint8), label=label,
                                    sample_id=f"{split}{row:03d}", time=meta(times, row),
                                    domain=meta(domains, row), group=meta(groups, row))
               for row, label in enumerate(labels)]
    return read_manifest(write_classification_set(directory, split, samples,
                                                  num_classes=num_classes))


def per_class(num_classes: int, count: int) -> list[int]:
    """Labels 0,0,..,1,1,..: `count` records of each class, class by class."""
    return [c for c in range(num_classes) for _ in range(count)]
