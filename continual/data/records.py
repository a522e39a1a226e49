"""The TFRecord format of every image set: one `tf.train.Example` per image.

Features (RECALL's two, so the released files read unchanged, plus ours with defaults):

| feature   | type        | content                                                  |
|-----------|-------------|----------------------------------------------------------|
| `input`   | bytes       | the encoded image file (JPEG or PNG), unchanged bytes    |
| `label`   | bytes       | single-channel PNG of class ids 0..20, 255 = void; empty |
|           |             | for unlabelled (replay) images                           |
| `id`      | bytes       | the image stem, e.g. `2007_000032`                       |
| `height`, `width` | int64 | image size                                             |
| `classes` | int64 list  | class ids present in the label, 255 excluded; for a      |
|           |             | classification record, its one class id                  |
| `time`, `domain`, `group` | int64 | stream metadata of classification records (stream |
|           |             | order, e.g. day/night look, the object run it belongs to); |
|           |             | written only when set, so segmentation records are unchanged |
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from continual.data.classes import NUM_CLASSES
from continual.errors import InputError

FEATURE_SPEC = {
    "input": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "id": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "height": tf.io.FixedLenFeature([], tf.int64, default_value=0),
    "width": tf.io.FixedLenFeature([], tf.int64, default_value=0),
    "classes": tf.io.VarLenFeature(tf.int64),
}
METADATA = ("time", "domain", "group")


class RecordError(InputError):
    """A record that does not follow the format; the message names the file and record."""


@dataclasses.dataclass(frozen=True)
class Record:
    """One image with its (optional) label, as stored in a TFRecord."""

    image: bytes
    label: bytes | None
    image_id: str
    height: int
    width: int
    classes: tuple[int, ...] = ()
    time: int | None = None
    domain: int | None = None
    group: int | None = None

    def metadata(self) -> dict[str, int]:
        """The stream metadata this record has (none for segmentation records)."""
        return {name: getattr(self, name) for name in METADATA if getattr(self, name) is not None}


def _bytes(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _ints(values) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def encode_record(record: Record) -> bytes:
    """Serialise a Record into the bytes of a `tf.train.Example`."""
    feature = {
        "input": _bytes(record.image),
        "id": _bytes(record.image_id.encode("utf-8")),
        "height": _ints([record.height]),
        "width": _ints([record.width]),
        "classes": _ints(sorted(record.classes)),
    }
    if record.label is not None:
        feature["label"] = _bytes(record.label)
    for name, value in record.metadata().items():
        feature[name] = _ints([value])
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    return example.SerializeToString(deterministic=True)  # map order fixed: stable shard hashes


def decode_record(serialized: bytes, where: str, num_classes: int = NUM_CLASSES) -> Record:
    """Parse and validate one serialised Example in Python; `where` names it in errors.

    Class ids must lie in 0..num_classes-1 (VOC's 21 unless the set's manifest says otherwise).
    """
    try:
        example = tf.train.Example.FromString(serialized)
    except Exception as err:  # protobuf raises its own DecodeError type
        raise RecordError(f"{where}: not a tf.train.Example ({err})") from err
    feats = example.features.feature
    if "input" not in feats or not feats["input"].bytes_list.value:
        raise RecordError(f"{where}: missing the 'input' feature (encoded image bytes)")
    classes = tuple(int(c) for c in feats["classes"].int64_list.value) if "classes" in feats else ()
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad:
        raise RecordError(f"{where}: 'classes' holds {bad}, expected ids in 0..{num_classes - 1}")

    def first(name, kind, default):
        values = getattr(feats[name], kind).value if name in feats else []
        return values[0] if values else default

    return Record(
        image=feats["input"].bytes_list.value[0],
        label=first("label", "bytes_list", None),
        image_id=first("id", "bytes_list", b"").decode("utf-8"),
        height=int(first("height", "int64_list", 0)),
        width=int(first("width", "int64_list", 0)),
        classes=classes,
        **{name: int(first(name, "int64_list", 0)) for name in METADATA if name in feats},
    )


def parse_record(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """tf.data side: parse one serialised Example into a dict of tensors (dense `classes`)."""
    parsed = tf.io.parse_single_example(serialized, FEATURE_SPEC)
    parsed["classes"] = tf.sparse.to_dense(parsed["classes"])
    return parsed


def label_classes(label: np.ndarray) -> tuple[int, ...]:
    """The class ids present in a label array, void (255) excluded, sorted."""
    values = np.unique(label)
    return tuple(int(v) for v in values if v < NUM_CLASSES)
