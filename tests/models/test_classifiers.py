"""Classifiers by name: shapes, parameter counts of the originals, input checks, gin options."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from continual.models.classifiers import Classifier, build_classifier, build_head
from continual.optim import TorchSGD


def _trainable_count(model) -> int:
    """Parameters as torch counts them (BN running statistics are buffers, not parameters)."""
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


@pytest.mark.parametrize("name, shape, feature_dim", [
    ("resnet18_cifar", (8, 8, 3), 512),
    ("resnet32", (4, 4, 3), 64),
    ("mlp", (4, 4, 1), 400),
    ("tiny_convnet", (8, 8, 3), 16),
])
def test_logits_and_features_shapes(name, shape, feature_dim):
    model = build_classifier(name, input_shape=shape, num_classes=5)
    images = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
    assert model.feature_dim == feature_dim
    assert tuple(model.features(images).shape) == (2, feature_dim)
    logits = model(images, training=True)
    assert tuple(logits.shape) == (2, 5) and logits.dtype == tf.float32


def test_resnet18_cifar_has_the_torch_cifar_variant_parameter_count():
    model = build_classifier("resnet18_cifar", input_shape=(8, 8, 3), num_classes=10)
    assert _trainable_count(model) == 11_173_962


def test_resnet32_and_mlp_parameter_counts():
    resnet32 = build_classifier("resnet32", input_shape=(4, 4, 3), num_classes=10)
    convs = 3 * 16 * 9 + 10 * 16 * 16 * 9 + (16 * 32 * 9 + 9 * 32 * 32 * 9 + 16 * 32) + (
        32 * 64 * 9 + 9 * 64 * 64 * 9 + 32 * 64)          # stem, stages 1-3 with projections
    bn = 2 * (16 + 10 * 16 + 11 * 32 + 11 * 64)
    assert _trainable_count(resnet32) == convs + bn + 64 * 10 + 10
    gin.parse_config("mlp_backbone.hidden_units = (400, 400)")
    mlp = build_classifier("mlp", input_shape=(28, 28, 3), num_classes=10)  # RM's MNIST model
    assert _trainable_count(mlp) == 2352 * 400 + 400 * 400 + 2 * 2 * 400 + 400 * 10 + 10


def test_stem_padding_two_grows_cifar_images_like_solo_learn():
    for padding, size in [(1, 32), (2, 34)]:
        gin.parse_config(f"resnet18_cifar_backbone.stem_padding = {padding}")
        model = build_classifier("resnet18_cifar", input_shape=(32, 32, 3), num_classes=2)
        assert tuple(model.backbone.get_layer("stem").output.shape) == (None, size, size, 64)


def test_stride_two_convs_pad_like_torch():
    """torch pads 1 on every side; Keras' SAME would pad bottom/right only and shift the taps."""
    model = build_classifier("resnet18_cifar", input_shape=(8, 8, 3), num_classes=2)
    pad = model.backbone.get_layer("stage2_block1_conv1_pad")
    conv = model.backbone.get_layer("stage2_block1_conv1")
    impulse = np.zeros((1, 4, 4, 64), "float32")
    impulse[0, 2, 2, :] = 1.0     # torch: reaches output (1, 1) only, through kernel tap (0, 0)
    reached = np.abs(conv(pad(impulse)).numpy()).sum(axis=-1)[0] > 0
    assert reached.tolist() == [[False, False], [False, True]]


def test_unknown_name_lists_the_registered_ones():
    # ports register more on import (resnet18 / resnet50, resnet50d): the core ones always show
    message = (r"'resnet19' is not a registered classifier; registered: "
               r"\['mlp', (.*, )?'resnet18_cifar', 'resnet32', (.*, )?'tiny_convnet'\]")
    with pytest.raises(ValueError, match=message):
        build_classifier("resnet19", input_shape=(32, 32, 3), num_classes=10)


@pytest.mark.parametrize("name, shape, message", [
    ("tiny_convnet", (32, 32), r"needs input_shape = \(height, width, channels\)"),
    ("mlp", None, r"needs input_shape = \(height, width, channels\)"),
    ("resnet18_cifar", (4, 4, 3), r"downsamples by 8, so it needs images of at least 8x8"),
    ("tiny_convnet", (3, 3, 1), r"downsamples by 4"),
])
def test_bad_input_shape_is_rejected(name, shape, message):
    with pytest.raises(ValueError, match=message):
        build_classifier(name, input_shape=shape, num_classes=10)


def test_gin_options_and_denied_bindings():
    gin.parse_config("build_classifier.name = 'tiny_convnet'\n"
                     "tiny_convnet_backbone.widths = (4, 6)\n"
                     "tiny_convnet_backbone.strides = (1, 2)")
    model = build_classifier(input_shape=(8, 8, 3), num_classes=3)
    assert model.feature_dim == 6
    # build_classifier sets these; a binding on the backbone would be silently overridden.
    with pytest.raises(ValueError, match="has denylisted kwarg 'bn_epsilon'"):
        gin.parse_config("tiny_convnet_backbone.bn_epsilon = 1e-6")
    with pytest.raises(ValueError, match="has denylisted kwarg 'seed'"):  # the method's seed
        gin.parse_config("build_classifier.seed = 3")


def test_seed_decides_the_initial_weights():
    def weights(seed):
        model = build_classifier("tiny_convnet", input_shape=(8, 8, 3), num_classes=3, seed=seed)
        return [w.numpy() for w in model.trainable_variables]

    same = weights(1), weights(1)
    assert all(np.array_equal(a, b) for a, b in zip(*same, strict=True))
    assert not np.array_equal(weights(1)[0], weights(2)[0])


def test_new_head_on_the_same_backbone():
    model = build_classifier("tiny_convnet", input_shape=(8, 8, 3), num_classes=2)
    wider = Classifier(model.backbone, build_head(model.feature_dim, 7, seed=3))
    assert tuple(wider(np.zeros((1, 8, 8, 3), "float32")).shape) == (1, 7)
    assert wider.backbone.trainable_variables[0] is model.backbone.trainable_variables[0]


def test_tiny_convnet_learns_a_separable_task_in_a_few_steps():
    rng = np.random.default_rng(0)
    labels = np.arange(32) % 2
    images = (rng.normal(size=(32, 8, 8, 3)) + 2.0 * labels[:, None, None, None] - 1.0)
    images = tf.constant(images, tf.float32)
    model = build_classifier("tiny_convnet", input_shape=(8, 8, 3), num_classes=2)
    optimizer = TorchSGD(learning_rate=0.1, momentum=0.9)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
                labels, logits, from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    first = float(step())
    for _ in range(29):
        last = float(step())
    accuracy = np.mean(np.argmax(model(images, training=False), axis=1) == labels)
    assert last < 0.5 * first and accuracy == 1.0
    assert _trainable_count(model) < 5000
