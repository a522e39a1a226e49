"""Classification record sets: one PNG image and one class id per record, with stream metadata.

They use the project's record format (`continual.data.records`) and manifests; the manifest
also states `task: classification`, `num_classes`, `image_shape` [H, W, C] and `class_names`,
so models take their input shape and head size from the data. Records may carry `time`,
`domain` and `group` (stream order, a look such as day/night, the object run a record belongs
to); scenarios read them from the manifest without opening a shard.

Every converter (`idx`, `image_folder`, `cifar`, `synthetic_stream`) writes through
`write_classification_set`, which checks labels and shapes and names the offending sample.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from continual.data.manifest import Manifest, ManifestError
from continual.data.records import Record, RecordError
from continual.data.shards import RecordWriter, iterate_serialized

TASK = "classification"


@dataclasses.dataclass(frozen=True)
class ClassificationSample:
    """One labelled image; `where` names its origin (file, index) in error messages."""

    image: np.ndarray            # uint8 [H, W, C]
    label: int
    sample_id: str
    where: str = ""
    time: int | None = None
    domain: int | None = None
    group: int | None = None


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 [H, W, 1|3] array (grey images are stored with one channel)."""
    mode_image = image[..., 0] if image.shape[-1] == 1 else image
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mode_image)).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _check_sample(sample: ClassificationSample, num_classes: int,
                  shape: tuple[int, ...] | None) -> tuple[int, ...]:
    where = sample.where or sample.sample_id
    image = sample.image
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise RecordError(f"{where}: image must be uint8 [H, W, 1 or 3], got {image.dtype} "
                          f"{list(image.shape)}")
    if isinstance(sample.label, bool) or not 0 <= int(sample.label) < num_classes:
        raise RecordError(f"{where}: label {sample.label!r} is out of range 0..{num_classes - 1}")
    if shape is not None and tuple(image.shape) != shape:
        raise RecordError(f"{where}: image is {list(image.shape)} but the set's images are "
                          f"{list(shape)}; every image of a classification set has one shape")
    return tuple(image.shape)


def write_classification_set(out_dir: str | os.PathLike, split: str,
                             samples: Iterable[ClassificationSample], *, num_classes: int,
                             class_names: Sequence[str] | None = None, source: dict | None = None,
                             records_per_shard: int = 2000) -> Path:
    """Write `samples` as record set `split` in `out_dir`; returns the manifest path.

    The manifest is written last, so an interrupted conversion leaves no set behind.
    """
    if num_classes < 1:
        raise RecordError(f"--num_classes must be >= 1, got {num_classes}")
    names = list(class_names) if class_names is not None else [str(c) for c in range(num_classes)]
    if len(names) != num_classes:
        raise RecordError(f"{len(names)} class names for {num_classes} classes")
    header = {"task": TASK, "num_classes": num_classes, "class_names": names}
    shape = None
    with RecordWriter(out_dir, split, records_per_shard, source, header) as writer:
        for sample in samples:
            shape = _check_sample(sample, num_classes, shape)
            writer.write(Record(image=encode_png(sample.image), label=None,
                                image_id=sample.sample_id, height=shape[0], width=shape[1],
                                classes=(int(sample.label),), time=sample.time,
                                domain=sample.domain, group=sample.group))
        writer.header["image_shape"] = list(shape) if shape else None
    return writer.directory / f"{split}.manifest.json"


def require_classification(manifest: Manifest, binding: str) -> Manifest:
    """`manifest` if it is a classification set; else an error naming the binding."""
    if manifest.task != TASK or not manifest.image_shape:
        raise ManifestError(f"{binding}: {manifest.path} is a {manifest.task} record set, not a "
                            "classification set; point it at the output of a classification "
                            "converter (python -m continual.data.synthetic_stream, .idx, "
                            ".image_folder or .cifar)")
    return manifest


def record_labels(manifest: Manifest) -> np.ndarray:
    """The class id of every record, in manifest order (int64 [N])."""
    return np.asarray([classes[0] for classes in manifest.record_classes()], dtype=np.int64)


def decoded_images(manifest: Manifest) -> np.ndarray:
    """All images of a classification set as uint8 [N, H, W, C], decoded once per process.

    Classification images are small (32-64 px), so the decoded set fits in memory (CIFAR's
    50 000 training images are 150 MB) and replay rows are gathered from it by index.
    """
    return _decoded(str(manifest.path), manifest.content_hash)


@functools.lru_cache(maxsize=4)
def _decoded(manifest_path: str, content_hash: str) -> np.ndarray:
    from continual.data.manifest import read_manifest

    return decode_set(read_manifest(manifest_path))


def decode_set(manifest: Manifest) -> np.ndarray:
    """All images of a classification set as uint8 [N, H, W, C], decoded now (not cached)."""
    out = np.zeros((manifest.num_records, *manifest.image_shape), dtype=np.uint8)
    for start, rows in decoded_chunks(manifest, 4096):
        out[start:start + len(rows)] = rows
    return out


def decoded_chunks(manifest: Manifest, size: int) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, uint8 [<= size, H, W, C]) of a classification set's images, in manifest
    order, `size` rows at a time, so a caller can copy them where they go without ever holding
    the whole set twice (the chunk's array is reused: copy it before taking the next)."""
    manifest = require_classification(manifest, str(manifest.path))
    chunk = np.zeros((size, *manifest.image_shape), dtype=np.uint8)
    filled = 0
    for where, serialized in iterate_serialized(manifest):
        if filled < manifest.num_records:
            chunk[filled % size] = _decode_png(manifest, serialized, where)
        filled += 1
        if filled % size == 0 and filled <= manifest.num_records:
            yield filled - size, chunk
    if filled != manifest.num_records:  # every row is a decoded record, never filler
        raise manifest.mismatch(manifest.path.parent / manifest.name, f"its shards hold "
                                f"{filled} records, num_records is {manifest.num_records}")
    if filled % size:
        yield filled - filled % size, chunk[:filled % size]


def _decode_png(manifest: Manifest, serialized: bytes, where: str) -> np.ndarray:
    from continual.data.records import decode_record

    record = decode_record(serialized, where, num_classes=2**31 - 1)
    try:
        image = np.asarray(Image.open(io.BytesIO(record.image)))
    except (OSError, ValueError) as err:
        raise RecordError(f"{where}: image bytes do not decode ({err}); "
                          f"{manifest.rebuild_hint()}") from err
    image = image.reshape(image.shape[0], image.shape[1], -1)
    if image.shape != manifest.image_shape:
        raise manifest.mismatch(where, f"the image is {list(image.shape)}, the manifest's "
                                f"image_shape is {list(manifest.image_shape)}")
    return image
