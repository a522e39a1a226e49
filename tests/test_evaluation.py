"""Evaluation at native resolution: one compiled function for every size, the original's
numbers (each image alone, batch 1), and padding as an option that changes them."""

import gin
import numpy as np
import tensorflow as tf

from continual.data.pipeline import normalize_image
from continual.evaluation import evaluate
from continual.metrics import confusion_matrix
from continual.models.segmenter import build_segmenter

SIZES = [(21, 30), (40, 25), (33, 33), (21, 30)]


def tiny_segmenter():
    gin.bind_parameter("build_encoder.backbone", "tiny")
    tf.keras.utils.set_random_seed(3)
    return build_segmenter(num_classes=21)


def samples(seed=0):
    rng = np.random.default_rng(seed)
    images = [normalize_image(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in SIZES]
    labels = [rng.integers(0, 3, (h, w)).astype(np.int32) for h, w in SIZES]
    return images, labels


def native_dataset(images, labels):
    return tf.data.Dataset.from_generator(
        lambda: ((i[None], lab[None]) for i, lab in zip(images, labels, strict=True)),
        output_signature=(tf.TensorSpec([None, None, None, 3], tf.float32),
                          tf.TensorSpec([None, None, None], tf.int32)))


def test_native_evaluation_traces_once_and_matches_each_image_alone():
    segmenter = tiny_segmenter()
    traces = []

    def forward(images):
        traces.append(images.shape)  # runs once per trace, not per image
        return segmenter(images, training=False)

    images, labels = samples()
    cm, _ = evaluate(forward, native_dataset(images, labels), (0, 1, 2), 21)
    assert len(traces) == 1
    expected = sum(confusion_matrix(lab[None], tf.argmax(segmenter(img[None]), -1,
                                                         output_type=tf.int32), 21, (0, 1, 2))
                   for img, lab in zip(images, labels, strict=True)).numpy()
    np.testing.assert_array_equal(cm, expected)
    assert cm.sum() == sum(h * w for h, w in SIZES)


def test_padding_to_a_larger_canvas_changes_predictions():
    """SAME padding shifts the stride-2 grid when the input size changes (issue 12, item 1)."""
    segmenter = tiny_segmenter()
    image = samples()[0][1][None]  # 40 x 25
    native = segmenter(image, training=False)
    padded = segmenter(tf.pad(image, [[0, 0], [0, 24], [0, 39], [0, 0]]), training=False)
    assert not np.allclose(native.numpy(), padded[:, :40, :25].numpy(), atol=1e-3)
