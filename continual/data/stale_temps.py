"""Temporary files left by killed writers: find them, remove the stale ones, refuse completion.

Every writer of ours writes under a hidden temporary name that carries its process id
(`.00001.tmp-4242.jpg`, `.train-00000.tfrecord.tmp-4242`, `.manifest.tmp-4242.json`) and renames
it into place when done. A SIGKILL skips the clean-up, so the temporary file stays behind. A
temporary file is *stale* when no process with its id is alive on this machine: a live id
(even a reused one) is never judged stale, so another running writer's files are never touched.
Writers of one artefact on other machines are kept apart by the store's per-key lock.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

from continual.errors import InputError

LOG = logging.getLogger(__name__)
# A hidden name, `.tmp-<pid>`, then at most one extension (`.jpg`, `.json`); see atomic.py.
TEMP_NAME = re.compile(r"^\..+\.tmp-(?P<pid>\d+)(?:\.[A-Za-z0-9]+)?$")


class TempFileError(InputError):
    """A temporary file inside something about to be marked complete; the message names it."""


def temp_file_pid(name: str) -> int | None:
    """The process id in a temporary file name of ours, or None for any other name."""
    match = TEMP_NAME.match(name)
    return int(match["pid"]) if match else None


def process_alive(pid: int) -> bool:
    """True when a process with this id exists on this machine (ours, another user's, a
    zombie); ids that cannot belong to a process count as alive, so they are never removed."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temp_files(folder: str | os.PathLike, *, prefix: str = "",
               recursive: bool = True) -> list[Path]:
    """Every temporary file (or folder) of ours under `folder` whose name starts with
    `prefix`, live or stale, in sorted order; none when `folder` does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted([*dirs, *files]):
            if name.startswith(prefix) and temp_file_pid(name) is not None:
                found.append(Path(root) / name)
        dirs[:] = [d for d in dirs if temp_file_pid(d) is None] if recursive else []
    return found


def remove_stale_temp_files(folder: str | os.PathLike, *, prefix: str = "",
                            recursive: bool = True) -> list[Path]:
    """Delete the temporary files under `folder` whose writer is no longer alive; return them.

    Call before writing into `folder`, so that a rerun after a kill starts clean.
    """
    removed = []
    for path in temp_files(folder, prefix=prefix, recursive=recursive):
        pid = temp_file_pid(path.name)
        if process_alive(pid):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        LOG.info("%s: left by process %d, which is gone (killed writer); removed", path, pid)
        removed.append(path)
    return removed


def refuse_temp_files(folder: str | os.PathLike, what: str, *, prefix: str = "",
                      recursive: bool = True) -> None:
    """Remove stale temporary files under `folder`, then raise `TempFileError` if any remain.

    `what` names the artefact about to be marked complete: a complete artefact never holds a
    temporary file, since one still being written means its content is not final.
    """
    remove_stale_temp_files(folder, prefix=prefix, recursive=recursive)
    left = temp_files(folder, prefix=prefix, recursive=recursive)
    if left:
        pid = temp_file_pid(left[0].name)
        owner = "this process" if pid == os.getpid() else f"process {pid}, still running"
        raise TempFileError(
            f"{what} is not marked complete: {left[0]} ({owner}) is "
            f"being written inside it{f' ({len(left)} such files)' if len(left) > 1 else ''}; "
            "wait for that process to finish, or stop it and rerun")
