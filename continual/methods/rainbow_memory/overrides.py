"""The arguments a baseline passes explicitly to the gin-configurable class it extends.

RM's baselines (GDumb, BiC, iCaRL, EWC, RWalk) are `RainbowMemory` subclasses, and the
per-task joint reference is a `FineTuning` one. Each calls `super().__init__(...)` with explicit
arguments: its own bindings (`GDumb.transforms`, ...) and values it fixes (GDumb's
`stream = 'online'`). An explicit argument wins over the parent's binding, so a
`RainbowMemory.transforms` binding would do nothing for GDumb, silently. `passed_arguments`
refuses such a binding when its value differs from the one passed (an equal value is harmless)
and says which binding to use instead.
"""

from __future__ import annotations

from typing import Any

import gin


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
