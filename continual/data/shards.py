"""Writing and reading sharded record sets.

`RecordWriter` writes shards under temporary names, renames each when it is complete, and
writes the manifest last (atomically), so a set counts as present only once all of it is on
disk. A failure inside the `with` block removes everything it wrote; temporary shards that a
killed writer of the same set left behind are removed when a new writer starts.
"""

from __future__ import annotations

import collections
import os
import re
from collections.abc import Iterator
from pathlib import Path

import tensorflow as tf

from continual.data.classes import NUM_CLASSES
from continual.data.manifest import (
    FORMAT,
    Manifest,
    ManifestError,
    manifest_path,
    read_manifest,
    sha256_file,
    write_json_atomic,
)
from continual.data.record_checks import check_records
from continual.data.records import Record, RecordError, decode_record, encode_record
from continual.data.stale_temps import refuse_temp_files, remove_stale_temp_files, temp_tag


def shard_name(name: str, index: int) -> str:
    return f"{name}-{index:05d}.tfrecord"


# A record set's name (`--split`): a plain file name, so the set stays inside its folder.
SET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_set_name(name: str) -> str:
    """`name` if it is a plain record-set name (letters, digits, `_`, `.`, `-`, starting with
    a letter or digit); else RecordError."""
    if not isinstance(name, str) or not SET_NAME.fullmatch(name):
        raise RecordError(f"--split {name!r} is not a record set name: use letters, digits, "
                          "'_', '.' and '-', no '/' (e.g. train, test), so that the set is "
                          "written inside --out")
    return name


