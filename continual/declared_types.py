"""Every bound gin value checked against the type its configurable declares.

A configurable's type hints are its checks: `capacity: int = 500` refuses
`EpisodicBuffer.capacity = 20.5` or `'100'`, `shuffle_classes: bool` refuses `'no'`, at
planning (a dry run too), with an error naming the binding. A new configurable gets the check
by declaring its arguments' types. Only plain hints are checked (bool, int, float, str, None,
unions of them, and lists / tuples of them); any other hint, a gin reference (`@name`) or a
macro is left to the code that uses the value.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterator, Sequence
from typing import Any

import gin

from continual.errors import InputError

UNCHECKED = object()  # a hint this module does not check
SCALARS = {bool: "True or False", int: "an integer", float: "a number", str: "a string",
           type(None): "None"}
PLURALS = {bool: "True / False values", int: "integers", float: "numbers", str: "strings",
           type(None): "Nones"}
SEQUENCES = (list, tuple, Sequence)


class BindingTypeError(InputError):
    """A bound value of another type than its configurable declares."""


def check_bound_types() -> None:
    """Raise BindingTypeError for the first bound value (sorted by binding) whose type differs
    from its argument's declared type."""
    for binding, parameter, hint, value in sorted(_declared_bindings(), key=lambda b: b[0]):
        if value is None and parameter.default is None:
            continue
        expected = _describe(hint)
        if expected is not UNCHECKED and not _accepts(hint, value):
            raise BindingTypeError(
                f"{binding} = {value!r} ({type(value).__name__}): the argument is declared "
                f"as {expected}; fix the gin binding")


def _declared_bindings() -> Iterator[tuple[str, inspect.Parameter, Any, Any]]:
    """(binding, parameter, resolved type hint, value) of every bound argument with a hint."""
    for (_scope, selector), values in gin.config._CONFIG.items():  # no public listing
        configurable = gin.config._REGISTRY.get_match(selector)
        if configurable is None:
            continue
        target = configurable.wrapped
        function = target.__init__ if inspect.isclass(target) else target
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):  # a builtin without a signature: nothing declared
            continue
        name = configurable.name
        for argument, value in values.items():
            if argument not in parameters or _is_gin_object(value):
                continue
            hint = _resolve(parameters[argument].annotation, function)
            if hint is not UNCHECKED:
                yield f"{name}.{argument}", parameters[argument], hint, value


def _is_gin_object(value: Any) -> bool:
    """A reference (`@name`, `@name()`) or macro (`%NAME`): its type is known only when used."""
    return type(value).__module__.startswith("gin")


def _resolve(annotation: Any, function) -> Any:
    """The hint as a typing object; UNCHECKED when absent or not resolvable here (a name
    imported only for type checkers)."""
    if annotation is inspect.Parameter.empty:
        return UNCHECKED
    if isinstance(annotation, str):
        try:
            return eval(annotation, dict(getattr(function, "__globals__", {})))  # noqa: S307
        except (NameError, AttributeError, TypeError, SyntaxError):
            return UNCHECKED
    return annotation


def _describe(hint: Any, words: dict = SCALARS) -> Any:
    """Words for the values `hint` allows, or UNCHECKED when it is not a checked hint."""
    if hint is float or hint is int or hint is bool or hint is str or hint is type(None):
        return words[hint]
    if hint is None:
        return "None"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        described = [_describe(arg, words) for arg in args]
        return UNCHECKED if UNCHECKED in described else " or ".join(described)
    if hint in SEQUENCES or origin in SEQUENCES:
        item = _item_hint(args)
        words = "anything" if item is UNCHECKED else _describe(item, PLURALS)
        return UNCHECKED if words is UNCHECKED else f"a list of {words}"
    return UNCHECKED


def _item_hint(args: tuple) -> Any:
    """The one type of a homogeneous `tuple[X, ...]` / `list[X]` / `Sequence[X]`, else
    UNCHECKED (a fixed-length tuple of several types)."""
    if len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis):
        return args[0]
    if len(set(args)) == 1:
        return args[0]
    return UNCHECKED


def _accepts(hint: Any, value: Any) -> bool:
    if hint is None or hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in args)
    if not isinstance(value, (list, tuple)):
        return False
    item = _item_hint(args)
    return item is UNCHECKED or all(_accepts(item, v) for v in value)
