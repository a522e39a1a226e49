"""Gin bindings that name a file or folder a stage reads, keyed by the files' content.

Stage keys hash the gin text, so a binding that holds a path (ImageNet weights, a teacher
checkpoint, a buffer to restore) would enter them by its path only: a file rewritten at the
same path would be answered from stale artefacts. A configurable declares such an argument
next to its definition with `register_file_binding`; the stream plan then adds the sha256 of
the named files (a file, every file of a folder, or a checkpoint prefix's files) of every
registered binding that is bound to a path. Bindings left at None add nothing, so keys
without such files stay as they were.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable

from continual import planning

# "configurable.argument" -> (the gin configurable, the argument that holds a path, how to
# produce the file when it is missing)
_FILE_BINDINGS: dict[str, tuple[Callable, str, str]] = {}


def register_file_binding(configurable: Callable, argument: str, how: str = "") -> None:
    """Declare that `configurable`'s `argument` holds a path whose content a stage reads;
    `how` (optional) says how to produce the file, for the error when it is missing."""
    if argument not in inspect.signature(configurable).parameters:
        raise TypeError(f"register_file_binding: {configurable.__name__} has no argument "
                        f"{argument!r}; name one of its path arguments")
    _FILE_BINDINGS[f"{configurable.__name__}.{argument}"] = (configurable, argument, how)


def registered_file_bindings() -> list[str]:
    """The registered bindings ("configurable.argument"), sorted."""
    return sorted(_FILE_BINDINGS)


def bound_file_fingerprints() -> dict[str, str]:
    """binding -> sha256 of its files, for every registered binding bound to a path (None is
    skipped). A path with no files is an error naming the binding; while a dry run plans, a
    placeholder (see `planning.inputs_may_be_missing`)."""
    found = {}
    for binding in registered_file_bindings():
        configurable, argument, how = _FILE_BINDINGS[binding]
        path = planning.bound_value(configurable, argument)
        if path is None:
            continue
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"{binding} = {path!r} is not a path; bind a quoted path or None")
        path = os.fspath(path)
        found[binding] = (planning.file_fingerprint(path) if _has_files(path) else
                          planning.missing_input(path, ValueError(
                              f"{binding} = {path!r}: no such file, folder or checkpoint "
                              "prefix; write it there, fix the path, or bind None"
                              + (f". {how}" if how else ""))))
    return found


def _has_files(path: str) -> bool:
    """Whether `path` is a file, a folder holding files, or a checkpoint prefix (`p.index`,
    `p.data-...` beside it): what `planning.file_fingerprint` hashes."""
    if os.path.isfile(path):
        return True
    if os.path.isdir(path):
        return any(entry.is_file() for entry in os.scandir(path))
    folder, prefix = os.path.split(path)
    return os.path.isdir(folder or ".") and any(
        name.startswith(prefix + ".") for name in os.listdir(folder or "."))
