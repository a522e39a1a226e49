"""The memory transforms of the replayed rows (`memory_transforms` of the
original's `configs/cl_strategy.yaml`): RandomHorizontalFlip, RandomRotation(10),
ColorJitter(brightness=0.5, hue=0.5), as stateless TensorFlow ops on uint8 batches.

Every draw is keyed by the seed (per image), so a resumed run replays exactly the views an
uninterrupted one would. Rotation: nearest neighbour about the centre, black fill
(torchvision's defaults). Brightness: each image times a factor drawn from
[max(0, 1 - b), 1 + b]. Hue: each image's hue shifted by a draw from [-h, h] turns. torchvision
applies the two jitters in a random order; here brightness always comes first (a hue shift
does not change HSV value, so only the clipping at 255 can tell the orders apart).
"""

from __future__ import annotations

import math

import tensorflow as tf

from continual.data.views import random_flip


def _uniform(images: tf.Tensor, seed: tf.Tensor, low, high) -> tf.Tensor:
    """float32 [B]: one draw per image from [low, high)."""
    return tf.random.stateless_uniform([tf.shape(images)[0]], seed, low, high)


def rotate(images: tf.Tensor, angles: tf.Tensor) -> tf.Tensor:
    """float32 [B, H, W, C] images rotated by `angles` (radians, [B]) about their centre."""
    height = tf.cast(tf.shape(images)[1], tf.float32)
    width = tf.cast(tf.shape(images)[2], tf.float32)
    cos, sin = tf.cos(angles), tf.sin(angles)
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    zero = tf.zeros_like(angles)
    transforms = tf.stack([cos, -sin, cx - cos * cx + sin * cy,
                           sin, cos, cy - sin * cx - cos * cy, zero, zero], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="NEAREST", fill_mode="CONSTANT")


def shift_hue(images: tf.Tensor, shifts: tf.Tensor) -> tf.Tensor:
    """float32 RGB images in [0, 1] with each image's hue moved by `shifts` turns ([B])."""
    hsv = tf.image.rgb_to_hsv(images)
    hue = tf.math.floormod(hsv[..., 0] + shifts[:, None, None], 1.0)
    return tf.image.hsv_to_rgb(tf.stack([hue, hsv[..., 1], hsv[..., 2]], axis=-1))


def memory_view(images: tf.Tensor, seed: tf.Tensor, *, flip: bool = True,
                rotation_degrees: float = 10.0, brightness: float = 0.5,
                hue: float = 0.5) -> tf.Tensor:
    """uint8 [B, H, W, C] -> the same images flipped, rotated and colour-jittered (uint8).

    `seed` is a [2] int64 tensor; a zero setting switches its transform off. Hue needs three
    channels (it is skipped for grey images).
    """
    seed = tf.cast(seed, tf.int64)
    if flip:
        images = random_flip(images, seed)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    if not (rotation_degrees or brightness or hue):
        return images
    view = tf.cast(images, tf.float32) / 255.0
    if rotation_degrees:
        limit = math.radians(rotation_degrees)
        view = rotate(view, _uniform(view, seeds[0], -limit, limit))
    if brightness:
        factor = _uniform(view, seeds[1], max(0.0, 1.0 - brightness), 1.0 + brightness)
        view = tf.clip_by_value(view * factor[:, None, None, None], 0.0, 1.0)
    if hue and view.shape[-1] == 3:
        view = shift_hue(view, _uniform(view, seeds[2], -hue, hue))
    return tf.cast(tf.round(tf.clip_by_value(view, 0.0, 1.0) * 255.0), tf.uint8)
