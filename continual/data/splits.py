"""Incremental splits of RECALL: which classes, images and labels each step uses.

A `Scenario` (test type + data setups) lists its `Step`s (the original README's TEST 0-7). The
functions below turn a step and the per-record class lists of a record set
(`Manifest.record_classes()`) into the indices of the records the step trains or is evaluated on,
and into 256-entry lookup tables that remap raw label values. Rules (ILT / MiB protocol, as the
paper), for a step with new classes C, old classes O (learned before it) and future classes F
(learned after it):

| Setup        | Training images                | O pixels | F pixels | 0 / 255 / 21..254 |
|--------------|--------------------------------|----------|----------|-------------------|
| `sequential` | >= 1 pixel of C, no pixel of F | kept     | 255 (*)  | 0 / 255 / 255     |
| `disjoint`   | same images as sequential      | 0        | 255 (*)  | 0 / 255 / 255     |
| `overlapped` | >= 1 pixel of C, F allowed     | 0        | 0        | 0 / 255 / 255     |
| validation   | >= 1 object, all in O + C (**) | kept     | 255      | 0 / 255 / 255     |
| helper       | the step's training images     | 0        | 0        | 0 / 0 / 0         |

(*) cannot occur in these images; mapped to ignore defensively. (**) the union of the original's
val_1..val_b files, b = the step's last class. C pixels are always kept (a helper decoder maps its
j-th class to j + 1).

Step 0 uses 'sequential' (given 'disjoint', it is the same thing with no old classes) or
'overlapped'. In sequential/disjoint an image belongs to exactly one step, the step of its highest
class; an image with no foreground class belongs to no step. The joint test is one sequential step
with classes 1..20.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from continual.data.classes import IGNORE_LABEL, NUM_CLASSES
from continual.data.test_types import (  # noqa: F401  (re-exported: the splits API)
    ORIGINAL_NAMES,
    SETUPS,
    TEST_TYPES,
    resolve_setup,
    resolve_test_type,
)

FOREGROUND = tuple(range(1, NUM_CLASSES))


def _span(classes: Sequence[int]) -> str:
    return f"{classes[0]}-{classes[-1]}" if len(classes) > 1 else str(classes[0])


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of a scenario: the classes it adds, those learned before, and its data setup."""

    index: int
    new_classes: tuple[int, ...]
    old_classes: tuple[int, ...]
    setup: str
    test_type: str = dataclasses.field(default="", compare=False)  # for error messages only

    def __post_init__(self):
        object.__setattr__(self, "setup", resolve_setup(self.setup))
        classes = self.old_classes + self.new_classes
        if not self.new_classes or len(set(classes)) != len(classes) or not set(
                classes) <= set(FOREGROUND):
            raise ValueError(f"step {self.index}: new classes {self.new_classes} and old classes "
                             f"{self.old_classes} must be distinct VOC ids 1..{NUM_CLASSES - 1}, "
                             "with at least one new class")

    @property
    def seen_classes(self) -> tuple[int, ...]:
        """Background, old and new classes: what the model knows after this step."""
        return (0,) + self.old_classes + self.new_classes

    @property
    def last_class(self) -> int:
        return max(self.new_classes)

    @property
    def future_classes(self) -> tuple[int, ...]:
        """Foreground classes learned by later steps."""
        return tuple(c for c in FOREGROUND if c not in self.seen_classes)

    def describe(self) -> str:
        """'test 15-5, setup 'disjoint', step 1 (classes 16-20)', for error messages."""
        return (f"test {self.test_type or '(unnamed)'}, setup {self.setup!r}, step {self.index} "
                f"(classes {_span(self.new_classes)})")


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A RECALL experiment's class schedule: test type, step-0 setup and incremental setup."""

    test_type: str
    first_step_setup: str
    incremental_setup: str
    helper_decoders_one_class: bool = False

    def __post_init__(self):
        test_type = resolve_test_type(self.test_type)
        first = resolve_setup(self.first_step_setup)
        if first == "disjoint" or test_type == "joint":  # same data and labels as sequential
            first = "sequential"
        object.__setattr__(self, "test_type", test_type)
        object.__setattr__(self, "first_step_setup", first)
        object.__setattr__(self, "incremental_setup", resolve_setup(self.incremental_setup))
        if sum(self.structure) != NUM_CLASSES - 1:
            raise ValueError(f"test type {test_type} has structure {self.structure} that adds "
                             f"{sum(self.structure)} classes; it must add {NUM_CLASSES - 1}")

    @property
    def structure(self) -> tuple[int, ...]:
        return TEST_TYPES[self.test_type]

    @property
    def n0(self) -> int:
        """Classes learned at step 0 (RECALL's `get_encoder_number`)."""
        return self.structure[0]

    @property
    def steps(self) -> tuple[Step, ...]:
        steps, start = [], 1
        for index, size in enumerate(self.structure):
            setup = self.first_step_setup if index == 0 else self.incremental_setup
            steps.append(Step(index, tuple(range(start, start + size)), tuple(range(1, start)),
                              setup, self.test_type))
            start += size
        return tuple(steps)

    @property
    def helper_size(self) -> int:
        """Classes per helper decoder (RECALL's `get_helper_size`); 0 when none is needed."""
        sizes = self.structure[1:]
        if len(sizes) <= 1:
            return 0
        if self.helper_decoders_one_class:
            return 1
        if len(set(sizes)) != 1:
            raise ValueError(f"test type {self.test_type} has incremental steps of different "
                             f"sizes {sizes}, so helper decoders have no common size; set "
                             "helper_decoders_one_class = True")
        return sizes[0]

    def helper_groups(self) -> tuple[tuple[int, ...], ...]:
        """Class groups that get a helper decoder: every incremental step but the last."""
        if self.helper_size == 0:
            return ()
        groups = [step.new_classes for step in self.steps[1:-1]]
        if self.helper_decoders_one_class:
            return tuple((c,) for group in groups for c in group)
        return tuple(groups)

    def replay_classes(self, step: Step) -> tuple[int, ...]:
        """Classes whose replay images are mixed into this step: all classes learned before."""
        return step.old_classes

    def labeller_of(self, cls: int) -> tuple[int, ...] | None:
        """Who pseudo-labels replay images of `cls`: None = the step-0 model, else a helper group.

        Raises a ValueError for a class of the last step: it is never replayed.
        """
        if cls not in FOREGROUND:
            raise ValueError(f"class {cls!r} is not a VOC foreground id 1..{NUM_CLASSES - 1}")
        if cls <= self.n0:
            return None
        for group in self.helper_groups():
            if cls in group:
                return group
        raise ValueError(f"class {cls} is learned in the last step of test {self.test_type}, "
                         "so it is never replayed and has no labeller")


