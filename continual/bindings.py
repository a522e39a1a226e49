"""Arguments the code always passes, and the one binding that owns each value.

gin lets an explicit argument win over a binding without a word, so a binding on an argument
that every caller passes would do nothing (and might still enter a key). Such arguments are
declared here with `supplied_configurable`: gin then refuses the binding when it is parsed,
and `explain_refused_binding` turns gin's error into one that names the binding to use.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import gin

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
    """gin's error for a refused binding, rewritten to name the owner; other errors as they are."""
    found = _DENIED.search(str(error))
    if found is None:
        return error
    configurable = found.group(1).rsplit(".", 1)[-1]
    return ValueError(refusal_message(f"{configurable}.{found.group(2)}"))
