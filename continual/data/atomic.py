"""Atomic file replacement: write under a temporary name in the same folder, then rename.

The temporary name (`.<stem>.tmp-<host>-<pid>-<start><suffix>`) names the writer (host, process
id, process start time), so that the file a killed writer leaves behind is recognised and
removed by the next run (`continual.data.stale_temps`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from continual.data.stale_temps import temp_tag
from continual.errors import InputError


@contextmanager
def atomic_target(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success rename it onto `path`, else delete it.

    The temporary name keeps the suffix so writers that infer the format from it (matplotlib)
    still work; readers never see a half-written file.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder where a file is to be written; move or delete "
                         "that folder and rerun")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{temp_tag()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Replace `path` with `text` (UTF-8) atomically and durably; return the path."""
    with atomic_target(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    return Path(path)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Replace `path` with `data` atomically; return the path."""
    with atomic_target(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    return Path(path)


def write_json_atomic(path: str | os.PathLike, payload) -> Path:
    """Replace `path` with `payload` as indented, key-sorted JSON, atomically."""
    return write_text_atomic(path, json.dumps(payload, indent=1, sort_keys=True))
