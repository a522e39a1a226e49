"""A classification record set in memory, gathered by row index inside TensorFlow.

The decoded images (uint8) and labels live in CPU `tf.Variable`s, so a training step gathers a
stream batch and a replay batch by their row ids (what the buffer stores) without copying or
concatenating datasets: the cost of a gather depends on the batch, never on the set's history.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from continual.data.classification import decoded_images, record_labels, require_classification
from continual.data.encoded import outside_strategy
from continual.data.manifest import Manifest


class ImageTable:
    """Images uint8 [N, H, W, C] and labels int32 [N] of one classification set."""

    def __init__(self, manifest: Manifest, binding: str = "StreamPlan.data_dir"):
        require_classification(manifest, binding)
        self.manifest = manifest
        self.num_classes = manifest.num_classes
        self.image_shape = tuple(manifest.image_shape)
        images, labels = decoded_images(manifest), record_labels(manifest).astype(np.int32)
        self.num_records = len(labels)

        def build():
            with tf.init_scope(), tf.device("/CPU:0"):
                return (tf.Variable(images, trainable=False, name="images"),
                        tf.Variable(labels, trainable=False, name="labels"))
        self._images, self._labels = outside_strategy(build)

    def gather(self, ids) -> tuple[tf.Tensor, tf.Tensor]:
        """(images uint8 [B, H, W, C], labels int32 [B]) of rows `ids`."""
        ids = tf.convert_to_tensor(ids, tf.int64)
        return tf.gather(self._images, ids), tf.gather(self._labels, ids)

    def labels_of(self, ids) -> np.ndarray:
        return self._labels.numpy()[np.asarray(ids, dtype=np.int64)]


@functools.lru_cache(maxsize=4)
def _table(manifest_path: str, content_hash: str) -> ImageTable:
    from continual.data.manifest import read_manifest

    return ImageTable(read_manifest(manifest_path))


def image_table(manifest: Manifest) -> ImageTable:
    """The in-memory table of a set, built once per process (keyed by content)."""
    return _table(str(manifest.path), manifest.content_hash)
