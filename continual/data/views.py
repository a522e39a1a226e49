"""Views of uint8 image batches for classification models: scaling and simple augmentations.

Every random choice is stateless, keyed by a seed tensor the caller derives from (seed, step),
so a resumed run draws exactly the augmentations an uninterrupted one would.
"""

from __future__ import annotations

import gin
import tensorflow as tf


@gin.configurable
def standardize(images: tf.Tensor, mean: float = 0.5, std: float = 0.25) -> tf.Tensor:
    """uint8 [B, H, W, C] -> float32, scaled to [0, 1], then (x - mean) / std."""
    return (tf.cast(images, tf.float32) / 255.0 - mean) / std


def random_flip(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Mirror each image left-right with probability 0.5 (stateless)."""
    flip = tf.random.stateless_uniform([tf.shape(images)[0], 1, 1, 1], seed) < 0.5
    return tf.where(flip, tf.reverse(images, axis=[2]), images)
