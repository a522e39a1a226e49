"""Arguments the code always passes, and the one binding that owns each value.

gin lets an explicit argument win over a binding without a word, so a binding on an argument
that every caller passes would do nothing (and might still enter a key). Such arguments are
declared here with `supplied_configurable`: gin then refuses the binding when it is parsed,
and `explain_refused_binding` turns gin's error into one that names the binding to use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import gin

from continual.gin_names import with_suggestions

# "configurable.argument" -> the binding that owns the value (None: the runner supplies it)
OWNERS: dict[str, str | None] = {}

_DENIED = re.compile(r"Configurable '([\w.]+)' has denylisted kwarg '(\w+)'")


def supplied_configurable(**owners: str | None) -> Callable:
    """`@gin.configurable` whose arguments in `owners` cannot be bound (the code passes them).

    `owners` maps each such argument to the binding that sets its value, or None when the
    runner derives it (data, positions, seeds of a stage).
    """
    def wrap(target):
        for argument, owner in owners.items():
            OWNERS[f"{target.__name__}.{argument}"] = owner
        return gin.configurable(target, denylist=sorted(owners))
    return wrap


def refusal_message(binding: str) -> str:
    """Why `binding` ("configurable.argument") cannot be bound, and what to bind instead."""
    owner = OWNERS.get(binding)
    fix = (f"bind {owner} instead" if owner else
           "the runner derives it from the experiment; remove the binding")
    return (f"{binding} cannot be bound: the code passes it on every call, so the binding "
            f"would do nothing; {fix}")


def explain_refused_binding(error: Exception) -> Exception:
    """gin's error for a refused binding, rewritten to name the owner; for an unknown
    configurable or parameter, with the closest names; other errors as they are."""
    found = _DENIED.search(str(error))
    if found is None:
        return with_suggestions(error)
    configurable = found.group(1).rsplit(".", 1)[-1]
    return ValueError(refusal_message(f"{configurable}.{found.group(2)}"))


# Checks of a bound value, each naming the binding and the fix in its error.
def check_bool(binding: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{binding} must be True or False, got {value!r}; fix the gin binding")
    return value


def check_int(binding: str, value: Any, minimum: int | None = None,
              maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{binding} must be an integer, got {value!r} "
                        f"({type(value).__name__}); fix the gin binding")
    if minimum is not None and value < minimum:
        raise ValueError(f"{binding} must be >= {minimum}, got {value}; fix the gin binding")
    if maximum is not None and value > maximum:
        raise ValueError(f"{binding} must be <= {maximum}, got {value}; fix the gin binding")
    return value


MAX_SEED = 2**32 - 1  # the largest seed numpy, keras and tf.random accept


def check_seed(binding: str, value: Any) -> int:
    """An experiment seed: an integer in 0 .. 2**32 - 1."""
    return check_int(binding, value, minimum=0, maximum=MAX_SEED)


def check_folder_name(binding: str, value: Any) -> str:
    """A non-empty path (an empty one would write into the current folder)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{binding} = {value!r} is not a folder; bind a non-empty path "
                         "(e.g. 'checkpoints')")
    return value


def check_float(binding: str, value: Any, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{binding} must be a number, got {value!r}; fix the gin binding")
    if not math.isfinite(value):
        raise ValueError(f"{binding} must be a finite number, got {value!r}; fix the gin "
                         "binding")
    if positive and value <= 0:
        raise ValueError(f"{binding} must be > 0, got {value}; fix the gin binding")
    return float(value)


def check_choice(binding: str, value: Any, choices: tuple) -> Any:
    if value not in choices:
        raise ValueError(f"{binding} = {value!r} is not one of {choices}; fix the gin binding")
    return value


# A subclass's explicit arguments to its gin-configurable parent (RM's baselines, e.g. GDumb's
# `transforms` to RainbowMemory) would silently win over the parent's bindings.
def passed_arguments(owner: str, parent: str, own: dict[str, Any],
                     fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    """`own` and `fixed` merged: the keyword arguments `owner` passes to `parent.__init__`.

    own: arguments that are `owner`'s own bindings (`<owner>.<name>`);
    fixed: values `owner` always passes (no binding of `owner` sets them).
    Raises ValueError for a `<parent>.<name>` binding that differs from the value passed.
    """
    fixed = fixed or {}
    bound = gin.get_bindings(parent)
    for name, value in sorted({**own, **fixed}.items()):
        if name not in bound or _plain(bound[name]) == _plain(value):
            continue
        if name in own:
            fix = f"bind {owner}.{name} instead"
            source = f"its own {owner}.{name} = {value!r}"
        else:
            fix = (f"{owner} does not take {name}: move that binding into the bindings of the "
                   f"{parent} experiments (their suite entry's 'bindings' or their own file)")
            source = f"its fixed {name} = {value!r}"
        raise ValueError(f"{parent}.{name} = {bound[name]!r} is bound, but {owner} passes "
                         f"{source}, so that binding would do nothing; {fix}")
    return {**own, **fixed}


def _plain(value: Any) -> Any:
    """Lists and tuples compare by their items (gin gives lists, defaults are tuples)."""
    return tuple(_plain(v) for v in value) if isinstance(value, (list, tuple)) else value
