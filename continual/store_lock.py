"""Claims on artefact keys, so that many processes can share one checkpoint store.

A claim is an exclusive `fcntl.flock` on `<store>/.locks/<kind>/<key>.lock`. While it holds the
lock, the holder writes its host, pid and start time into the file, for a person who wants to
know who is training what (`holder_of`). The operating system drops a flock when its process
dies, however it dies, so a lock whose holder is dead is simply taken over by the next claim;
the text a dead holder left behind is overwritten then. Lock files are never deleted (deleting
one while another process waits on it would let two processes hold "the" lock).

Across hosts this relies on the shared file system honouring flock between clients: NFSv4 and
NFSv3 with lockd do (Linux maps flock to byte-range locks there; a crashed client's locks go
when its lease expires, about 90 s), Lustre needs the `flock` mount option, GPFS and BeeGFS
support it. A file system that refuses flock fails the claim with an error saying so.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from continual.bindings import supplied_configurable
from continual.data.stale_temps import process_start

log = logging.getLogger(__name__)
LOCKS_FOLDER = ".locks"


class StageClaimed(Exception):
    """The lock is held by another live process (raised by a claim that does not wait)."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path} is held by {holder or 'another process'}")
        self.path, self.holder = path, holder


def holder_of(path: str | os.PathLike) -> str:
    """What the last holder of the lock at `path` wrote ("host pid N (process start S ticks
    after boot) since T"), or ""."""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def _try_lock(handle, path: Path) -> bool:
    """Take the flock without blocking; False when another process holds it."""
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as error:
        if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            raise OSError(error.errno, f"{path}: the file system refuses flock ({error}); put "
                          "the checkpoint store on one that supports it (local disk, NFSv4, "
                          "Lustre mounted with -o flock)") from error
        raise


def _write_holder(handle) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    handle.seek(0)
    handle.truncate()
    started = process_start(os.getpid())
    handle.write(f"{socket.gethostname()} pid {os.getpid()} (process start {started} ticks "
                 f"after boot) since {stamp}\n")
    handle.flush()


@contextmanager
def hold(path: str | os.PathLike, *, wait: bool = True, poll_seconds: float = 5.0,
         what: str = "") -> Iterator[None]:
    """Hold the exclusive lock at `path` for the body of the `with`.

    If another process holds it: with `wait`, poll every `poll_seconds` (logging the holder
    when it is first seen or changes); without, raise StageClaimed naming the holder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:  # "a+": never truncate another's text
        seen = None
        while not _try_lock(handle, path):
            holder = holder_of(path)
            if not wait:
                raise StageClaimed(path, holder)
            if holder != seen:
                log.info("waiting for %s: claimed by %s", what or path, holder or "?")
                seen = holder
            time.sleep(poll_seconds)
        try:
            _write_holder(handle)
            yield
        finally:
            handle.seek(0)
            handle.truncate()  # released: nobody holds it (closing the file drops the flock)


@supplied_configurable(root=None)
class KeyLocks:
    """The claims of one store: `claim(kind, key)` locks `<root>/.locks/<kind>/<key>.lock`.

    `poll_seconds`: how often a process waiting for a claimed stage looks again.
    """

    def __init__(self, root: str | os.PathLike, poll_seconds: float = 5.0):
        if poll_seconds <= 0:
            raise ValueError(f"KeyLocks.poll_seconds = {poll_seconds}; use a positive number "
                             "of seconds")
        self.root, self.poll_seconds = Path(root), float(poll_seconds)

    def path(self, kind: str, key: str) -> Path:
        return self.root / LOCKS_FOLDER / kind / f"{key}.lock"

    def claim(self, kind: str, key: str, *, wait: bool = True):
        """A context manager holding the claim on `kind/key` (see `hold`)."""
        return hold(self.path(kind, key), wait=wait, poll_seconds=self.poll_seconds,
                    what=f"{kind}/{key}")
