"""RandAugment / AutoAugment ops of Rainbow Memory: each op by hand on tiny images, the pixel
ops against Pillow (the library the original calls), the draws repeatable per seed, shapes,
dtypes and ranges kept, bad bindings named."""

import logging

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageEnhance, ImageOps

from continual.data.autoaugment import geometry_ops as geo
from continual.data.autoaugment import image_ops as px
from continual.data.autoaugment import policies
from continual.methods.rainbow_memory import augment, perturb

SEED = tf.constant([3, 4], tf.int64)


def _op(name: str, images, level: int) -> np.ndarray:
    """Op `name` at `level` on every row (always applied)."""
    rows = tf.shape(images)[:1]
    return policies.apply_ops(tf.constant(images, tf.float32),
                              tf.fill(rows, policies.OPS.index(name)), tf.fill(rows, level),
                              tf.fill(rows, True), SEED).numpy()


def _row(values) -> np.ndarray:
    return np.asarray(values, np.float32).reshape([1, 1, -1, 1])


def test_invert_solarize_posterize_by_hand():
    image = _row([0, 37, 100, 120, 200, 255])
    np.testing.assert_array_equal(_op("Invert", image, 3).ravel(), [255, 218, 155, 135, 55, 0])
    # level 5: threshold 256 - 5 * 256 / 9 = 113.8; level 0: 256 (nothing); level 9: 0 (all)
    np.testing.assert_array_equal(_op("Solarize", image, 5).ravel(), [0, 37, 100, 135, 55, 0])
    np.testing.assert_array_equal(_op("Solarize", image, 0), image)
    np.testing.assert_array_equal(_op("Solarize", image, 9).ravel(), 255 - image.ravel())
    # level 9 keeps 4 bits (multiples of 16), level 4 keeps 6 (multiples of 4)
    np.testing.assert_array_equal(_op("Posterize", image, 9).ravel(), [0, 32, 96, 112, 192, 240])
    np.testing.assert_array_equal(_op("Posterize", image, 4).ravel(), [0, 36, 100, 120, 200, 252])


def test_rotate_translate_shear_by_hand():
    image = tf.reshape(tf.range(9, dtype=tf.float32) * 20.0, [1, 3, 3, 1])
    rotated = geo.rotate(image, tf.constant([90.0])).numpy()[0, ..., 0]
    np.testing.assert_array_equal(rotated, np.rot90(image.numpy()[0, ..., 0]))  # counter-cw
    assert policies.LEVELS["Rotate"][9] == 30.0                  # RandAugment's largest turn
    row = _row([10, 20, 30, 40, 50])
    shifted = geo.translate(tf.constant(row), tf.constant([2.0]), tf.constant([0.0]))
    np.testing.assert_array_equal(shifted.numpy().ravel(), [30, 40, 50, 128, 128])  # grey fill
    # TranslateX at level 9 moves 150/331 of the width: 11 px wide -> 5 px, either way
    wide = _row(np.arange(1, 12) * 10)
    got = _op("TranslateX", wide, 9).ravel()
    left = np.r_[np.arange(6, 12) * 10, [128] * 5]
    right = np.r_[[128] * 5, np.arange(1, 7) * 10]
    assert np.array_equal(got, left) or np.array_equal(got, right), got
    flat = np.full([1, 4, 4, 1], 77.0, np.float32)                # a shear of a flat image
    inner = geo.shear_x(tf.constant(flat), tf.constant([0.1])).numpy()[0, :2, :3, 0]
    np.testing.assert_array_equal(inner, 77.0)                   # keeps it where it samples


def test_cutout_fills_the_original_grey_square():
    images = tf.fill([1, 20, 20, 3], 200.0)
    out = px.cutout(images, tf.constant([8]), SEED).numpy()[0]
    filled = np.all(out == [125, 122, 113], axis=-1)
    assert 0 < filled.sum() <= 64 and np.all(out[~filled] == 200)


def _pil(array: np.ndarray) -> Image.Image:
    return Image.fromarray(array.astype(np.uint8))


@pytest.mark.parametrize("name, level, reference", [
    ("AutoContrast", 0, lambda im, sign: ImageOps.autocontrast(im)),
    ("Equalize", 0, lambda im, sign: ImageOps.equalize(im)),
    ("Brightness", 7, lambda im, sign: ImageEnhance.Brightness(im).enhance(1 + sign * 0.7)),
    ("Color", 5, lambda im, sign: ImageEnhance.Color(im).enhance(1 + sign * 0.5)),
    ("Contrast", 9, lambda im, sign: ImageEnhance.Contrast(im).enhance(1 + sign * 0.9)),
    ("Sharpness", 8, lambda im, sign: ImageEnhance.Sharpness(im).enhance(1 + sign * 0.8)),
])
def test_pixel_ops_match_pillow(name, level, reference):
    """Within one grey level of Pillow's op (PIL rounds some intermediate steps)."""
    rng = np.random.default_rng(0)
    images = rng.integers(20, 230, size=[6, 8, 8, 3]).astype(np.float32)
    got = _op(name, images, level)
    for row in range(len(images)):
        candidates = [np.asarray(reference(_pil(images[row]), s), np.float32) for s in (1, -1)]
        assert min(np.abs(got[row] - c).max() for c in candidates) <= 1.0, (name, row)


