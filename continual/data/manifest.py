"""Manifests: the JSON sidecar of a record set, written last, so it doubles as completion marker.

A manifest lists the shards (file, record count, sha256), every record in write order (id,
classes, shard, size), counts per class, and what the set was made from (`source`). The set's
identity (`content_hash`, which every artefact key holds) is computed from the manifest's
content: its records, labels, classes, image shape and the shards' hashes, never read from a
stored field, so an edited manifest is another set. Reading a manifest checks that it agrees
with itself; `continual.data.record_checks` checks that the records agree with it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from pathlib import Path

from continual.data.atomic import write_json_atomic  # noqa: F401 (re-exported)
from continual.data.manifest_checks import check_consistent
from continual.errors import InputError

FORMAT = "recall-records/1"
MANIFEST_SUFFIX = ".manifest.json"
# Manifest fields outside a set's identity: what it was made from (paths, versions), a count
# derived from the records (checked against them instead), and the shard-only hash that
# manifests stored before the identity covered the whole manifest.
NOT_IDENTITY = ("source", "class_counts", "content_hash")
# The converter that writes each `source.dataset`, named in every "rebuild it" message.
CONVERTERS = {"synthetic": "continual.data.synthetic", "voc2012": "continual.data.voc",
              "recall-original": "continual.data.recall_original",
              "synthetic_stream": "continual.data.synthetic_stream", "idx": "continual.data.idx",
              "image_folder": "continual.data.image_folder", "cifar10": "continual.data.cifar",
              "cifar100": "continual.data.cifar", "sslad_2d": "continual.data.sslad"}


class ManifestError(InputError):
    """A missing, corrupt or inconsistent manifest; the message names the file and the fix."""


def manifest_path(directory: str | os.PathLike, name: str) -> Path:
    """Where the manifest of record set `name` in `directory` lives."""
    return Path(directory) / f"{name}{MANIFEST_SUFFIX}"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_cached(path: str | os.PathLike) -> str:
    """sha256 of a file, hashed once per process and file state (path, size, mtime): every
    experiment of a suite opens the same record sets and weights."""
    stat = os.stat(path)
    return _sha256_of_state(os.fspath(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _sha256_of_state(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


@dataclasses.dataclass(frozen=True)
class Manifest:
    """A parsed manifest; `path` is the JSON file, shards are resolved beside it."""

    path: Path
    data: dict

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def num_records(self) -> int:
        return int(self.data["num_records"])

    @functools.cached_property
    def content_hash(self) -> str:
        """The set's identity, what artefact keys depend on: the manifest's records (ids,
        labels, shard, size, stream metadata), task, num_classes, class names, image shape and
        shards (file, count, sha256); not its `source` (equal data made from other paths or
        archives is one set)."""
        content = {key: value for key, value in self.data.items() if key not in NOT_IDENTITY}
        content.update(task=self.task, num_classes=self.num_classes)  # the defaults, spelled out
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def source(self) -> dict:
        return self.data.get("source", {})

    def shard_paths(self) -> list[Path]:
        return [self.path.parent / shard["file"] for shard in self.data["shards"]]

    def record_ids(self) -> list[str]:
        return [rec["id"] for rec in self.data["records"]]

    def record_classes(self) -> list[tuple[int, ...]]:
        """Per record, in manifest order, the class ids its label contains."""
        return [tuple(rec["classes"]) for rec in self.data["records"]]

    @property
    def task(self) -> str:
        """'segmentation' (VOC-like sets, the default) or 'classification'."""
        return self.data.get("task", "segmentation")

    @property
    def num_classes(self) -> int:
        """Number of class ids of the set (VOC's 21 unless the manifest states it)."""
        return int(self.data.get("num_classes", 21))

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        """[H, W, C] of every image of a classification set (None when sizes vary)."""
        shape = self.data.get("image_shape")
        return tuple(int(v) for v in shape) if shape else None

    def record_metadata(self, name: str) -> list[int | None]:
        """Per record, in manifest order, a stream metadata value (`time`, `domain`, `group`)."""
        return [rec.get(name) for rec in self.data["records"]]

    def class_counts(self) -> dict[int, int]:
        return {int(k): int(v) for k, v in self.data["class_counts"].items()}

    def verify_shards(self) -> None:
        """Check every shard exists and matches its manifest's sha256 (cached per file state);
        raise naming the bad shard. Keys trust `content_hash`, so no set is used unverified."""
        for shard, path in zip(self.data["shards"], self.shard_paths(), strict=True):
            if not path.exists():
                raise ManifestError(f"{self.path}: shard {path} is missing; "
                                    f"{self.rebuild_hint()}")
            if sha256_cached(path) != shard["sha256"]:
                raise self.mismatch(path, "its sha256 differs from the one listed (the shard "
                                    "was changed or truncated)")

    def mismatch(self, file: str | os.PathLike, what: str) -> ManifestError:
        """The error for data that disagree with this manifest: the file, what differs, the fix."""
        return ManifestError(f"{file} does not match its manifest {self.path.name}: {what}; "
                             f"{self.rebuild_hint()}")

    def rebuild_hint(self) -> str:
        """What to do about a bad set: rebuild it with what its manifest says made it."""
        made_by = ", ".join(f"{k}={v}" for k, v in sorted(self.source.items())
                            if isinstance(v, (str, int, float)))[:200]
        converter = CONVERTERS.get(self.source.get("dataset"))
        return ("rebuild it with " + (f"`python -m {converter}`" if converter else
                                      "the converter or stage that wrote it")
                + (f" (its manifest records: {made_by})" if made_by else ""))


def _check_counts(path: Path, data: dict) -> None:
    """num_records, num_classes and image_shape, where present, are positive integers."""
    fields = {"num_records": [data["num_records"]],
              "num_classes": [data["num_classes"]] if "num_classes" in data else [],
              "image_shape": data.get("image_shape") or []}
    if not isinstance(fields["image_shape"], list):
        fields["image_shape"] = [fields["image_shape"]]
    for field, values in fields.items():
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ManifestError(f"{path}: {field} is {data[field]!r}, not a count (a "
                                    "whole number >= 0); the manifest was edited or damaged: "
                                    "rebuild the record set")


def read_manifest(path: str | os.PathLike) -> Manifest:
    """Load and check a manifest; errors name the file and say how to create it."""
    path = Path(path)
    if not path.exists():
        raise ManifestError(
            f"{path} does not exist: this record set was never completed. Create it with "
            "`python -m continual.data.synthetic --out <data dir>` or "
            "`python -m continual.data.voc --voc_root <VOC2012> --out <data dir>`"
        )
    if path.is_dir():
        raise ManifestError(f"{path} is a folder, not a manifest file; delete or move it and "
                            "rebuild the record set")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ManifestError(f"{path} is not valid JSON ({err}); delete it and rebuild") from err
    if not isinstance(data, dict):
        raise ManifestError(f"{path} holds a JSON {type(data).__name__}, not a manifest "
                            "object; delete it and rebuild the record set")
    missing = [k for k in ("format", "name", "num_records", "shards", "records")
               if k not in data]
    if missing or data.get("format") != FORMAT:
        raise ManifestError(
            f"{path} is not a {FORMAT} manifest (missing {missing or 'the right format tag'}); "
            "rebuild the record set"
        )
    _check_counts(path, data)
    manifest = Manifest(path=path, data=data)
    if len(data["records"]) != manifest.num_records:
        raise manifest.mismatch(path.parent / manifest.name, f"num_records is "
                                f"{manifest.num_records} but {len(data['records'])} are listed")
    check_consistent(manifest)
    return manifest
