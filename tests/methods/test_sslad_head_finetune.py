"""Head fine-tuning (UncertaintyGuidedReplay.head_batch_size or head_epochs > 0) trains the
head only and leaves each memory item's soft label alone: the original's head trainer
(`FinetuneHeadTrainer`, commits 0063b29 / 029da65 / 47287f5 of mrifkikurniawan/sslad) reads
the stored `logit` targets and never writes them, so retrospection after head fine-tuning still
pulls towards the logits recorded when the item entered memory."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from continual.methods.base import StreamBatch
from continual.methods.sslad import UncertaintyGuidedReplay
from continual.replay.buffers import EpisodicBuffer

CLASSES = 6


class _Rows:
    """The rows a step's `source` gives back by id (the loop passes its ImageTable)."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def gather(self, ids):
        return tf.gather(self.images, ids), tf.gather(self.labels, ids)


def _method_with_memory():
    """The original's schedule (head_batch_size 6), 12 items in memory with their logits."""
    gin.parse_config(["EpisodicBuffer.capacity = 40", "EpisodicBuffer.policy = 'uncertainty'",
                      "EpisodicBuffer.logits_dim = 6", "UncertaintyPolicy.per_step = 12",
                      "build_classifier.name = 'tiny_convnet'",
                      "UncertaintyGuidedReplay.sweep_size = 20",
                      "UncertaintyGuidedReplay.head_batch_size = 6",
                      "UncertaintyGuidedReplay.head_learning_rate = 0.5"])
    method = UncertaintyGuidedReplay()
    method.build((8, 8, 3), CLASSES, EpisodicBuffer(num_classes=CLASSES), seed=0)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.integers(0, 256, (12, 8, 8, 3)), tf.uint8)
    labels = tf.constant(np.arange(12) % CLASSES, tf.int32)
    method.buffer.observe(tf.range(12, dtype=tf.int64), labels, step=0, seed=0,
                          logits=method.predict(images))
    return method, images, labels


def test_head_steps_move_the_head_only_and_keep_the_stored_logits():
    method, images, labels = _method_with_memory()
    assert [p.kind for p in method.phases(None)] == ["online"]  # no end-of-experience phase
    stored = method.buffer.storage.logits.numpy().copy()
    backbone = [v.numpy().copy() for v in method.model.backbone.trainable_variables]
    head = method.model.head.kernel.numpy().copy()
    assert int(method.buffer.size) == 12 and np.abs(stored[:12]).sum() > 0
    # a head step on memory rows (the memory phase of head_epochs > 0 runs the same step)
    memory = StreamBatch(images=images, labels=labels, ids=tf.range(12, dtype=tf.int64),
                         phase="memory")
    method.train_step(memory, tf.constant(5, tf.int64))
    method.after_step(memory, tf.constant(5, tf.int64), {})  # a memory step offers nothing
    assert np.abs(method.model.head.kernel.numpy() - head).max() > 1e-4
    for before, after in zip(backbone, method.model.backbone.trainable_variables, strict=True):
        np.testing.assert_array_equal(after.numpy(), before)
    np.testing.assert_array_equal(method.buffer.storage.logits.numpy(), stored)
    assert not np.allclose(method.predict(images).numpy(), stored[:12])  # the model moved
    # the original's schedule: after an update, once replay has started, a head step on 6
    # class-balanced memory rows; the soft labels are still the logits recorded at insertion
    method.state.replay_started.assign(True)
    replay = method.buffer.sample(6, seed=tf.constant([0, 1], tf.int64))
    batch = StreamBatch(images=images[:4], labels=labels[:4], ids=tf.range(4, dtype=tf.int64),
                        replay_images=tf.gather(images, replay["ids"]),
                        replay_labels=tf.gather(labels, replay["ids"]),
                        replay_slots=replay["slots"], source=_Rows(images, labels))
    outputs = method.train_step(batch, tf.constant(6, tf.int64))
    assert float(outputs["head_loss"]) > 0  # cross-entropy of the memory rows
    np.testing.assert_array_equal(method.buffer.storage.logits.numpy(), stored)


def test_one_head_schedule_at_a_time():
    gin.parse_config(["UncertaintyGuidedReplay.head_epochs = 1",
                      "UncertaintyGuidedReplay.head_batch_size = 6"])
    with pytest.raises(ValueError, match="two head fine-tuning schedules"):
        UncertaintyGuidedReplay()
