"""The geometric ops of AutoAugment / RandAugment, batched, on float32 images in [0, 255].

As the original's PIL calls: the area uncovered is filled with grey 128; shear is about the
top-left corner (PIL's affine data (1, m, 0, 0, 1, 0)), translate moves by a fraction of the
image size and samples nearest, rotate turns counter-clockwise about the centre, nearest.
Deviation: PIL shears with bicubic resampling, here bilinear (TF's projective transform has
no bicubic), rounded back to whole values. Every magnitude is per image ([B] tensors).
"""

from __future__ import annotations

import math

import tensorflow as tf

FILL = 128.0


def project(images: tf.Tensor, matrices: tf.Tensor, interpolation: str) -> tf.Tensor:
    """Output (x, y) reads input (a0 x + a1 y + a2, b0 x + b1 y + b2); matrices [B, 6]."""
    batch = tf.shape(images)[0]
    transforms = tf.concat([tf.cast(matrices, tf.float32), tf.zeros([batch, 2])], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=FILL, interpolation=interpolation, fill_mode="CONSTANT")


def _affine(a0, a1, a2, b0, b1, b2) -> tf.Tensor:
    columns = [tf.cast(c, tf.float32) for c in (a0, a1, a2, b0, b1, b2)]
    return tf.stack(columns, axis=1)


def shear_x(images: tf.Tensor, amount: tf.Tensor) -> tf.Tensor:
    """Output (x, y) reads input (x + amount * y, y) (PIL samples at pixel centres, hence
    the half-pixel offset), bilinear, rounded."""
    amount = tf.cast(amount, tf.float32)
    ones, zeros = tf.ones_like(amount), tf.zeros_like(amount)
    matrices = _affine(ones, amount, amount / 2, zeros, ones, zeros)
    return tf.round(project(images, matrices, "BILINEAR"))


def shear_y(images: tf.Tensor, amount: tf.Tensor) -> tf.Tensor:
    """Output (x, y) reads input (x, amount * x + y), bilinear, rounded."""
    amount = tf.cast(amount, tf.float32)
    ones, zeros = tf.ones_like(amount), tf.zeros_like(amount)
    matrices = _affine(ones, zeros, zeros, amount, ones, amount / 2)
    return tf.round(project(images, matrices, "BILINEAR"))


def translate(images: tf.Tensor, dx: tf.Tensor, dy: tf.Tensor) -> tf.Tensor:
    """Output (x, y) reads input (x + dx, y + dy) in pixels, nearest, grey outside."""
    dx, dy = tf.cast(dx, tf.float32), tf.cast(dy, tf.float32)
    ones, zeros = tf.ones_like(dx), tf.zeros_like(dx)
    return project(images, _affine(ones, zeros, dx, zeros, ones, dy), "NEAREST")


def rotate(images: tf.Tensor, degrees: tf.Tensor) -> tf.Tensor:
    """Counter-clockwise by `degrees` about the image centre, nearest, grey outside."""
    angle = tf.cast(degrees, tf.float32) * (math.pi / 180.0)
    cos, sin = tf.cos(angle), tf.sin(angle)
    cx = (tf.cast(tf.shape(images)[2], tf.float32) - 1.0) / 2.0
    cy = (tf.cast(tf.shape(images)[1], tf.float32) - 1.0) / 2.0
    # image y points down: output (x, y) reads the input point turned back by the angle.
    matrices = _affine(cos, -sin, cx - cos * cx + sin * cy,
                       sin, cos, cy - sin * cx - cos * cy)
    return project(images, matrices, "NEAREST")