@pytest.mark.parametrize("dtype", [tf.uint8, tf.float32])
def test_rand_augment_repeats_per_seed_and_keeps_shape_dtype_range(dtype):
    images = tf.cast(tf.random.stateless_uniform([16, 8, 8, 3], [1, 2], 0, 256, tf.int32), dtype)
    ra = policies.RandAugment()
    first, again = ra(images, SEED), ra(images, SEED)
    other = ra(images, SEED + 1)
    assert first.dtype == dtype and first.shape == images.shape
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert not np.array_equal(first.numpy(), other.numpy())
    values = tf.cast(first, tf.float32).numpy()
    assert values.min() >= 0 and values.max() <= 255 and np.all(values == np.round(values))
    np.testing.assert_array_equal(policies.RandAugment(probability=0.0)(images, SEED).numpy(),
                                  images.numpy())


def test_auto_augment_policy_table_and_draws():
    assert len(policies.CIFAR10_POLICY) == 25
    for sub_policy in policies.CIFAR10_POLICY:
        assert len(sub_policy) == 2
        for op, probability, level in sub_policy:
            assert op in policies.OPS and 0.0 <= probability <= 1.0 and 0 <= level <= 9
    images = tf.cast(tf.random.stateless_uniform([32, 8, 8, 3], [5, 6], 0, 256, tf.int32),
                     tf.uint8)
    out = policies.auto_augment(images, SEED)
    assert out.dtype == tf.uint8 and out.shape == images.shape
    np.testing.assert_array_equal(out.numpy(), policies.auto_augment(images, SEED).numpy())
    changed = np.any(out.numpy() != images.numpy(), axis=(1, 2, 3))
    assert 0 < changed.sum() < 32            # some sub-policies apply nothing (low odds)


def test_transform_names_are_resolved_and_described():
    names = augment.resolve_transforms(["cutmix", "randaug", "autoaug"], "X.transforms")
    assert augment.describe_transforms(names) == [
        "crop(pad 4)", "hflip", "randaug(N=2, level uniform 1..9, p=0.5, 15 ops)",
        "autoaug(CIFAR-10 policy, 25 sub-policies)", "cutmix(p 0.5)"]
    views = augment.train_views(tf.zeros([4, 8, 8, 3], tf.uint8), SEED, names)
    assert views.dtype == tf.float32 and views.shape == (4, 8, 8, 3)


@pytest.mark.parametrize("bindings, message", [
    ({"magnitude": 12}, "RandAugment.magnitude"), ({"probability": 1.5}, "RandAugment.prob"),
    ({"num_ops": 0}, "RandAugment.num_ops"),
])
def test_bad_rand_augment_bindings(bindings, message):
    with pytest.raises(ValueError, match=message):
        policies.RandAugment(**bindings)


def test_vr_randaug_is_twelve_independent_draws():
    names = perturb.check_metric("vr_randaug", "RainbowMemory.uncertainty_metric")
    assert len(names) == 12
    images = tf.cast(tf.random.stateless_uniform([8, 8, 8, 3], [7, 8], 0, 256, tf.int32),
                     tf.float32)
    votes = [perturb.perturb(images, name, tf.constant([0, i], tf.int64)).numpy()
             for i, name in enumerate(names[:2])]
    assert not np.array_equal(votes[0], votes[1])
    with pytest.raises(ValueError, match="RainbowMemory.uncertainty_metric"):
        perturb.check_metric("vr_loss", "RainbowMemory.uncertainty_metric")


def test_rm_trains_with_randaug_autoaug_and_updates_memory_by_vr_randaug(caplog):
    from continual.methods.base import StreamBatch
    from tests.methods.test_rainbow_memory import Experience, Table, _method
    with caplog.at_level(logging.INFO):
        method, table = _method(transforms=["randaug", "autoaug", "cutmix"],
                                uncertainty_metric="vr_randaug"), Table()
    assert ("randaug(N=2, level uniform 1..9, p=0.5, 15 ops)" in caplog.text
            and "vr_randaug" in caplog.text)              # the resolved list is logged
    first = Experience(0, tuple(range(20)), (0, 1, 2, 3))
    method.begin_experience(first, table)
    images, labels = table.gather(np.arange(8))
    batch = StreamBatch(images=images, labels=labels, ids=tf.range(8, dtype=tf.int64))
    assert np.isfinite(float(method.train_step(batch, tf.constant(0, tf.int64))["loss"]))
    method.update_memory(first, table)
    second = Experience(1, tuple(range(20, 40)), (0, 1, 2, 3))
    method.update_memory(second, table)                   # 12 RandAugment votes over 28 items
    stored = method.buffer.stored_ids()
    assert len(stored) == 8 and np.bincount(table.labels_of(stored)).tolist() == [2, 2, 2, 2]


def test_equalize_clips_a_rare_top_value_as_pillow_does():
    """400 pixels, the top value once: step 1 maps it to 399, which PIL stores as 255."""
    plane = np.r_[np.arange(399) % 200, [250]].reshape(20, 20).astype(np.float32)
    got = px.equalize(tf.constant(plane[None, :, :, None])).numpy()[0, :, :, 0]
    want = np.asarray(ImageOps.equalize(Image.fromarray(plane.astype(np.uint8))), np.float32)
    assert got.max() == 255.0
    np.testing.assert_array_equal(got, want)
