"""The soft-label head variant (UncertaintyGuidedReplay.head_soft_labels; the original's
commit 47287f5): from the start iteration on, each per-update head step adds
w * tau^2 * KL(softmax(stored / tau) || softmax(head / tau)) over its memory rows, which pulls
the head towards the logits stored at insertion; before it the head step is cross-entropy
alone. The head lr schedule (head_lr_milestones) counts head steps."""

from types import SimpleNamespace

import gin
import numpy as np
import pytest
import tensorflow as tf

from continual.data.views import standardize
from continual.loop.experience import ExperienceLoop
from continual.methods.base import StreamBatch
from continual.methods.sslad import UncertaintyGuidedReplay
from continual.replay.buffers import EpisodicBuffer

CLASSES, TAU, WEIGHT, START = 6, 0.5, 0.5, 3
# stored soft labels that disagree with the labels: row i (label i) points at class i + 1
STORED = 4.0 * np.eye(CLASSES, dtype=np.float32)[(np.arange(CLASSES) + 1) % CLASSES]


class _Rows:
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def gather(self, ids):
        return tf.gather(self.images, ids), tf.gather(self.labels, ids)


def _method(soft: bool):
    """One memory item per class with the hand logits above; memory transforms off, so a head
    step sees the stored images as they are."""
    gin.clear_config()
    gin.parse_config(["EpisodicBuffer.capacity = 40", "EpisodicBuffer.policy = 'uncertainty'",
                      "EpisodicBuffer.logits_dim = 6", "UncertaintyPolicy.per_step = 12",
                      "build_classifier.name = 'tiny_convnet'",
                      "UncertaintyGuidedReplay.sweep_size = 20",
                      "UncertaintyGuidedReplay.head_batch_size = 6",
                      "UncertaintyGuidedReplay.head_learning_rate = 0.05",
                      "UncertaintyGuidedReplay.learning_rate = 1e-12",
                      "UncertaintyGuidedReplay.replay_flip = False",
                      "UncertaintyGuidedReplay.replay_rotation = 0.0",
                      "UncertaintyGuidedReplay.replay_brightness = 0.0",
                      "UncertaintyGuidedReplay.replay_hue = 0.0",
                      "UncertaintyGuidedReplay.head_lr_milestones = (2,)"]
                     + ([f"UncertaintyGuidedReplay.head_soft_labels = {soft}",
                         f"UncertaintyGuidedReplay.head_temperature = {TAU}",
                         f"UncertaintyGuidedReplay.head_soft_label_milestones = ({START},)",
                         f"UncertaintyGuidedReplay.head_soft_label_weights = ({WEIGHT},)"]
                        if soft else []))
    method = UncertaintyGuidedReplay()
    method.build((8, 8, 3), CLASSES, EpisodicBuffer(num_classes=CLASSES), seed=0)
    images = tf.constant(np.random.default_rng(0).integers(0, 256, (6, 8, 8, 3)), tf.uint8)
    labels = tf.range(CLASSES, dtype=tf.int32)
    method.buffer.observe(tf.range(6, dtype=tf.int64), labels, step=0, seed=0,
                          logits=tf.constant(STORED))
    method.state.replay_started.assign(True)
    return method, images, labels


def _step(method, images, labels, step: int) -> dict:
    batch = StreamBatch(images=images[:2], labels=labels[:2], ids=tf.range(2, dtype=tf.int64),
                        source=_Rows(images, labels))
    return method.train_step(batch, tf.constant(step, tf.int64))


