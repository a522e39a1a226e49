"""Pretrained encoder weights: TF1 resnet_v1_101 checkpoints and Keras weights files."""

import numpy as np
import pytest
import tensorflow as tf

from continual.models.pretrained import (
    PretrainedWeightsError,
    load_encoder_weights,
    tf1_variable_name,
)
from continual.models.segmenter import build_encoder

UNITS, BASE = (1, 2, 1, 1), 4  # block2 has a unit_2 (no shortcut) to cover both unit kinds


def tf1_resnet_shapes(units, base, channels=3) -> dict:
    """TF1 variable name -> shape of a resnet_v1_101 with `units` per block, from the paper."""
    shapes = {}

    def conv_bn(scope, shape):
        shapes[f"{scope}/weights"] = shape
        for name in ("beta", "gamma", "moving_mean", "moving_variance"):
            shapes[f"{scope}/BatchNorm/{name}"] = (shape[-1],)

    conv_bn("resnet_v1_101/conv1", (7, 7, channels, base))
    in_ch = base
    for b, count in enumerate(units, start=1):
        depth = base * 2 ** (b - 1)
        for u in range(1, count + 1):
            scope = f"resnet_v1_101/block{b}/unit_{u}/bottleneck_v1"
            if u == 1:
                conv_bn(f"{scope}/shortcut", (1, 1, in_ch, 4 * depth))
            conv_bn(f"{scope}/conv1", (1, 1, in_ch, depth))
            conv_bn(f"{scope}/conv2", (3, 3, depth, depth))
            conv_bn(f"{scope}/conv3", (1, 1, depth, 4 * depth))
            in_ch = 4 * depth
    return shapes


def random_values(shapes: dict, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(0.1, 2.0, shape).astype(np.float32)
            for name, shape in sorted(shapes.items())}


def write_tf1_checkpoint(prefix: str, values: dict) -> str:
    """Write `values` with tf.compat.v1 variables and a v1 Saver, as the original code did."""
    graph = tf.Graph()
    with graph.as_default():
        for name, value in values.items():
            tf.compat.v1.get_variable(name, initializer=tf.constant(value))
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return saver.save(session, prefix)


def small_encoder(**kwargs):
    return build_encoder("resnet101_v2", units=UNITS, base_depth=BASE, **kwargs)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    values = random_values(tf1_resnet_shapes(UNITS, BASE))
    extras = {  # entries of a training checkpoint that are not encoder weights: ignored
        "global_step": np.int64(1000),
        "resnet_v1_101/conv1/weights/Momentum": np.zeros((7, 7, 3, BASE), np.float32),
        "resnet_v1_101/logits/weights": np.ones((1, 1, 16 * BASE * 2, 10), np.float32),
        "decoder/aspp/conv1/weights": np.ones((3, 3, 8, 21), np.float32),
    }
    folder = tmp_path_factory.mktemp("tf1")
    return write_tf1_checkpoint(str(folder / "model.ckpt"), {**values, **extras}), values


def test_every_encoder_variable_gets_its_checkpoint_value_exactly_once(checkpoint):
    prefix, values = checkpoint
    encoder = small_encoder()
    load_encoder_weights(encoder, prefix)
    assert sorted(tf1_variable_name(v.path) for v in encoder.weights) == sorted(values)
    for variable in encoder.weights:
        matches = [n for n, value in values.items()
                   if value.shape == tuple(variable.shape)
                   and np.array_equal(value, variable.numpy())]
        assert matches == [tf1_variable_name(variable.path)], variable.path
    stats = encoder.get_layer("block2_unit_1_shortcut_bn").moving_mean.numpy()
    expected = values["resnet_v1_101/block2/unit_1/bottleneck_v1/shortcut/BatchNorm/moving_mean"]
    np.testing.assert_array_equal(stats, expected)


def test_folder_path_loads_latest_checkpoint(checkpoint):
    prefix, values = checkpoint
    encoder = small_encoder()
    load_encoder_weights(encoder, prefix.rsplit("/", 1)[0])
    np.testing.assert_array_equal(encoder.get_layer("conv1").kernel.numpy(),
                                  values["resnet_v1_101/conv1/weights"])


