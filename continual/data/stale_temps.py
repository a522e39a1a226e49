"""Temporary files left by killed writers: find them, remove the stale ones, refuse completion.

Every writer of ours writes under a hidden temporary name that carries who writes it: the host,
the process id and that process's start time (`.00001.tmp-node7-4242-81234.jpg`,
`.train-00000.tfrecord.tmp-node7-4242-81234`), and renames it into place when done. A SIGKILL
skips the clean-up, so the temporary file stays behind. A temporary file of this host is
*stale* when no process with its id is alive, or when the live process with that id started at
another time (the id was reused, e.g. after a reboot or in a container whose first process is
always 1). A temporary file of another host is never judged here (its writer may be alive
there). Names of the older form `.tmp-<pid>` are judged by the id alone.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import socket
from pathlib import Path

from continual.errors import InputError

LOG = logging.getLogger(__name__)
# A hidden name, `.tmp-<host>-<pid>-<start>` (or the older `.tmp-<pid>`), then at most one
# extension (`.jpg`, `.json`); see atomic.py.
TEMP_NAME = re.compile(r"^\..+\.tmp-(?:(?P<host>[A-Za-z0-9]+)-(?P<pid_>\d+)-(?P<start>\d+)|"
                       r"(?P<pid>\d+))(?:\.[A-Za-z0-9]+)?$")


@dataclasses.dataclass(frozen=True)
class Writer:
    """Who writes a temporary file: host (None: an old name), process id, start time."""

    host: str | None
    pid: int
    start: int | None

    def describe(self) -> str:
        me = this_writer()
        if self.host in (None, me.host) and self.pid == me.pid and self.start in (None,
                                                                                   me.start):
            return "this process"
        if self.host not in (None, me.host):
            return (f"process {self.pid} on host {self.host}, which this machine cannot check; "
                    "if nothing there writes it any more, delete the file")
        return f"process {self.pid}, started with the file and still running"


def host_tag() -> str:
    """This host's name as it appears in temporary names (letters and digits only)."""
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname()) or "host"


def process_start(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, /proc/<pid>/stat field 22), or None
    where that cannot be read (no /proc, or no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[19])  # fields after the command name: 3, 4, ...


def this_writer() -> Writer:
    return Writer(host_tag(), os.getpid(), process_start(os.getpid()) or 0)


def temp_tag() -> str:
    """`<host>-<pid>-<start>`: what a writer puts after `.tmp-` in its temporary names."""
    writer = this_writer()
    return f"{writer.host}-{writer.pid}-{writer.start}"


def temp_file_writer(name: str) -> Writer | None:
    """Who writes a temporary file of ours, from its name; None for any other name."""
    match = TEMP_NAME.match(name)
    if match is None:
        return None
    if match["pid"] is not None:
        return Writer(None, int(match["pid"]), None)
    return Writer(match["host"], int(match["pid_"]), int(match["start"]))


def writer_gone(writer: Writer) -> bool:
    """True when the file's writer cannot be running: its id is free on this host, or taken
    by a process that started at another time. Another host's writer is never judged gone."""
    if writer.host is not None and writer.host != host_tag():
        return False
    if not process_alive(writer.pid):
        return True
    if writer.start is None or writer.start == 0:
        return False  # no start time recorded (an old name, or no /proc): the id decides
    started = process_start(writer.pid)
    return started is not None and started != writer.start


class TempFileError(InputError):
    """A temporary file inside something about to be marked complete; the message names it."""


def temp_file_pid(name: str) -> int | None:
    """The process id in a temporary file name of ours, or None for any other name."""
    writer = temp_file_writer(name)
    return None if writer is None else writer.pid


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
        writer = temp_file_writer(path.name)
        if not writer_gone(writer):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        LOG.info("%s: left by process %d, which is gone (killed writer, or its id reused by "
                 "a later process); removed", path, writer.pid)
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
        owner = temp_file_writer(left[0].name).describe()
        raise TempFileError(
            f"{what} is not marked complete: {left[0]} ({owner}) is "
            f"being written inside it{f' ({len(left)} such files)' if len(left) > 1 else ''}; "
            "wait for that process to finish, or stop it and rerun")
