"""Record sets held in memory as their serialised, still-compressed bytes.

Pipelines shuffle integer indices and gather these bytes, then decode and augment in parallel
(continual/plans/RECALL.md, defect 10): host memory is the compressed size of the data, never a
buffer of decoded float crops. The bytes live in a `tf.Variable` on the CPU, which tf.data map
functions capture by reference, so sets over 2 GB do not hit the graph-constant limit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from continual.data.manifest import Manifest
from continual.data.records import parse_record
from continual.data.shards import load_serialized


def outside_strategy(build: Callable[[], tf.Variable]) -> tf.Variable:
    """Run `build` where no distribution strategy is active.

    A variable created inside `strategy.scope()` becomes a per-device (possibly GPU) copy; the
    strategy scope is thread-local, so a fresh thread creates a plain CPU variable.
    """
    if not tf.distribute.has_strategy():
        return build()
    result: list = []
    worker = threading.Thread(target=lambda: result.append(build()))
    worker.start()
    worker.join()
    if not result:
        raise RuntimeError("creating the in-memory record variable failed (see the traceback "
                           "printed above by the worker thread)")
    return result[0]


class EncodedRecords:
    """The serialised `tf.train.Example`s of one record set, indexable inside tf.data."""

    def __init__(self, serialized: Sequence[bytes], where: str = "in-memory records"):
        if len(serialized) == 0:
            raise ValueError(f"{where}: no records; an empty record set cannot feed a pipeline")
        self.where = where
        self._count = len(serialized)
        self.nbytes = int(sum(len(item) for item in serialized))

        def build() -> tf.Variable:
            with tf.init_scope(), tf.device("/CPU:0"):
                return tf.Variable(np.asarray(serialized, dtype=object), dtype=tf.string,
                                   trainable=False, name="encoded_records")

        self._bytes = outside_strategy(build)

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> EncodedRecords:
        """All records of a set, in manifest order (so index i is manifest record i)."""
        return cls(load_serialized(manifest), where=str(manifest.path))

    def __len__(self) -> int:
        return self._count

    def gather(self, index: tf.Tensor) -> tf.Tensor:
        """The serialised record(s) at `index` (a scalar or vector of positions)."""
        return tf.gather(self._bytes, index)

    def check_indices(self, indices: Sequence[int], binding: str) -> tf.Tensor:
        """Validate positions into this set; return them as an int64 tensor."""
        array = np.asarray(indices, dtype=np.int64).reshape(-1)
        if array.size == 0:
            raise ValueError(f"{binding}: no indices given for {self.where}; the step has no "
                             "images (check the split and its class filter)")
        bad = array[(array < 0) | (array >= self._count)]
        if bad.size:
            raise ValueError(f"{binding}: indices {bad[:5].tolist()} are outside "
                             f"0..{self._count - 1} (the {self._count} records of {self.where})")
        return tf.constant(array, tf.int64)


def describe(*parts) -> tf.Tensor:
    """An error message (tf.string) from Python strings and tensors (ids, sizes)."""
    return tf.strings.join([part if isinstance(part, str) or part.dtype == tf.string
                            else tf.strings.as_string(part) for part in parts])


def decode_image_and_label(serialized: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Decode one record: image uint8 [H,W,3] (JPEG or PNG), label uint8 [H,W,1].

    An unlabelled record (empty `label`, e.g. a replay image) gets an all-255 (void) label of
    the image size. A label whose size differs from the image's is an error naming the record.
    """
    return decode_record_tensors(serialized)[:2]


def decode_record_tensors(serialized: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Like `decode_image_and_label`, plus the record id (tf.string scalar)."""
    parsed = parse_record(serialized)
    image = tf.io.decode_image(parsed["input"], channels=3, expand_animations=False)
    size = tf.shape(image)[:2]
    label = tf.cond(
        tf.strings.length(parsed["label"]) > 0,
        lambda: tf.io.decode_png(parsed["label"], channels=1),
        lambda: tf.fill(tf.concat([size, [1]], 0), tf.constant(255, tf.uint8)))
    label_size = tf.shape(label)[:2]
    message = describe("record ", parsed["id"], ": label is ", label_size[0], "x", label_size[1],
                       " but the image is ", size[0], "x", size[1], "; rebuild the record set")
    check = tf.debugging.Assert(tf.reduce_all(tf.equal(label_size, size)), [message])
    with tf.control_dependencies([check]):
        label = tf.identity(label)
    return image, label, parsed["id"]