class RecordWriter:
    """Writes records into `directory/name-00000.tfrecord`, ... plus `name.manifest.json`.

    Args:
      directory: output folder (created).
      name: record-set name, e.g. `train`.
      records_per_shard: records in each shard before a new one starts.
      source: what the set was made from (JSON-serialisable); stored in the manifest.
      header: extra manifest fields describing the set (a classification set states `task`,
        `num_classes`, `image_shape`, `class_names`); a segmentation set has none.
    """

    def __init__(self, directory: str | os.PathLike, name: str, records_per_shard: int = 500,
                 source: dict | None = None, header: dict | None = None):
        if records_per_shard < 1:
            raise RecordError(f"records_per_shard must be >= 1, got {records_per_shard}")
        check_set_name(name)
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise RecordError(f"--out {self.directory} is a file, not a folder; pass a folder "
                              "(it is created if missing)")
        if manifest_path(self.directory, name).is_dir():
            raise RecordError(f"{manifest_path(self.directory, name)} is a folder where the "
                              "set's manifest belongs; move or delete it and rerun")
        self.name = name
        self.records_per_shard = records_per_shard
        self.source = source or {}
        self.header = dict(header or {})
        self.num_classes = int(self.header.get("num_classes", NUM_CLASSES))
        self._shards: list[dict] = []
        self._records: list[dict] = []
        self._ids: set[str] = set()
        self._class_counts: collections.Counter = collections.Counter()
        self._writer: tf.io.TFRecordWriter | None = None
        self._tmp_paths: list[Path] = []
        self._final_paths: list[Path] = []
        self._closed = False
        remove_stale_temp_files(self.directory, prefix=f".{name}", recursive=False)

    def __enter__(self) -> RecordWriter:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self.close()
        except BaseException:  # a failed close (a full disk) leaves no temporary shard either
            self.abort()
            raise

    def _tmp_path(self, index: int) -> Path:
        return self.directory / f".{shard_name(self.name, index)}.tmp-{temp_tag()}"

    def _open_shard(self) -> None:
        index = len(self._shards)
        path = self._tmp_path(index)
        self._tmp_paths.append(path)
        self._writer = tf.io.TFRecordWriter(str(path))
        self._shards.append({"file": shard_name(self.name, index), "records": 0})

    def _finish_shard(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        shard = self._shards[-1]
        shard["sha256"] = sha256_file(self._tmp_paths[-1])

    def write(self, record: Record) -> None:
        """Append one record; ids must be unique within the set."""
        if self._closed:
            raise RuntimeError(f"record set {self.name} is already closed")
        bad = [c for c in record.classes if not 0 <= c < self.num_classes]
        if bad:
            raise RecordError(f"{self.directory / self.name}: record {record.image_id!r} has "
                              f"class ids {bad} outside 0..{self.num_classes - 1}")
        if record.image_id in self._ids:
            raise RecordError(f"{self.directory / self.name}: duplicate image id "
                              f"{record.image_id!r}")
        if self._writer is None or self._shards[-1]["records"] >= self.records_per_shard:
            self._finish_shard()
            self._open_shard()
        self._writer.write(encode_record(record))
        self._shards[-1]["records"] += 1
        self._ids.add(record.image_id)
        self._class_counts.update(record.classes)
        self._records.append({"id": record.image_id, "classes": sorted(record.classes),
                              "shard": len(self._shards) - 1,
                              "height": record.height, "width": record.width,
                              **record.metadata()})

    def close(self) -> Path:
        """Rename the shards into place and write the manifest; returns the manifest path."""
        if self._closed:
            return manifest_path(self.directory, self.name)
        if not self._records:
            self.abort()
            raise RecordError(f"{self.directory / self.name}: no records were written; an empty "
                              "record set is never saved (check the input lists and filters)")
        self._finish_shard()
        target = manifest_path(self.directory, self.name)
        target.unlink(missing_ok=True)  # the old set, if any, stops counting as complete first
        for old in sorted(self.directory.glob(f"{self.name}-*.tfrecord")):
            old.unlink()
        for tmp, shard in zip(self._tmp_paths, self._shards, strict=True):
            os.replace(tmp, self.directory / shard["file"])
        refuse_temp_files(self.directory, f"record set {self.directory / self.name}",
                          prefix=f".{self.name}-", recursive=False)
        write_json_atomic(target, {
            "format": FORMAT,
            "name": self.name,
            "num_records": len(self._records),
            "class_counts": {str(k): v for k, v in sorted(self._class_counts.items())},
            "shards": self._shards,
            "records": self._records,
            "source": self.source,
            **self.header,
        })
        self._closed = True
        return target

    def abort(self) -> None:
        """Remove every temporary shard written so far; the previous set (if any) is untouched."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for tmp in self._tmp_paths:
            tmp.unlink(missing_ok=True)
        self._closed = True


def iterate_serialized(manifest: Manifest) -> Iterator[tuple[str, bytes]]:
    """Yield (where, serialized Example) for every record, in manifest order."""
    for path, shard in zip(manifest.shard_paths(), manifest.data["shards"], strict=True):
        if not path.exists():
            raise ManifestError(f"{manifest.path}: shard {path} is missing; "
                                f"{manifest.rebuild_hint()}")
        count = 0
        try:
            records = tf.data.TFRecordDataset(str(path)).as_numpy_iterator()
            for count, serialized in enumerate(records):
                yield f"{path} record {count}", serialized
        except (tf.errors.DataLossError, tf.errors.OutOfRangeError) as err:
            raise RecordError(f"{path} record {count + 1}: corrupt TFRecord data ({err.message}); "
                              f"{manifest.rebuild_hint()}") from err
        if count + 1 != shard["records"]:
            raise manifest.mismatch(path, f"it holds {count + 1} records, the manifest lists "
                                    f"{shard['records']} in it")


def load_serialized(manifest: Manifest, validate: bool = True) -> list[bytes]:
    """All serialised records of a set in manifest order, checked against the manifest."""
    ids = manifest.record_ids()
    out = []
    for index, (where, serialized) in enumerate(iterate_serialized(manifest)):
        if validate:
            record = decode_record(serialized, where, manifest.num_classes)
            if record.image_id != ids[index]:
                raise manifest.mismatch(where, f"id {record.image_id!r}, the manifest lists "
                                        f"{ids[index]!r} here")
        out.append(serialized)
    return out


def iterate_records(manifest: Manifest) -> Iterator[Record]:
    """Decoded, validated records of a set, in manifest order."""
    for where, serialized in iterate_serialized(manifest):
        yield decode_record(serialized, where, manifest.num_classes)


def open_record_set(directory: str | os.PathLike, name: str) -> Manifest:
    """The manifest of a complete record set `name` in `directory`, its shards verified
    against their sha256 and its records against the manifest (once per process and state)."""
    manifest = read_manifest(manifest_path(directory, name))
    manifest.verify_shards()
    check_records(manifest)
    return manifest
