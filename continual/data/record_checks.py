"""The records of a set agree with its manifest: count per shard, ids, labels, sizes, metadata.

Artefact keys hold the manifest's identity, and readers take labels, sizes and stream metadata
from the manifest without opening a shard; so on open every record is parsed (one TensorFlow
op per batch, no image decoded) and compared with its manifest entry. A classification image's
PNG header is read too, so a wrong `image_shape` (channels included) is refused before any
model is built. Each set is checked once per process and file state.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from continual.data.manifest import Manifest
from continual.data.records import METADATA

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
FRAME = 16  # TFRecord framing around each record: length (8), its CRC (4), data CRC (4)
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
    serialized = _frames(manifest, path)
    for first in range(0, len(serialized), BATCH):
        try:
            parsed = tf.io.parse_example(tf.constant(serialized[first:first + BATCH]), spec)
        except tf.errors.InvalidArgumentError as err:
            raise manifest.mismatch(path, "a record is not a tf.train.Example of the record "
                                    f"format ({err.message})") from err
        ids = [raw.decode("utf-8") for raw in parsed["id"].numpy()]
        classes = _rows(parsed["classes"], len(ids))
        if image_shape:
            _check_png_headers(manifest, path, ids, parsed["input"].numpy(), image_shape)
        columns = [parsed[name].numpy().tolist() for name in ("height", "width", *METADATA)]
        for row, image_id in enumerate(ids):
            height, width, *metadata = (column[row] for column in columns)
            yield (image_id, classes[row], height, width,
                   *(None if value == ABSENT else value for value in metadata))


def _frames(manifest: Manifest, path: Path) -> list[bytes]:
    """The serialised records of a TFRecord file, read in Python (tf.data starts in ~100 ms
    per file; this takes ~5 ms per 2000 records). CRCs are skipped: the shard's sha256 was
    verified against the manifest before."""
    data, records, offset = path.read_bytes(), [], 0
    while offset + FRAME <= len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        records.append(data[offset + 12:offset + 12 + length])
        offset += FRAME + length
    if offset != len(data):
        raise manifest.mismatch(path, f"its last record is cut off at byte {len(data)}")
    return records


def _rows(sparse: tf.SparseTensor, count: int) -> list[tuple[int, ...]]:
    """The values of each row of a [count, None] sparse tensor (numpy: no ragged ops)."""
    rows, values = sparse.indices.numpy()[:, 0], sparse.values.numpy().tolist()
    bounds = [0, *np.searchsorted(rows, np.arange(1, count + 1)).tolist()]
    return [tuple(values[start:end]) for start, end in zip(bounds[:-1], bounds[1:], strict=True)]


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
