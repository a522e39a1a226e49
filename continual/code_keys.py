"""The project code a stage's result depends on, for its key.

A stage's key covers the code of the project modules that compute it: the modules that define
the configurables the experiment uses and the stage's own module, with every project module
they import (found by reading their `import` statements, transitively), plus the hash of
Pipfile.lock, which pins every third-party package. Editing a method's code therefore re-keys
that method's stages only; editing docs, tests or another method re-keys nothing.

Two rules keep the closure to what computes results:
- a package's `__init__.py` counts only where it is imported by name (`from continual.data
  import scenarios`), not for every module below it;
- modules that never change a number (`NOT_RESULT_CODE`: reporting, locks, error types, this
  file) are left out and not followed.

What counts of a module is its code, not its text: its syntax tree (`ast.dump` without line
and column numbers) less its docstrings (the first statement of the module's, a class's or a
function's body when it is a string constant). Comments, docstrings, blank lines and how a
statement is wrapped over lines cannot move a number, so editing them re-keys nothing; every
other string constant (an error message, a gin name), name, number and statement counts. A
module that does not parse raises its SyntaxError here (it could not run either); it is never
hashed as anything else. The tree is the running interpreter's, and `ast` may dump the same code
differently in another Python minor version; keys are tied to the pinned one already (every key
holds Pipfile.lock's hash, and the lock requires `python_version` 3.11, which bootstrap.py
enforces), so the version is not hashed twice.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "Pipfile.lock"
# Module prefixes whose code never changes what a stage computes (what it writes where, how
# it reports, how processes take turns); they are neither hashed nor followed.
NOT_RESULT_CODE = ("continual.reporting", "continual.store_lock", "continual.errors",
                   "continual.code_keys", "continual.data.stale_temps")


@functools.cache
def module_path(name: str) -> Path | None:
    """The source file of project module `name` (a package's `__init__.py`), else None."""
    parts = name.split(".")
    for candidate in (ROOT.joinpath(*parts).with_suffix(".py"),
                      ROOT.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def is_project_module(name: str) -> bool:
    return module_path(name) is not None and not _left_out(name)


def _left_out(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in NOT_RESULT_CODE)


def _stamp(path: Path) -> tuple[int, int]:
    """What the caches below are keyed by with the path: a module read once per edit."""
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@functools.cache
def _parsed(path: Path, stamp: tuple[int, int]) -> tuple[str, tuple[ast.stmt, ...]]:
    """The module's code hash and its import statements, from one parse. (Caching the whole
    tree instead would keep every module's nodes alive, slowing Python's collector.)"""
    tree = without_docstrings(ast.parse(path.read_bytes(), filename=str(path)))
    dump = ast.dump(tree, include_attributes=False)
    imports = (ast.Import, ast.ImportFrom)
    return (hashlib.sha256(dump.encode()).hexdigest()[:16],
            tuple(node for node in ast.walk(tree) if isinstance(node, imports)))


def imported_modules(name: str) -> set[str]:
    """The project modules that module `name` imports (any import statement in its source)."""
    path = module_path(name)
    return _imports(name, path, _stamp(path))


@functools.cache
def _imports(name: str, path: Path, stamp: tuple[int, int]) -> frozenset[str]:
    is_package = path.name == "__init__.py"
    found = set()
    for node in _parsed(path, stamp)[1]:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(name, is_package, node.module, node.level)
            for alias in node.names:  # `from pkg import sub` imports module pkg.sub if any
                child = f"{base}.{alias.name}"
                found.add(child if module_path(child) is not None else base)
    return frozenset(m for m in found if is_project_module(m))


def _resolve_from(name: str, is_package: bool, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    package = name if is_package else name.rpartition(".")[0]
    for _ in range(level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{module}" if module else package


def closure(roots: Iterable[str]) -> list[str]:
    """`roots` (project modules) and every project module they import, transitively; sorted."""
    seen, todo = set(), [r for r in roots if is_project_module(r)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(imported_modules(name) - seen)
    return sorted(seen)


def module_hashes(roots: Iterable[str]) -> dict[str, str]:
    """Relative path -> `code_hash` of every module of `closure(roots)`."""
    return {str(module_path(m).relative_to(ROOT)): code_hash(module_path(m))
            for m in closure(roots)}


def code_hash(path: Path) -> str:
    """sha256 (16 hex) of the code of the module at `path`: its syntax tree without docstrings,
    line or column numbers. Raises SyntaxError (naming `path`) where it does not parse."""
    return _parsed(path, _stamp(path))[0]


_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def without_docstrings(tree: ast.Module) -> ast.Module:
    """`tree` with the docstring of its module, classes and functions removed (in place)."""
    for node in ast.walk(tree):
        if isinstance(node, _DOCUMENTED) and node.body and _is_docstring(node.body[0]):
            node.body = node.body[1:]
    return tree


def _is_docstring(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))


@functools.cache
def lock_hash() -> str:
    """sha256 of Pipfile.lock: the third-party code every stage runs."""
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
