"""The one base class of input and environment faults.

An `InputError` is raised for something the user can fix (a file, a binding, an artefact, a
disk): `main.py` and the command-line tools print its message as `error: ...` and exit 2, at
planning time and while running. Anything else is a bug and keeps its traceback. The project's
specific errors (bad manifests, records, weights, replay folders, handles) subclass it; it
subclasses ValueError so that callers that catch ValueError keep working.
"""

from __future__ import annotations

import errno
import functools
import sys
from collections.abc import Callable

# OSError numbers that mean the environment, not the code, is at fault (disk, permissions).
ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT,
                      errno.ENOTDIR, errno.EISDIR, errno.EEXIST}


class InputError(ValueError):
    """Bad input or a faulty environment; the message names the thing and the fix."""


def environment_message(err: OSError) -> str | None:
    """The `error:` text for a disk or permission fault, or None for any other OSError."""
    if err.errno not in ENVIRONMENT_ERRNOS:
        return None
    where = err.filename or "a file"
    return (f"cannot write or read {where}: {err.strerror}. Free space, fix the permissions, "
            "or point --workdir / TrainManager.checkpoint_dir at a writable folder")


def fault_message(err: Exception) -> str | None:
    """The `error:` text of an input or environment fault; None for a bug (keep its traceback)."""
    if isinstance(err, InputError):
        return str(err)
    if isinstance(err, OSError):
        return environment_message(err)
    return None


def reports_input_errors(main: Callable[..., int | None]) -> Callable[..., int | None]:
    """Wrap a command-line `main`: an input or environment fault prints `error: ...` and
    returns 2 (the project's one exit code for input errors); a bug keeps its traceback."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except Exception as err:  # re-raised unless the user's to fix
            message = fault_message(err)
            if message is None:
                raise
            print(f"error: {message}", file=sys.stderr)
            return 2

    return wrapper