def make_scenario(test_type: str, first_step_setup: str, incremental_setup: str,
                  helper_decoders_one_class: bool = False) -> Scenario:
    """Build a Scenario from any accepted spelling of the test type and setups."""
    return Scenario(test_type, first_step_setup, incremental_setup, helper_decoders_one_class)


def step_images(step: Step, record_classes: Sequence[Sequence[int]]) -> list[int]:
    """Sorted indices of the training records this step uses (rules in the module table).

    Raises a ValueError naming the test, setup and step when no record qualifies.
    """
    new, future = set(step.new_classes), set(step.future_classes)
    allow_future = step.setup == "overlapped"
    chosen = [i for i, classes in enumerate(record_classes)
              if new.intersection(classes) and (allow_future or not future.intersection(classes))]
    if not chosen:
        rule = ""
        if step.future_classes and not allow_future:
            rule = f" and none of the later classes {_span(step.future_classes)}"
        raise ValueError(f"empty split: none of the {len(record_classes)} training records has a "
                         f"pixel of classes {_span(step.new_classes)}{rule} ({step.describe()}); "
                         "check that the record set is the full training set")
    return chosen


def val_images(step: Step, record_classes: Sequence[Sequence[int]]) -> list[int]:
    """Sorted indices of validation records whose foreground classes are all seen at this step.

    This is the union of the original's val_1..val_b files: a record needs at least one
    foreground class.
    """
    seen = set(step.seen_classes)
    chosen = [i for i, classes in enumerate(record_classes)
              if set(classes) - {0, IGNORE_LABEL} and set(classes) - {IGNORE_LABEL} <= seen]
    if not chosen:
        raise ValueError(f"empty split: none of the {len(record_classes)} validation records "
                         f"contains only classes 0-{step.last_class} with at least one object "
                         f"({step.describe()}); check that the record set is the validation set")
    return chosen


def _table(default: int) -> np.ndarray:
    table = np.full(256, default, np.uint8)
    table[IGNORE_LABEL] = IGNORE_LABEL
    table[0] = 0
    return table


def label_map(step: Step) -> np.ndarray:
    """Lookup table raw label value -> training label of this step (uint8, shape (256,))."""
    table = _table(IGNORE_LABEL)
    table[list(step.new_classes)] = step.new_classes
    if step.old_classes:
        table[list(step.old_classes)] = step.old_classes if step.setup == "sequential" else 0
    if step.future_classes:
        table[list(step.future_classes)] = 0 if step.setup == "overlapped" else IGNORE_LABEL
    return table


def val_label_map(step: Step) -> np.ndarray:
    """Lookup table for evaluation: seen classes kept, every other value -> 255 (not counted)."""
    table = _table(IGNORE_LABEL)
    table[list(step.seen_classes)] = step.seen_classes
    return table


def helper_label_map(classes: Sequence[int]) -> np.ndarray:
    """Lookup table for a helper decoder: j-th helper class -> j + 1, all else (255 too) -> 0."""
    classes = tuple(classes)
    if not classes or len(set(classes)) != len(classes) or not set(classes) <= set(FOREGROUND):
        raise ValueError(f"helper classes {classes} must be distinct VOC ids 1..{NUM_CLASSES - 1}")
    table = np.zeros(256, np.uint8)
    table[list(classes)] = np.arange(1, len(classes) + 1)
    return table


def iterations(step_or_group_classes: int | Step | Sequence[int], per_class: int) -> int:
    """Training iterations of a stage: (number of classes it learns) x `per_class`."""
    if isinstance(step_or_group_classes, Step):
        count = len(step_or_group_classes.new_classes)
    elif isinstance(step_or_group_classes, int):
        count = step_or_group_classes
    else:
        count = len(step_or_group_classes)
    if count < 1 or per_class < 1:
        raise ValueError(f"iterations need at least one class and one iteration per class, got "
                         f"{count} classes x {per_class}")
    return count * per_class
