"""The memory transforms of replayed rows (flip, rotation 10, brightness 0.5, hue 0.5): each op
by hand on tiny images, and the whole view reproducible from its seed."""

import math

import numpy as np
import tensorflow as tf

from continual.data.views import random_flip
from continual.methods.sslad.replay_views import memory_view, rotate, shift_hue


def test_quarter_turn_moves_the_corner_pixel():
    image = np.zeros([1, 3, 3, 1], np.float32)
    image[0, 0, 0, 0] = 1.0  # top-left
    turned = rotate(tf.constant(image), tf.constant([math.pi / 2]))[0, ..., 0].numpy()
    assert turned.sum() == 1.0 and turned[2, 0] == 1.0  # top-left -> bottom-left
    same = rotate(tf.constant(image), tf.constant([0.0]))
    np.testing.assert_array_equal(same, image)


def test_hue_shift_of_a_third_turns_red_into_green():
    red = tf.constant([[[[1.0, 0.0, 0.0]]]])
    green = shift_hue(red, tf.constant([1.0 / 3.0]))
    np.testing.assert_allclose(green.numpy().ravel(), [0.0, 1.0, 0.0], atol=1e-5)
    blue = shift_hue(red, tf.constant([-1.0 / 3.0]))  # wraps around: red -> blue
    np.testing.assert_allclose(blue.numpy().ravel(), [0.0, 0.0, 1.0], atol=1e-5)


def test_brightness_scales_pixels_within_its_range_and_clips():
    images = tf.fill([64, 2, 2, 3], tf.constant(100, tf.uint8))
    bright = memory_view(images, tf.constant([3, 4], tf.int64), flip=False,
                         rotation_degrees=0.0, brightness=0.5, hue=0.0).numpy()
    levels = bright[:, 0, 0, 0].astype(np.float32)
    assert levels.min() >= 50 and levels.max() <= 150 and levels.std() > 10
    assert (bright == bright[:, :1, :1, :1]).all()  # one factor per image
    white = tf.fill([8, 2, 2, 3], tf.constant(255, tf.uint8))
    assert memory_view(white, tf.constant([3, 4], tf.int64), flip=False, rotation_degrees=0.0,
                       brightness=0.5, hue=0.0).numpy().max() == 255


def test_view_is_reproducible_and_flip_only_matches_random_flip():
    images = tf.constant(np.random.default_rng(0).integers(0, 255, [6, 8, 8, 3]), tf.uint8)
    seed = tf.constant([7, 11], tf.int64)
    first, again = memory_view(images, seed), memory_view(images, seed)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, memory_view(images, tf.constant([7, 12], tf.int64)))
    flip_only = memory_view(images, seed, rotation_degrees=0.0, brightness=0.0, hue=0.0)
    np.testing.assert_array_equal(flip_only, random_flip(images, seed))
