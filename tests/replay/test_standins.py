"""Stand-in TF-Hub models and the hub loaders: formats, signatures, errors, TFHUB_CACHE_DIR."""

import hashlib
import shutil
import time

import numpy as np
import pytest
import tensorflow as tf

from continual.replay.hub_models import HubModelError, load_classifier, load_generator
from continual.replay.standins import (
    SYNTHETIC_CLASS_IDS,
    StandinError,
    build_standin_classifier,
    build_standin_generator,
    build_tf1_hub_generator,
)

SIZE = 32


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Stand-ins shared by the replay tests (rebuilt only when their parameters change)."""
    root = tmp_path_factory.getbasetemp() / "standins"
    return {"tf2": build_standin_generator(root / "generator", size=SIZE),
            "tf1": build_tf1_hub_generator(root / "generator_tf1", size=SIZE),
            "classifier": build_standin_classifier(root / "classifier")}


def _inputs(ids, seed=1):
    z = tf.random.stateless_truncated_normal([len(ids), 128], seed=[seed, 0])
    return z, tf.one_hot(ids, 1000)


def test_tf2_and_tf1_hub_generators_load_and_agree(models):
    assert (models["tf1"] / "tfhub_module.pb").read_bytes() == b"\x08\x03"
    tf2, tf1 = load_generator(str(models["tf2"])), load_generator(str(models["tf1"]))
    assert (tf2.z_dim, tf2.num_classes, tf1.z_dim, tf1.num_classes) == (128, 1000, 128, 1000)
    z, y = _inputs([404, 7, 981])
    images = tf2(z, y, 1.0).numpy()
    assert images.shape == (3, SIZE, SIZE, 3) and images.min() >= -1 and images.max() <= 1
    np.testing.assert_allclose(tf1(z, y, 1.0).numpy(), images, atol=1e-6)


def test_generated_objects_are_recognised_by_the_standin_classifier(models):
    generator, classifier = load_generator(str(models["tf2"])), load_classifier(
        str(models["classifier"]))
    assert classifier.input_size == (64, 64) and classifier.num_outputs == 1000
    ids = list(SYNTHETIC_CLASS_IDS.values())
    z, y = _inputs(ids)
    predicted = classifier((generator(z, y, 1.0) + 1) / 2).numpy().argmax(1)
    assert np.mean(predicted == ids) >= 0.8
    # Other ids give colour noise: every pixel saturated, no dull background.
    noise = (generator(z[:5], tf.one_hot([0, 1, 2, 3, 999], 1000), 1.0).numpy() + 1) / 2
    objects = (generator(z[:5], y[:5], 1.0).numpy() + 1) / 2
    colourfulness = lambda images: images.std(-1).mean((1, 2))  # noqa: E731
    assert colourfulness(noise).min() > 0.1 > colourfulness(objects).max()


def test_same_parameters_reuse_the_build(models, capsys):
    started = time.perf_counter()
    assert build_standin_generator(models["tf2"], size=SIZE) == models["tf2"]
    assert "reused" in capsys.readouterr().out and time.perf_counter() - started < 2


def test_folder_that_is_not_a_standin_is_never_replaced(tmp_path):
    (tmp_path / "mine.txt").write_text("user data")
    with pytest.raises(StandinError, match="not a stand-in build"):
        build_standin_generator(tmp_path, size=SIZE)
    assert (tmp_path / "mine.txt").exists()


def test_wrong_signature_names_found_and_expected(tmp_path, models):
    module = tf.Module()
    module.f = tf.function(lambda x: {"default": 2 * x},
                           input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    tf.saved_model.save(module, str(tmp_path / "other"),
                        signatures={"default": module.f.get_concrete_function()})
    with pytest.raises(HubModelError) as err:
        load_generator(str(tmp_path / "other"))
    message = str(err.value)
    assert "default(x: float32[None, 4])" in message and "truncation: float32[]" in message
    with pytest.raises(HubModelError, match=r"expected signature \(images"):
        load_classifier(str(models["tf2"]))


def test_missing_local_handle_says_what_a_handle_must_be(tmp_path):
    with pytest.raises(HubModelError) as err:
        load_generator(str(tmp_path / "no_such_model"))
    assert "no_such_model" in str(err.value) and "local SavedModel folder" in str(err.value)


def test_unreachable_url_fails_fast_and_names_the_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    handle = "https://models.invalid/biggan/1"
    started = time.perf_counter()
    with pytest.raises(HubModelError) as err:
        load_generator(handle)
    assert time.perf_counter() - started < 10
    sha1 = hashlib.sha1(handle.encode()).hexdigest()
    assert handle in str(err.value) and str(tmp_path / "cache" / sha1) in str(err.value)


def test_model_placed_in_tfhub_cache_dir_loads_by_its_url(tmp_path, monkeypatch, models):
    handle = "https://tfhub.dev/deepmind/biggan-deep-512/1"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    shutil.copytree(models["tf1"], tmp_path / "cache" / hashlib.sha1(handle.encode()).hexdigest())
    generator = load_generator(handle)
    assert generator.handle == handle and generator.num_classes == 1000
    z, y = _inputs([404])
    assert generator(z, y, 1.0).shape == (1, SIZE, SIZE, 3)
