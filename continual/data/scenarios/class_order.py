"""Class order and its partition into tasks, shared by the class-based scenarios.

As in RM's split notebook (`notebooks/make_dataset_per_task.ipynb`), the data's classes are put in a
seeded random order and cut into equal consecutive blocks; task t's classes are block t. An explicit
order or unequal block sizes can be given instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from continual.data.scenarios.inputs import positive_int, scenario_rng


def resolve_class_order(classes: Sequence[int], class_order: Sequence[int] | None,
                        shuffle_classes: bool, seed: int, name: str) -> tuple[int, ...]:
    """The order in which tasks take `classes` (the data's classes, sorted).

    An explicit `class_order` must be a permutation of `classes`; without one the order is a
    seeded permutation, or `classes` itself when `shuffle_classes` is False.
    """
    if class_order is None:
        if not shuffle_classes:
            return tuple(classes)
        order = scenario_rng(seed, "class_order").permutation(list(classes))
        return tuple(int(c) for c in order)
    if isinstance(class_order, str | bytes) or not all(
            isinstance(c, int | np.integer) and not isinstance(c, bool) for c in class_order):
        raise TypeError(f"{name}.class_order must be a list of class ids, got {class_order!r}")
    _check_permutation(list(class_order), classes, name)
    return tuple(int(c) for c in class_order)


def _check_permutation(order: list[int], classes: Sequence[int], name: str) -> None:
    missing = sorted(set(classes) - set(order))
    extra = sorted(set(order) - set(classes))
    duplicated = sorted(c for c, n in Counter(order).items() if n > 1)
    if missing or extra or duplicated:
        problems = [f"{label} {ids}" for label, ids in
                    (("missing", missing), ("extra", extra), ("duplicated", duplicated)) if ids]
        raise ValueError(
            f"{name}.class_order must be a permutation of the train set's {len(classes)} "
            f"classes {list(classes)}: {', '.join(problems)}")


def split_into_tasks(order: Sequence[int], num_tasks: int,
                     classes_per_task: Sequence[int] | None, name: str
                     ) -> tuple[tuple[int, ...], ...]:
    """Consecutive blocks of `order`: equal ones, or the sizes in `classes_per_task`."""
    num_tasks = positive_int(num_tasks, f"{name}.num_tasks")
    if classes_per_task is None:
        if len(order) % num_tasks:
            raise ValueError(
                f"{name}.num_tasks = {num_tasks} does not divide the data's {len(order)} "
                f"classes; choose a divisor of {len(order)} or set {name}.classes_per_task")
        sizes = [len(order) // num_tasks] * num_tasks
    else:
        sizes = _check_sizes(classes_per_task, num_tasks, len(order), name)
    starts = [sum(sizes[:t]) for t in range(num_tasks)]
    return tuple(tuple(order[s:s + n]) for s, n in zip(starts, sizes, strict=True))


def _check_sizes(classes_per_task: Sequence[int], num_tasks: int, num_classes: int,
                 name: str) -> list[int]:
    binding = f"{name}.classes_per_task"
    sizes = [positive_int(n, f"each entry of {binding}") for n in classes_per_task]
    if len(sizes) != num_tasks:
        raise ValueError(f"{binding} has {len(sizes)} entries but {name}.num_tasks is "
                         f"{num_tasks}; set {name}.num_tasks = {len(sizes)}")
    if sum(sizes) != num_classes:
        raise ValueError(f"{binding} = {sizes} sums to {sum(sizes)}, but the data has "
                         f"{num_classes} classes; make the sizes sum to {num_classes}")
    return sizes
