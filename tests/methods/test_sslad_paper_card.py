"""The SSLAD paper cards as the original runs them (issue 22 item 3): the challenge's
per-channel normalisation, a bias-free head, and timm's ImageNet weights as a required input
whose absence is `error: ...` naming the binding and how to write the .npz."""

import numpy as np
import pytest
import tensorflow as tf

import main
import suite  # noqa: F401  (registers every configurable the files bind)
from continual.data.synthetic_stream import generate_stream_set
from continual.data.views import standardize
from continual.gin_files import parse_gin
from continual.models.classifiers import build_classifier

FULL = "config/ports/sslad/FULL.gin"
MEAN, STD = (0.3252, 0.3283, 0.3407), (0.0265, 0.0241, 0.0252)


def test_the_paper_cards_normalise_with_the_challenges_statistics():
    parse_gin([FULL], [])
    pixel = np.round(np.asarray(MEAN) * 255).astype(np.uint8)
    images = tf.constant(np.broadcast_to(pixel, (1, 2, 2, 3)))
    expected = (pixel / 255.0 - np.asarray(MEAN)) / np.asarray(STD)
    np.testing.assert_allclose(standardize(images).numpy()[0, 0, 0], expected, atol=1e-5)
    white = standardize(tf.fill([1, 1, 1, 3], tf.constant(255, tf.uint8))).numpy()[0, 0, 0]
    np.testing.assert_allclose(white, (1 - np.asarray(MEAN)) / np.asarray(STD), rtol=1e-5)


def test_the_paper_cards_head_has_no_bias():
    parse_gin([FULL], ["build_classifier.name = 'tiny_convnet'"])
    model = build_classifier(input_shape=(16, 16, 3), num_classes=7)
    assert model.head.bias is None and len(model.head.weights) == 1


@pytest.mark.parametrize("mean, message", [((0.5, 0.5), "one number or one per channel (3"),
                                           ("0.5", "standardize.mean")])
def test_per_channel_statistics_must_fit_the_images(mean, message):
    parse_gin([], [f"standardize.mean = {mean!r}"])
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        standardize(tf.zeros([1, 2, 2, 3], tf.uint8))


def test_full_without_the_imagenet_file_names_the_binding_and_the_recipe(tmp_path, capsys):
    generate_stream_set(tmp_path / "data", num_classes=6, size=32, train_per_class=4,
                        test_per_class=2)
    args = ["--gin_file", FULL, "--workdir", str(tmp_path / "runs"),
            "--gin_param", f"StreamPlan.data_dir = '{tmp_path / 'data'}'",
            "--gin_param", f"TrainManager.checkpoint_dir = '{tmp_path / 'ckpt'}'"]
    assert main.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: resnet50d_backbone.imagenet_weights = "
                          "'checkpoints/resnet50d_imagenet.npz': no such file"), err
    assert "numpy.savez(" in err and "timm.create_model('resnet50d', pretrained=True)" in err
    assert not (tmp_path / "ckpt").exists()