def _assert_untouched(encoder, before):
    for variable, value in zip(encoder.weights, before, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)


def test_missing_variable_is_named_and_nothing_is_loaded(tmp_path):
    values = random_values(tf1_resnet_shapes(UNITS, BASE))
    missing = "resnet_v1_101/block3/unit_1/bottleneck_v1/conv2/BatchNorm/gamma"
    del values[missing]
    prefix = write_tf1_checkpoint(str(tmp_path / "model.ckpt"), values)
    encoder = small_encoder()
    before = [v.numpy() for v in encoder.weights]
    with pytest.raises(PretrainedWeightsError) as err:
        load_encoder_weights(encoder, prefix)
    assert missing in str(err.value) and prefix in str(err.value)
    assert "block3_unit_1_conv2_bn/gamma" in str(err.value)
    _assert_untouched(encoder, before)


def test_misshaped_variable_names_both_shapes(tmp_path):
    values = random_values(tf1_resnet_shapes(UNITS, BASE))
    name = "resnet_v1_101/block4/unit_1/bottleneck_v1/conv3/weights"
    values[name] = np.zeros((1, 1, 32, 65), np.float32)
    prefix = write_tf1_checkpoint(str(tmp_path / "model.ckpt"), values)
    with pytest.raises(PretrainedWeightsError) as err:
        load_encoder_weights(small_encoder(), prefix)
    message = str(err.value)
    assert name in message and "(1, 1, 32, 65)" in message and "(1, 1, 32, 128)" in message


def test_unexpected_resnet_variable_is_an_error(tmp_path):
    values = random_values(tf1_resnet_shapes(UNITS, BASE))
    extra = "resnet_v1_101/block1/unit_2/bottleneck_v1/conv1/weights"
    values[extra] = np.zeros((1, 1, 16, 4), np.float32)
    prefix = write_tf1_checkpoint(str(tmp_path / "model.ckpt"), values)
    with pytest.raises(PretrainedWeightsError, match="unexpected variable.*block1/unit_2"):
        load_encoder_weights(small_encoder(), prefix)


def test_missing_checkpoint_is_named(tmp_path):
    path = str(tmp_path / "nowhere" / "model.ckpt")
    with pytest.raises(PretrainedWeightsError, match="nowhere/model.ckpt"):
        load_encoder_weights(small_encoder(), path)
    with pytest.raises(PretrainedWeightsError, match="nothing.weights.h5"):
        load_encoder_weights(small_encoder(), str(tmp_path / "nothing.weights.h5"))


def test_keras_weights_file_round_trip(tmp_path):
    source = small_encoder()
    path = str(tmp_path / "encoder.weights.h5")
    source.save_weights(path)
    target = small_encoder()
    load_encoder_weights(target, path)
    for a, b in zip(source.weights, target.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_keras_weights_file_of_another_encoder_is_rejected(tmp_path):
    path = str(tmp_path / "wide.weights.h5")
    build_encoder("resnet101_v2", units=UNITS, base_depth=8).save_weights(path)
    with pytest.raises(PretrainedWeightsError, match="wide.weights.h5"):
        load_encoder_weights(small_encoder(), path)
    deeper = str(tmp_path / "deeper.weights.h5")
    build_encoder("resnet101_v2", units=(2, 2, 1, 1), base_depth=BASE).save_weights(deeper)
    with pytest.raises(PretrainedWeightsError, match="deeper.weights.h5.*arrays"):
        load_encoder_weights(small_encoder(), deeper)


def test_tf1_names_of_keras_paths():
    assert tf1_variable_name("conv1/kernel") == "resnet_v1_101/conv1/weights"
    assert (tf1_variable_name("conv1_bn/moving_variance")
            == "resnet_v1_101/conv1/BatchNorm/moving_variance")
    assert (tf1_variable_name("block3_unit_23_conv2/kernel")
            == "resnet_v1_101/block3/unit_23/bottleneck_v1/conv2/weights")
    with pytest.raises(PretrainedWeightsError, match="tiny_conv1/kernel"):
        tf1_variable_name("tiny_conv1/kernel")
