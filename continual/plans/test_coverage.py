"""Planning check: the test split covers what the stream trains.

A class with no test images gets a per-class accuracy of `null`, and a task whose test rows are
empty leaves its column of the accuracy matrix, and so `final_accuracy`, blank. The first is
warned about, the second refused, both naming the classes and the test set, before training.
"""

from __future__ import annotations

import warnings

import numpy as np

from continual.data.classification import record_labels
from continual.data.manifest import Manifest
from continual.errors import InputError


class UntestedClassesWarning(UserWarning):
    """Classes the stream trains that the test split holds no images of."""


def check_test_coverage(scenario, test: Manifest) -> None:
    """Refuse a task without test rows; warn about trained classes without test images."""
    for task, rows in enumerate(scenario.task_test_ids):
        if len(rows) == 0:
            classes = (_named(test, scenario.experiences[task].classes)
                       if task < len(scenario.experiences) else "its classes")
            raise InputError(f"{test.path}: task {task} of scenario {scenario.name!r} "
                             f"({classes}) has no test images, so its accuracy (and "
                             "final_accuracy) cannot be computed; add test images of those "
                             "classes or point StreamPlan.test_split at a split that has them")
    trained = sorted({c for experience in scenario.experiences for c in experience.classes})
    present = set(np.unique(record_labels(test)).tolist())
    untested = [c for c in trained if c not in present]
    if untested:
        warnings.warn(f"{test.path}: no test images of {_named(test, untested)}, which the "
                      "stream trains: their per-class accuracy will be null; add test images "
                      "of those classes to measure them", UntestedClassesWarning, stacklevel=2)


def _named(manifest: Manifest, classes) -> str:
    names = manifest.data.get("class_names") or []
    return "classes " + ", ".join(f"{c} ({names[c]})" if c < len(names) else str(c)
                                  for c in classes)
