"""The records of a set agree with its manifest: count per shard, ids, labels, sizes, metadata.

Artefact keys hold the manifest's identity, and readers take labels, sizes and stream metadata
from the manifest without opening a shard; so on open every record is parsed (in batches,
inside TensorFlow, without decoding an image) and compared with its manifest entry. A
classification image's PNG header is read too, so a wrong `image_shape` (channels included) is
refused before any model is built. Each set is checked once per process and file state.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from continual.data.manifest import Manifest
from continual.data.records import METADATA, RecordError

ABSENT = np.iinfo(np.int64).min  # a metadata feature the record does not have
FIELDS = {
    "id": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "classes": tf.io.VarLenFeature(tf.int64),
    "height": tf.io.FixedLenFeature([], tf.int64, default_value=0),
    "width": tf.io.FixedLenFeature([], tf.int64, default_value=0),
    **{name: tf.io.FixedLenFeature([], tf.int64, default_value=ABSENT) for name in METADATA},
}
IMAGE = {"input": tf.io.FixedLenFeature([], tf.string, default_value="")}
BATCH = 2048
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> channels of the decoded array
ENTRY = ("id", "classes", "height", "width", *METADATA)

_checked: set[tuple] = set()


def check_records(manifest: Manifest) -> None:
    """Raise `<shard> does not match its manifest: <what differs>; rebuild it with ...` at the
    first record that differs from its manifest entry, or when a shard holds another count."""
    state = (str(manifest.path), manifest.content_hash,
             tuple(_file_state(path) for path in manifest.shard_paths()))
    if state in _checked:
        return
    start = 0
    for path, shard in zip(manifest.shard_paths(), manifest.data["shards"], strict=True):
        listed = manifest.data["records"][start:start + int(shard["records"])]
        _check_shard(manifest, path, listed, start)
        start += len(listed)
    _checked.add(state)


def _file_state(path: Path) -> tuple[str, int, int]:
    stat = os.stat(path)
    return str(path), stat.st_size, stat.st_mtime_ns


def _check_shard(manifest: Manifest, path: Path, listed: list[dict], start: int) -> None:
    read = list(_entries(manifest, path))
    if len(read) != len(listed):
        raise manifest.mismatch(path, f"it holds {len(read)} records, the manifest lists "
                                f"{len(listed)} in it")
    expected = [_listed_entry(record) for record in listed]
    if read == expected:
        return
    offset = next(i for i, (got, want) in enumerate(zip(read, expected, strict=True))
                  if got != want)
    differs = [f"{name} {got!r} (manifest: {want!r})" for name, got, want
               in zip(ENTRY, read[offset], expected[offset], strict=True) if got != want]
    raise manifest.mismatch(path, f"record {offset} (set position {start + offset}) has "
                            + ", ".join(differs))


def _listed_entry(record: dict) -> tuple:
    return (record["id"], tuple(record["classes"]), record["height"], record["width"],
            *(record.get(name) for name in METADATA))


def _entries(manifest: Manifest, path: Path) -> Iterator[tuple]:
    """(id, classes, height, width, *metadata) of every record of a shard, in order."""
    image_shape = manifest.image_shape if manifest.task == "classification" else None
    spec = {**FIELDS, **IMAGE} if image_shape else FIELDS
    try:
        for batch in tf.data.TFRecordDataset(str(path)).batch(BATCH):
            parsed = tf.io.parse_example(batch, spec)
            classes = tf.RaggedTensor.from_sparse(parsed["classes"]).to_list()
            ids = [raw.decode("utf-8") for raw in parsed["id"].numpy()]
            if image_shape:
                _check_png_headers(manifest, path, ids, parsed["input"].numpy(), image_shape)
            columns = [parsed[name].numpy().tolist() for name in ("height", "width", *METADATA)]
            for row, image_id in enumerate(ids):
                height, width, *metadata = (column[row] for column in columns)
                yield (image_id, tuple(classes[row]), height, width,
                       *(None if value == ABSENT else value for value in metadata))
    except tf.errors.DataLossError as err:
        raise RecordError(f"{path}: corrupt TFRecord data ({err.message}); "
                          f"{manifest.rebuild_hint()}") from err
    except tf.errors.InvalidArgumentError as err:
        raise manifest.mismatch(path, f"a record is not a tf.train.Example of the record "
                                f"format ({err.message})") from err


def _check_png_headers(manifest: Manifest, path: Path, ids: list[str], images: np.ndarray,
                       image_shape: tuple[int, ...]) -> None:
    """Every classification image is a PNG of the manifest's [H, W, C] (header only)."""
    for image_id, data in zip(ids, images, strict=True):
        if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
            raise manifest.mismatch(path, f"record {image_id!r} is not a PNG image")
        width, height = struct.unpack(">II", data[16:24])
        shape = (height, width, PNG_CHANNELS.get(data[25]))
        if shape != tuple(image_shape):
            raise manifest.mismatch(path, f"record {image_id!r} holds a {list(shape)} image, "
                                    f"the manifest's image_shape is {list(image_shape)}")