def _kl_to_stored(logits: np.ndarray) -> float:
    """tau^2 * mean over the 6 rows of KL(softmax(STORED / tau) || softmax(logits / tau))."""
    def log_softmax(x):
        x = x / TAU - (x / TAU).max(axis=1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    target = np.exp(log_softmax(STORED))
    return float(TAU ** 2 * (target * (log_softmax(STORED) - log_softmax(logits))).sum(1).mean())


def _stored_by_id(method) -> np.ndarray:
    """The memory's stored logits, row i = record id i (the policy orders its slots)."""
    storage, stored = method.buffer.storage, np.zeros_like(STORED)
    stored[storage.ids.numpy()[:CLASSES]] = storage.logits.numpy()[:CLASSES]
    return stored


def _head_logits(method, images, kernel, bias) -> np.ndarray:
    """The head (given weights) on the inference-mode features of `images`."""
    features = method.model.features(standardize(images), training=False).numpy()
    return features @ kernel + bias


def test_the_head_term_pulls_towards_the_stored_logits_from_the_start_iteration():
    soft, images, labels = _method(soft=True)
    plain, _, _ = _method(soft=False)
    np.testing.assert_array_equal(_stored_by_id(soft), STORED)
    # before the start iteration: no term, the same head step as without the option
    early = _step(soft, images, labels, START - 1)
    _step(plain, images, labels, START - 1)
    assert float(early["head_soft_labels"]) == 0.0
    np.testing.assert_allclose(soft.model.head.kernel.numpy(), plain.model.head.kernel.numpy(),
                               atol=1e-6)
    assert float(soft.head_optimizer.learning_rate) == pytest.approx(0.05)  # 1 head step
    # from the start iteration: w * tau^2 * KL of the head's logits going into the head step
    # (the stream step's lr is 1e-12: the head it leaves is the head before it)
    kernel, bias = soft.model.head.kernel.numpy(), soft.model.head.bias.numpy()
    outputs = _step(soft, images, labels, START)
    _step(plain, images, labels, START)
    expected = WEIGHT * _kl_to_stored(_head_logits(soft, images, kernel, bias))
    assert expected > 0.1
    np.testing.assert_allclose(float(outputs["head_soft_labels"]), expected, rtol=1e-4)
    # the head lr schedule counts head steps: 0.05 until 2 head steps, then x0.1
    assert int(soft.head_optimizer.iterations) == 2
    assert float(soft.head_optimizer.learning_rate) == pytest.approx(0.005)
    # the term moved the head towards the stored logits (cross-entropy alone moves it less)
    after_soft = _kl_to_stored(soft.predict(images).numpy())
    after_plain = _kl_to_stored(plain.predict(images).numpy())
    assert after_soft < after_plain
    np.testing.assert_array_equal(_stored_by_id(soft), STORED)


@pytest.mark.parametrize("binding, message", [
    ("head_temperature = 0.0", "UncertaintyGuidedReplay.head_temperature = 0.0 must be"),
    ("head_temperature = -0.5", "UncertaintyGuidedReplay.head_temperature = -0.5 must be"),
    ("head_soft_label_weights = (-0.5, 0.8, 1.0)",
     "UncertaintyGuidedReplay.head_soft_label_weights = -0.5 must be"),
    ("head_soft_label_weights = (0.5, 1.0)",
     "head_soft_label_weights has 2 values for 3 head_soft_label_milestones"),
    ("head_soft_label_milestones = (2000, 1700, 2100)",
     "UncertaintyGuidedReplay.head_soft_label_milestones"),
    ("head_lr_milestones = (2000, 1000)", "UncertaintyGuidedReplay.head_lr_milestones"),
    ("head_lr_gamma = 0.0", "UncertaintyGuidedReplay.head_lr_gamma = 0.0 must be"),
    ("head_soft_labels = True", "head_soft_labels = True .*head_batch_size = 0 runs none"),
])
def test_bad_head_soft_label_bindings_name_themselves(binding, message):
    gin.parse_config(f"UncertaintyGuidedReplay.{binding}")
    with pytest.raises(ValueError, match=message):
        UncertaintyGuidedReplay()


def test_a_head_term_that_never_starts_gives_a_warning():
    gin.parse_config(["UncertaintyGuidedReplay.soft_labels = False",
                      "UncertaintyGuidedReplay.head_batch_size = 6",
                      "UncertaintyGuidedReplay.head_soft_labels = True"])
    scenario = SimpleNamespace(name="by_attribute", experiences=[
        SimpleNamespace(index=0, train_ids=tuple(range(100)))])
    with pytest.warns(UserWarning, match="head_soft_label_milestones starts .* at iteration "
                                         "1700, but the stream has only 10 iterations"):
        UncertaintyGuidedReplay().check_stream(scenario, ExperienceLoop(stream_batch_size=10,
                                                                        replay_batch_size=6))
