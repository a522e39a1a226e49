"""Perturbations for the memory sweep's uncertainty votes (reference §2.4, `vr_randaug`).

Each call perturbs every image independently, RandAugment style: two op slots, each drawing
one op uniformly from `OPS` and applying it with probability 0.5 at a magnitude level drawn
from 1..9. Every draw is stateless, keyed by the seed, so a resumed sweep votes exactly as an
uninterrupted one. Deviation (errata X1): pip `randaugment==1.0.2` is not mirrored, so its op
list and magnitude ranges are not reproduced exactly; this set has 13 of its 15 ops (no
Sharpness, no Equalize) with AutoAugment-like ranges.
"""

from __future__ import annotations

import math

import tensorflow as tf

OPS = ("invert", "cutout", "autocontrast", "posterize", "shear_x", "shear_y", "translate_x",
       "translate_y", "rotate", "contrast", "color", "solarize", "brightness")
SLOTS = 2
LEVELS = 9


def _per_image(values: tf.Tensor) -> tf.Tensor:
    return tf.reshape(values, [-1, 1, 1, 1])


def _blend(images, degenerate, factor):
    """images + (factor - 1) * (images - degenerate), clipped: PIL ImageEnhance."""
    return tf.clip_by_value(degenerate + _per_image(factor) * (images - degenerate), 0.0, 1.0)


def _affine(images, transforms):
    """Per-image affine warp (output pixel -> input pixel), nearest, grey fill."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.stack([height, width]),
        fill_value=0.5, interpolation="NEAREST", fill_mode="CONSTANT")


def _geometric(name, images, level, sign):
    size = tf.cast(tf.shape(images)[1], tf.float32)
    zero, one = tf.zeros_like(level), tf.ones_like(level)
    if name in ("shear_x", "shear_y"):
        shear = sign * 0.3 * level
        row = [one, shear, zero, zero, one, zero] if name == "shear_x" else \
            [one, zero, zero, shear, one, zero]
    elif name in ("translate_x", "translate_y"):
        shift = sign * 0.3 * size * level
        row = [one, zero, shift, zero, one, zero] if name == "translate_x" else \
            [one, zero, zero, zero, one, shift]
    else:  # rotate about the centre
        angle = sign * math.radians(30.0) * level
        cos, sin, centre = tf.cos(angle), tf.sin(angle), (size - 1.0) / 2.0
        row = [cos, -sin, centre - cos * centre + sin * centre,
               sin, cos, centre - sin * centre - cos * centre]
    return _affine(images, tf.stack([*row, zero, zero], axis=1))


def _cutout(images, level, seed):
    size = tf.shape(images)[1]
    half = tf.cast(0.15 * tf.cast(size, tf.float32) * level, tf.int32)[:, None, None]
    centre = tf.random.stateless_uniform([tf.shape(images)[0], 2], seed, 0, size, tf.int32)
    grid = tf.range(size)
    rows = tf.abs(grid[None, :, None] - centre[:, 0, None, None]) <= half
    cols = tf.abs(grid[None, None, :] - centre[:, 1, None, None]) <= half
    return tf.where((rows & cols)[..., None], 0.5, images)


def _autocontrast(images):
    low = tf.reduce_min(images, axis=[1, 2], keepdims=True)
    high = tf.reduce_max(images, axis=[1, 2], keepdims=True)
    return tf.where(high > low, (images - low) / tf.maximum(high - low, 1e-6), images)


def apply_op(name: str, images: tf.Tensor, level: tf.Tensor, sign: tf.Tensor,
             seed: tf.Tensor) -> tf.Tensor:
    """Op `name` on float images in [0, 1] [B, H, W, C] at per-image `level` in (0, 1]."""
    if name == "invert":
        return 1.0 - images
    if name == "cutout":
        return _cutout(images, level, seed)
    if name == "autocontrast":
        return _autocontrast(images)
    if name == "posterize":
        step = tf.pow(2.0, tf.round(4.0 * level))
        return tf.floor(images * 255.0 / _per_image(step)) * _per_image(step) / 255.0
    if name == "solarize":
        return tf.where(images >= _per_image(1.0 - level), 1.0 - images, images)
    if name in ("contrast", "color", "brightness"):
        factor = 1.0 + sign * 0.9 * level
        grey = tf.image.rgb_to_grayscale(images) if images.shape[-1] == 3 else images
        degenerate = {"contrast": tf.reduce_mean(grey, axis=[1, 2, 3], keepdims=True)
                      + tf.zeros_like(images),
                      "color": grey + tf.zeros_like(images),
                      "brightness": tf.zeros_like(images)}[name]
        return _blend(images, degenerate, factor)
    return _geometric(name, images, level, sign)


@tf.function(reduce_retracing=True)
def perturb(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """uint8 [B, H, W, C] -> uint8: each image through two random ops (probability 0.5 each).

    Each op runs only on the images that drew it (gathered, then scattered back)."""
    x = tf.cast(images, tf.float32) / 255.0
    count = tf.shape(images)[0]
    for slot in range(SLOTS):
        draws = tf.random.stateless_uniform([4, count], seed=seed + [slot + 1, 0])
        chosen = tf.where(draws[1] < 0.5, tf.cast(draws[0] * len(OPS), tf.int32), -1)
        level = (1.0 + tf.floor(draws[2] * LEVELS)) / LEVELS
        sign = tf.where(draws[3] < 0.5, -1.0, 1.0)
        for index, name in enumerate(OPS):
            rows = tf.where(tf.equal(chosen, index))
            changed = apply_op(name, tf.gather_nd(x, rows), tf.gather_nd(level, rows),
                               tf.gather_nd(sign, rows), seed + [slot + 1, index + 1])
            x = tf.tensor_scatter_nd_update(x, rows, changed)
    return tf.cast(tf.round(tf.clip_by_value(x, 0.0, 1.0) * 255.0), tf.uint8)
