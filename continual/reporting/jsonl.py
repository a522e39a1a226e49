"""metrics.jsonl: one JSON object per line, appended durably, readable after a kill.

A record is written as one line plus a newline, flushed and fsynced, so a run killed while
writing leaves at most an incomplete last line. Since every record is a JSON object, a
proper prefix of a line never parses: a last line that parses is complete (only its newline
is missing), one that does not is a partial write. Both functions treat it that way.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from continual.errors import InputError

log = logging.getLogger(__name__)


def _to_json(value: Any) -> Any:
    """Turn numpy scalars and arrays (e.g. a confusion matrix) into plain Python."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable: {value!r}")


def _parses_as_object(text: bytes) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:  # a partial write: the caller truncates it
        return False


def _repair_last_line(path: Path) -> None:
    """Complete or drop a last line that lacks its newline (a run killed mid-write)."""
    size = path.stat().st_size
    if size == 0:
        return
    with open(path, "r+b") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        handle.seek(0)
        data = handle.read()
        start = data.rfind(b"\n") + 1
        if _parses_as_object(data[start:]):
            handle.seek(size)
            handle.write(b"\n")
        else:
            log.warning("%s: dropping an incomplete last line (%d bytes) left by an "
                        "interrupted write", path, size - start)
            handle.truncate(start)
        handle.flush()
        os.fsync(handle.fileno())


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append `record` as one JSON line, durably; create parent folders; repair a torn end."""
    path = Path(path)
    try:
        line = json.dumps(record, default=_to_json, allow_nan=False)
    except ValueError as error:
        raise ValueError(f"{path}: record has a NaN or infinite value; store None for an "
                         f"undefined metric ({error})") from error
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _repair_last_line(path)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read every record; skip a torn last line with a warning; raise on any other bad line."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    complete, tail = lines[:-1], lines[-1]
    records = []
    for number, line in enumerate(complete, start=1):
        if line.strip():
            records.append(_parse_line(path, number, line))
    if tail.strip():
        if _parses_as_object(tail.encode("utf-8")):
            records.append(json.loads(tail))
        else:
            log.warning("%s: ignoring an incomplete last line %d (an interrupted write)",
                        path, len(lines))
    return records


def _parse_line(path: Path, number: int, line: str) -> dict:
    try:
        value = json.loads(line)
    except ValueError as error:
        raise InputError(f"{path}, line {number}: not valid JSON ({error}); fix or delete "
                         f"that line") from error
    if not isinstance(value, dict):
        raise InputError(f"{path}, line {number}: expected a JSON object, got "
                         f"{type(value).__name__}; fix or delete that line")
    return value
