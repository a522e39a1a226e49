"""A classification record set in memory, gathered by row index inside TensorFlow.

The decoded images (uint8) and labels live in CPU `tf.Variable`s, so a training step gathers a
stream batch and a replay batch by their row ids (what the buffer stores) without copying or
concatenating datasets: the cost of a gather depends on the batch, never on the set's history.
A set whose decoded images exceed the memory budget (`input_memory_budget`) is read from its
shards instead (`continual.data.shard_table`), with the same rows, so the same results.
"""

from __future__ import annotations

import collections
import functools
import logging
import os

import gin
import numpy as np
import tensorflow as tf

from continual.bindings import check_float
from continual.data.classification import decoded_chunks, record_labels, require_classification
from continual.data.encoded import outside_strategy
from continual.data.manifest import Manifest
from continual.data.shard_table import ShardTable

log = logging.getLogger(__name__)
# Rows decoded and copied into the table's variable at a time: the set is held once, plus this.
DECODE_CHUNK = 4096


class ImageTable:
    """Images uint8 [N, H, W, C] and labels int32 [N] of one classification set."""

    def __init__(self, manifest: Manifest, binding: str = "StreamPlan.data_dir"):
        require_classification(manifest, binding)
        self.manifest = manifest
        self.num_classes = manifest.num_classes
        self.image_shape = tuple(manifest.image_shape)
        labels = record_labels(manifest).astype(np.int32)
        self.num_records = len(labels)

        def build():
            with tf.init_scope(), tf.device("/CPU:0"):
                images = tf.Variable(tf.zeros((len(labels), *self.image_shape), tf.uint8),
                                     trainable=False, name="images")
                for start, rows in decoded_chunks(manifest, DECODE_CHUNK):
                    # In place: `images[a:b].assign` reads the whole variable first, and the
                    # read's reference makes the assignment copy it (twice the set's memory).
                    tf.raw_ops.ResourceStridedSliceAssign(
                        ref=images.handle, begin=[start], end=[start + len(rows)], strides=[1],
                        value=rows)
                return images, tf.Variable(labels, trainable=False, name="labels")
        self._images, self._labels = outside_strategy(build)

    def gather(self, ids) -> tuple[tf.Tensor, tf.Tensor]:
        """(images uint8 [B, H, W, C], labels int32 [B]) of rows `ids`."""
        ids = tf.convert_to_tensor(ids, tf.int64)
        return tf.gather(self._images, ids), tf.gather(self._labels, ids)

    def labels_of(self, ids) -> np.ndarray:
        return self._labels.numpy()[np.asarray(ids, dtype=np.int64)]


# The in-memory tables this process keeps, least recently used first: at most MEMORY_TABLES,
# and their decoded images together within the memory budget.
MEMORY_TABLES = 4
_in_memory: collections.OrderedDict = collections.OrderedDict()


def _held() -> int:
    return sum(decoded_bytes(table.manifest) for table in _in_memory.values())


def _memory_table(manifest: Manifest, budget: int) -> ImageTable | None:
    """The in-memory table of `manifest` (kept or new), or None when its decoded images and
    those of the tables kept would exceed `budget` together."""
    while _in_memory and _held() > budget:  # a smaller budget than an earlier experiment's
        _in_memory.popitem(last=False)
    key = (str(manifest.path), manifest.content_hash)
    if key in _in_memory:
        _in_memory.move_to_end(key)
        return _in_memory[key]
    if len(_in_memory) == MEMORY_TABLES:
        _in_memory.popitem(last=False)
    if decoded_bytes(manifest) + _held() > budget:
        return None
    _in_memory[key] = table = ImageTable(manifest)
    return table


@functools.lru_cache(maxsize=4)
def _shard_table(manifest_path: str, content_hash: str) -> ShardTable:
    from continual.data.manifest import read_manifest

    return ShardTable(read_manifest(manifest_path))


@gin.configurable
def input_memory_budget(megabytes: float | None = None, host_fraction: float = 0.25) -> int:
    """Bytes of decoded images the stream record sets of a process may hold in host memory
    together: `megabytes` (MiB) when given, else `host_fraction` of the host's physical RAM.
    A set that does not fit is read from its shards; which path reads a set changes no result
    and no key."""
    if megabytes is not None:
        return int(check_float("input_memory_budget.megabytes", megabytes) * 2**20)
    fraction = check_float("input_memory_budget.host_fraction", host_fraction)
    return int(fraction * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def read_ahead(table, batches) -> None:
    """Tell `table` which rows `gather` asks for next, batch by batch: a table on disk starts
    reading them (`ShardTable.read_ahead`); one in memory (or a test's stand-in) needs not."""
    start = getattr(table, "read_ahead", None)
    if start is not None:
        start(batches)


def decoded_bytes(manifest: Manifest) -> int:
    """The size of a classification set's decoded images (uint8)."""
    return manifest.num_records * int(np.prod(manifest.image_shape))


def image_table(manifest: Manifest) -> ImageTable | ShardTable:
    """The table of a set, built once per process (keyed by content): in memory when its
    decoded images, with those of the sets already in memory, fit `input_memory_budget`;
    else read from its shards."""
    require_classification(manifest, "StreamPlan.data_dir")
    budget = input_memory_budget()
    table = _memory_table(manifest, budget)
    if table is not None:
        return table
    if str(manifest.path) not in _SAID_ON_DISK:  # once per set file and process
        _SAID_ON_DISK.add(str(manifest.path))
        log.info("%s: %.1f MiB of decoded images (%.1f MiB of other sets are in memory) "
                 "exceed input_memory_budget (%.1f MiB): reading it from its shards",
                 manifest.path, decoded_bytes(manifest) / 2**20, _held() / 2**20,
                 budget / 2**20)
    return _shard_table(str(manifest.path), manifest.content_hash)


_SAID_ON_DISK: set[str] = set()  # manifests whose shard path the log has named
