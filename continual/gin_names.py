"""'Did you mean ...?' for a misspelt gin configurable or parameter.

gin's own error says only that `StreamPlan.scenaro` or `@class_incremntal` is unknown; here the
closest registered names (difflib) are added, so the fix is in the message. gin has no public
list of its configurables: the registry is read through `gin.config._REGISTRY`.
"""

from __future__ import annotations

import difflib
import inspect
import re

import gin.config

_UNKNOWN_CONFIGURABLE = re.compile(r"No configurable matching (?:reference )?'@?([\w./]+)'")
_UNKNOWN_PARAMETER = re.compile(r"Configurable '([\w./]+)' doesn't have a parameter named "
                                r"'(\w+)'")


def _configurables() -> dict[str, object]:
    """Every registered configurable by its short name (module path and scope dropped)."""
    return {configurable.name: configurable
            for _, configurable in gin.config._REGISTRY.items()}


def _parameters(name: str) -> list[str]:
    """The bindable parameters of configurable `name` (its denylist left out)."""
    configurable = _configurables().get(name.rpartition("/")[2].rpartition(".")[2])
    if configurable is None:
        return []
    try:
        parameters = inspect.signature(configurable.wrapped).parameters
    except (TypeError, ValueError):  # a builtin without a signature: nothing to suggest
        return []
    denied = set(configurable.denylist or ())
    return [p for p in parameters if p not in denied and p != "self"]


def closest_names(typed: str, names, count: int = 3) -> list[str]:
    return difflib.get_close_matches(typed, sorted(set(names)), n=count, cutoff=0.6)


def with_suggestions(error: Exception) -> Exception:
    """gin's error for an unknown configurable or parameter, with the closest names added
    ("Did you mean ...?"); any other error as it is."""
    first, newline, rest = str(error).partition("\n")
    found = _UNKNOWN_PARAMETER.search(first)
    if found:
        configurable, typed = found.group(1), found.group(2)
        short = configurable.rpartition(".")[2]
        close = [f"{short}.{name}" for name in closest_names(typed, _parameters(configurable))]
    else:
        found = _UNKNOWN_CONFIGURABLE.search(first)
        if found is None:
            return error
        typed = found.group(1).rpartition("/")[2].rpartition(".")[2]
        close = closest_names(typed, _configurables())
    hint = (f" Did you mean {' or '.join(repr(name) for name in close)}?" if close else
            " No registered name is close: check the spelling, or the `import` line of the "
            "module that defines it in the .gin file.")
    return ValueError(f"{first}{hint}{newline}{rest}")
