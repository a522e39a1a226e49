"""The crawl state of one web replay class folder: its images so far, and what failed.

`ClassProgress` keeps a journal of the images written (with their provenance) until the class
manifest is written, so an interrupted crawl resumes from what is on disk, and a record of the
downloads that failed after their retries (`failed.json`, replaced atomically), so that a class
short of images because of transient faults is not finished, and a rerun tries them again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path

from continual.data.atomic import write_json_atomic
from continual.replay.folders import (
    ReplayFolderError,
    image_entry,
    open_class_folder,
    write_file_atomic,
)

LOG = logging.getLogger(__name__)
JOURNAL = "progress.jsonl"
FAILED = "failed.json"
IMAGE_NAME = re.compile(r"^\d{5}\.jpg$")


class ClassProgress:
    """The images of a class folder so far, with their provenance, in a journal (progress.jsonl).

    The journal stays beside the manifest, so that a class whose manifest and some files were
    deleted is rebuilt with the same images under the same names.
    Images are written first, then their journal line, so an image without a line (a crash in
    between) is an orphan: it is deleted on resume and its index is reused. Lines whose file is
    missing or changed are dropped; the lowest free index is filled first, so a rerun after
    deleting files gives them their old names back.
    """

    def __init__(self, folder: Path, entries: list[dict], failed: dict[str, dict] | None = None):
        self.folder = folder
        self.entries = entries
        self.failed = dict(failed or {})   # photo id -> {"url", "reason"} of failed downloads
        self._photos = {entry.get("photo_id") for entry in entries}
        self._contents = {entry["sha256"]: entry.get("photo_id") for entry in entries}

    @classmethod
    def open(cls, folder: str | os.PathLike, parameters: dict) -> ClassProgress:
        """Resume (or start) the class folder; `parameters` must match the journal's."""
        folder = open_class_folder(folder)
        entries = [e for e in _journal_entries(folder / JOURNAL, parameters) if _intact(folder, e)]
        kept = {entry["file"] for entry in entries}
        for path in sorted(folder.glob("*.jpg")):
            if IMAGE_NAME.match(path.name) and path.name not in kept:
                LOG.warning("%s: not in %s (interrupted write); deleted", path, JOURNAL)
                path.unlink()
        lines = [json.dumps({"parameters": parameters})] + [json.dumps(e) for e in entries]
        write_file_atomic(folder / JOURNAL, ("\n".join(lines) + "\n").encode("utf-8"))
        failed = _failed_downloads(folder / FAILED)
        if failed:
            LOG.info("%s: %d downloads failed on an earlier run (%s); trying them again",
                     folder, len(failed), ", ".join(sorted(failed)))
        return cls(folder, entries, failed)

    def __len__(self) -> int:
        return len(self.entries)

    def has_photo(self, photo_id: str) -> bool:
        return photo_id in self._photos

    def photo_with_content(self, sha256: str) -> str | None:
        """The photo id already kept with exactly these bytes, if any."""
        return self._contents.get(sha256)

    def add(self, data: bytes, **provenance) -> dict:
        """Write the image under the lowest free `{index:05d}.jpg`, then journal it."""
        used = {entry["file"] for entry in self.entries}
        index = next(i for i in range(len(used) + 1) if f"{i:05d}.jpg" not in used)
        path = self.folder / f"{index:05d}.jpg"
        write_file_atomic(path, data)
        entry = image_entry(path, **provenance)
        with open(self.folder / JOURNAL, "a", encoding="utf-8") as journal:
            journal.write(json.dumps(entry) + "\n")
            journal.flush()
            os.fsync(journal.fileno())
        self.entries.append(entry)
        self._photos.add(provenance.get("photo_id"))
        self._contents[entry["sha256"]] = provenance.get("photo_id")
        if self.failed.pop(provenance.get("photo_id"), None) is not None:
            self._write_failed()
        return entry

    def mark_failed(self, photo_id: str, url: str, reason: str) -> None:
        """Record a download that failed after its retries (replacing failed.json atomically)."""
        self.failed[photo_id] = {"url": url, "reason": reason}
        self._write_failed()

    def forget_failed(self) -> None:
        """Drop the failure record: the class is finished without those photos."""
        self.failed.clear()
        self._write_failed()

    def _write_failed(self) -> None:
        path = self.folder / FAILED
        if self.failed:
            write_json_atomic(path, {"failed": self.failed})
        else:
            path.unlink(missing_ok=True)


def _failed_downloads(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    try:
        failed = json.loads(path.read_text(encoding="utf-8"))["failed"]
    except (KeyError, TypeError, json.JSONDecodeError):
        raise ReplayFolderError(f"{path} is not a record of failed downloads; delete it (its "
                                "photos are retried anyway while the class is short)") from None
    if not isinstance(failed, dict):
        raise ReplayFolderError(f"{path} is not a record of failed downloads; delete it")
    return failed


def _journal_entries(path: Path, parameters: dict) -> list[dict]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        started_with = json.loads(lines[0])["parameters"]
    except (IndexError, KeyError, TypeError, json.JSONDecodeError):
        raise ReplayFolderError(f"{path} has no parameter header; delete {path.parent} to "
                                "download the class again") from None
    if started_with != parameters:
        raise ReplayFolderError(f"{path.parent} was started with other parameters "
                                f"({parameter_changes(started_with, parameters)}); rerun with "
                                "the same options, or delete the folder to start again")
    entries = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            LOG.warning("%s line %d is torn (interrupted write); its image is redone", path, number)
    return entries


def _intact(folder: Path, entry: dict) -> bool:
    path = folder / str(entry.get("file", ""))
    if not IMAGE_NAME.match(path.name) or not path.is_file():
        LOG.info("%s: %s is missing; it will be downloaded again", folder, path.name)
        return False
    if hashlib.sha256(path.read_bytes()).hexdigest() != entry.get("sha256"):
        LOG.warning("%s: %s changed since it was written; downloading again", folder, path.name)
        return False
    return True


def parameter_changes(old: dict, new: dict) -> str:
    """'name: old -> new' for every parameter that differs."""
    names = sorted(set(old) | set(new))
    return ", ".join(f"{name}: {old.get(name)!r} -> {new.get(name)!r}" for name in names
                     if old.get(name) != new.get(name))
