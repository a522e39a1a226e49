"""Rainbow Memory's uncertainty perturbations and Cutout by hand, against the original
(`methods/finetune.py` `montecarlo`, `utils/augment.py` `Cutout`): the grey fill in the votes
and in training, the random flips and rotation angles of 'vr', the 12 Cutout draws of
'vr_cutout'."""

import numpy as np
import pytest
import tensorflow as tf

from continual.methods.rainbow_memory import augment, perturb

SEED = tf.constant([3, 5], tf.int64)
GREY = [125.0, 122.0, 113.0]


def _grid(batch: int = 1) -> tf.Tensor:
    """[batch, 3, 3, 1] copies of 0, 20, ..., 160 in row-major order."""
    image = tf.reshape(tf.range(9, dtype=tf.float32) * 20.0, [1, 3, 3, 1])
    return tf.tile(image, [batch, 1, 1, 1])


def test_cutout_larger_than_the_image_paints_it_all_the_originals_grey():
    out = augment.cutout(tf.fill([2, 4, 4, 3], 200.0), SEED, size=8).numpy()
    np.testing.assert_array_equal(out, np.broadcast_to(GREY, (2, 4, 4, 3)))
    grey = augment.cutout(tf.zeros([1, 4, 4, 1]), SEED, size=8).numpy()
    np.testing.assert_array_equal(grey, np.full((1, 4, 4, 1), 122.0))  # luma of the RGB grey
    with pytest.raises(ValueError, match="1 or 3 channels, got 2"):
        augment.cutout(tf.zeros([1, 4, 4, 2]), SEED, size=8)


def test_cutout_paints_one_clipped_square_at_most_size_wide():
    for step in range(8):
        out = augment.cutout(tf.fill([1, 12, 12, 3], 200.0), tf.constant([0, step], tf.int64),
                             size=4).numpy()[0]
        rows, cols = np.nonzero(out[..., 0] != 200.0)
        assert 0 < rows.size == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)  # a full rectangle
        assert np.ptp(rows) < 4 and np.ptp(cols) < 4
        np.testing.assert_array_equal(out[rows, cols], np.broadcast_to(GREY, (rows.size, 3)))


def test_training_cutout_fills_grey_not_zeros():
    views = augment.train_views(tf.zeros([2, 4, 4, 3], tf.uint8), SEED, ["cutout"]).numpy()
    np.testing.assert_array_equal(views, np.broadcast_to(GREY, (2, 4, 4, 3)))  # 16 > 4 pixels


@pytest.mark.parametrize("name, axis", [("random_hflip", 1), ("random_vflip", 0)])
def test_vr_flips_mirror_about_half_of_the_images(name, axis):
    image = _grid().numpy()[0, ..., 0]
    out = perturb.perturb(_grid(32), name, SEED).numpy()[..., 0]
    flipped = [bool((o == np.flip(image, axis)).all()) for o in out]
    assert all(f or (o == image).all() for f, o in zip(flipped, out, strict=True))
    assert 8 <= sum(flipped) <= 24


def test_rotate_turns_counter_clockwise_with_black_corners():
    image = _grid().numpy()[0, ..., 0]
    turned = perturb.rotate(_grid(2), tf.constant([90.0, -90.0])).numpy()[..., 0]
    np.testing.assert_array_equal(turned[0], np.rot90(image))
    np.testing.assert_array_equal(turned[1], np.rot90(image, -1))
    tilted = perturb.rotate(tf.fill([1, 5, 5, 1], 9.0), tf.constant([45.0])).numpy()[0, ..., 0]
    assert tilted[0, 0] == 0.0 and tilted[2, 2] == 9.0


@pytest.mark.parametrize("limit", [45, 90])
def test_vr_rotations_draw_an_angle_in_plus_minus_limit_per_image(limit):
    angles = perturb.rotation_angles(64, float(limit), SEED).numpy()
    assert angles.min() >= -limit and angles.max() <= limit
    assert angles.min() < -limit / 2 and angles.max() > limit / 2   # not one fixed angle
    out = perturb.perturb(_grid(64), f"random_rotate{limit}", SEED).numpy()[..., 0]
    assert (out[:, 1, 1] == 80.0).all() and len({o.tobytes() for o in out}) > 1


def test_vr_lists_the_originals_twelve_in_order():
    assert perturb.check_metric("vr", "X.uncertainty_metric") == (
        "cutout8", "cutout16", "cutout24", "cutout32", "random_hflip", "random_vflip",
        "random_rotate45", "random_rotate90", "invert", "solarize128", "solarize64", "solarize32")
    image = _grid()
    np.testing.assert_array_equal(perturb.perturb(image, "invert", SEED), 255.0 - image)
    solarized = perturb.perturb(image, "solarize128", SEED).numpy().reshape(-1)
    np.testing.assert_array_equal(solarized, [0, 20, 40, 60, 80, 100, 120, 115, 95])


def test_vr_cutout_is_twelve_independent_cutout16_draws():
    names = perturb.check_metric("vr_cutout", "X.uncertainty_metric")
    assert names == ("cutout16",) * 12
    images = tf.fill([1, 32, 32, 3], 200.0)
    masks = [perturb.perturb(images, name, tf.constant([0, vote], tf.int64)).numpy()[0, ..., 0]
             != 200.0 for vote, name in enumerate(names)]
    assert all(0 < m.sum() <= 256 for m in masks)
    assert len({m.tobytes() for m in masks}) > 6


def test_an_unknown_metric_names_the_binding_and_the_originals_unimplemented_ones():
    with pytest.raises(ValueError, match=r"X.uncertainty_metric = 'vr1'.*'loss'"):
        perturb.check_metric("vr1", "X.uncertainty_metric")
