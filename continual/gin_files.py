"""Gin files: where a path given by the user is, parsing files and bindings with errors that
name the fix, and what role each `--gin_file` plays in a suite.

A file that binds `Suite.*` is a suite file (its values apply to every experiment); a file that
binds `TrainManager.plan_kind` is a stream experiment; any other file is a RECALL experiment
config. Parsing needs every configurable the files bind to be registered first: the runner's
own (`Suite`, `TrainManager`, ...) register when `suite.py` is imported.
"""

from __future__ import annotations

import functools
import io
import re
import tokenize
from pathlib import Path

import gin

from continual.bindings import explain_refused_binding
from continual.errors import InputError

ROOT = Path(__file__).resolve().parents[1]  # the repository: gin paths resolve from here too


def _located(path: str) -> Path | None:
    """`path` as given (relative to the working folder), else relative to the repo; None if
    neither exists (gin looks in the same two places)."""
    return next((c for c in (Path(path), ROOT / path) if c.exists()), None)


def resolve_gin_file(path: str) -> str:
    """A gin file path as given (relative to the working folder) or relative to the repo."""
    found = _located(path)
    if found is not None:
        return str(found)
    raise FileNotFoundError(f"gin file {path} does not exist (looked in . and {ROOT}); "
                            "check --gin_file, Suite.configs or the 'file' of an entry in "
                            "Suite.experiments")


@functools.cache
def _add_search_path_once() -> None:
    gin.add_config_file_search_path(str(ROOT))


def parse_gin(files: list[str], params: list[str]) -> None:
    """Clear gin, then parse `files` in order and `params` last (includes resolve from the repo)."""
    gin.clear_config()
    _add_search_path_once()
    paths = [resolve_gin_file(f) for f in files]
    for path in paths:
        _check_includes(path)
    try:
        gin.parse_config_files_and_bindings(paths, params)
    except ValueError as err:  # a refused binding names the one to use instead
        raise explain_refused_binding(err) from err
    except SyntaxError as err:  # gin's parser reports the file (None: a --gin_param) and line
        where = f"{err.filename}, line {err.lineno}" if err.filename else "--gin_param"
        raise InputError(f"gin syntax error in {where}: {err.msg} ({(err.text or '').strip()!r})"
                         "; fix that line") from err
    except tokenize.TokenError as err:  # gin's tokenizer: a bracket or quote left open
        raise InputError(f"gin cannot read {_unclosed(paths, params)}: {err.args[0]} (a "
                         "bracket or quote left open); close it") from err


INCLUDE = re.compile(r"^\s*include\s+['\"]([^'\"]+)['\"]", re.MULTILINE)


def _check_includes(path: str, seen: frozenset = frozenset()) -> None:
    """Every file `path` includes (transitively) exists where gin looks: gin's own error for a
    missing include does not name it."""
    for included in INCLUDE.findall(Path(path).read_text()):
        found = _located(included)
        if found is None:
            raise InputError(f"gin file {path} includes {included!r}, which does not exist "
                             f"(looked in . and {ROOT}); fix that include line")
        if str(found) not in seen:
            _check_includes(str(found), seen | {path})


def _unclosed(paths: list[str], params: list[str]) -> str:
    """The first file or --gin_param that Python's tokenizer (gin's) cannot read to its end."""
    texts = [(f"gin file {path}", Path(path).read_text()) for path in paths]
    texts += [(f"--gin_param {param!r}", param) for param in params]
    for where, text in texts:
        try:
            list(tokenize.generate_tokens(io.StringIO(text + "\n").readline))
        except tokenize.TokenError:
            return where
    return "the gin files and --gin_param bindings together"


def file_role(path: str) -> str:
    """'suite' (binds Suite.*), 'stream' (binds TrainManager.plan_kind) or 'recall'."""
    parse_gin([path], [])
    if gin.get_bindings("Suite"):
        return "suite"
    return "stream" if "plan_kind" in gin.get_bindings("TrainManager") else "recall"


def split_gin_files(gin_files: list[str], default_suite: str) -> tuple[list[str], dict]:
    """(suite files, experiment files by role) of the command line's --gin_file list.

    RECALL configs need a suite's tests and sources: with no suite file given, the default
    suite's are used.
    """
    roles = {path: file_role(path) for path in gin_files}
    suites = [path for path in gin_files if roles[path] == "suite"]
    by_role = {role: [p for p in gin_files if roles[p] == role] for role in ("recall", "stream")}
    if not suites and (by_role["recall"] or not gin_files):
        suites = [default_suite]
    return suites, by_role
