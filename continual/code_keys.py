"""The project code a stage's result depends on, for its key.

A stage's key covers the source of the project modules that compute it: the modules that define
the configurables the experiment uses and the stage's own module, with every project module
they import (found by reading their `import` statements, transitively), plus the hash of
Pipfile.lock, which pins every third-party package. Editing a method's file therefore re-keys
that method's stages only; editing docs, tests or another method re-keys nothing.

Two rules keep the closure to what computes results:
- a package's `__init__.py` counts only where it is imported by name (`from continual.data
  import scenarios`), not for every module below it;
- modules that never change a number (`NOT_RESULT_CODE`: reporting, locks, error types, this
  file) are left out and not followed.
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


@functools.cache
def _source(path: Path, stamp: tuple[int, int]) -> bytes:
    return path.read_bytes()


def source_of(name: str) -> bytes:
    path = module_path(name)
    stat = path.stat()
    return _source(path, (stat.st_mtime_ns, stat.st_size))


def imported_modules(name: str) -> set[str]:
    """The project modules that module `name` imports (any import statement in its source)."""
    path = module_path(name)
    stat = path.stat()
    return _imports(name, path, (stat.st_mtime_ns, stat.st_size))


@functools.cache
def _imports(name: str, path: Path, stamp: tuple[int, int]) -> frozenset[str]:
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(source_of(name), filename=str(path))):
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
    """Relative path -> sha256 (16 hex) of the source of every module of `closure(roots)`."""
    return {str(module_path(m).relative_to(ROOT)): _digest(source_of(m)) for m in closure(roots)}


@functools.lru_cache(maxsize=512)
def _digest(source: bytes) -> str:
    return hashlib.sha256(source).hexdigest()[:16]


@functools.cache
def lock_hash() -> str:
    """sha256 of Pipfile.lock: the third-party code every stage runs."""
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
