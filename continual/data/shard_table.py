"""A classification record set read from its TFRecord shards, for sets larger than memory.

It offers what the in-memory `ImageTable` offers (`gather(ids)`, `labels_of(ids)`), so the
loop, the methods' hooks and the evaluation read rows the same way whichever table holds the
set: the row order and every augmentation are keyed by (seed, experience, position) above it,
and a row's pixels are the same lossless PNG decode, so both give identical results.
Only the labels (4 bytes a record) and the record index (24 bytes a record) stay in memory.

A row is read by its id (one `pread` of its record, then parse and decode), so a replay batch
costs the same whatever the buffer's history. The stream's batches are known before a phase
starts: `read_ahead(batches)` reads and decodes them in a tf.data pipeline (records read and
PNGs decoded in parallel, a few batches prefetched), and `gather` takes each from it when its
ids come next; any other ids are read on the spot.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from continual.data.classification import record_labels, require_classification
from continual.data.manifest import Manifest
from continual.data.record_offsets import RecordReader

INPUT_SPEC = {"input": tf.io.FixedLenFeature([], tf.string)}
# Decoded batches waiting beyond those being read: the read-ahead holds at most this many plus
# one per parallel read (tf.data picks up to one per core), never a share of the set.
PREFETCH_BATCHES = 2


class ShardTable:
    """Images uint8 [N, H, W, C] and labels int32 [N] of one classification set, on disk."""

    def __init__(self, manifest: Manifest, binding: str = "StreamPlan.data_dir"):
        require_classification(manifest, binding)
        self.manifest = manifest
        self.num_classes = manifest.num_classes
        self.image_shape = tuple(manifest.image_shape)
        self._labels = record_labels(manifest).astype(np.int32)
        with tf.device("/CPU:0"):
            self._label_tensor = tf.constant(self._labels)
        self.num_records = len(self._labels)
        self._reader = RecordReader(manifest)
        self._expected: collections.deque = collections.deque()
        self._ahead = None
        self._read_now = tf.function(self._read, reduce_retracing=True)

    def gather(self, ids) -> tuple[tf.Tensor, tf.Tensor]:
        """(images uint8 [B, H, W, C], labels int32 [B]) of rows `ids`."""
        ids = tf.convert_to_tensor(ids, tf.int64)
        if tf.executing_eagerly() and self._expected and np.array_equal(self._expected[0],
                                                                        ids.numpy()):
            self._expected.popleft()
            return next(self._ahead)
        return self._read_now(ids)

    def labels_of(self, ids) -> np.ndarray:
        return self._labels[np.asarray(ids, dtype=np.int64)]

    def read_ahead(self, batches: Sequence[np.ndarray]) -> None:
        """Start reading `batches` (row ids, in the order `gather` will ask for them) in the
        background; replaces any earlier read-ahead."""
        self._expected = collections.deque(np.asarray(b, np.int64) for b in batches)
        if not self._expected:
            self._ahead = None
            return
        flat = tf.constant(np.concatenate(list(self._expected)), tf.int64)
        bounds = np.cumsum([0, *(len(b) for b in self._expected)])
        spans = tf.data.Dataset.from_tensor_slices((bounds[:-1], bounds[1:]))
        batches = spans.map(lambda start, end: self._read(flat[start:end]),
                            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        self._ahead = iter(batches.prefetch(PREFETCH_BATCHES))

    def _read(self, ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        serialized = tf.numpy_function(self._reader.read, [ids], tf.string, stateful=False)
        serialized.set_shape([None])
        encoded = tf.io.parse_example(serialized, INPUT_SPEC)["input"]
        channels = self.image_shape[-1]
        images = tf.map_fn(lambda png: tf.ensure_shape(tf.io.decode_png(png, channels=channels),
                                                       self.image_shape), encoded,
                           fn_output_signature=tf.TensorSpec(self.image_shape, tf.uint8),
                           parallel_iterations=16)
        with tf.control_dependencies([serialized]):  # a bad id: the reader's message first
            return images, tf.gather(self._label_tensor, ids)
