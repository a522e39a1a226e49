"""Views of uint8 image batches for classification models: scaling and simple augmentations.

Every random choice is stateless, keyed by a seed tensor the caller derives from (seed, step),
so a resumed run draws exactly the augmentations an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Sequence

import gin
import tensorflow as tf

Stats = float | Sequence[float]


def channel_stats(value: Stats, channels: int, binding: str, *,
                  positive: bool = False) -> tf.Tensor:
    """`value` (one number, or one per channel) as a float32 tensor that broadcasts over the
    channel axis; anything else is an error naming `binding`."""
    values = [value] if isinstance(value, (int, float)) else list(value)
    if len(values) not in (1, channels) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and (v > 0 or not positive)
            for v in values):
        raise ValueError(f"{binding} = {value!r}: give one {'positive ' if positive else ''}"
                         f"number or one per channel ({channels} here), e.g. the data set's "
                         "mean / std of x / 255")
    return tf.constant(values, tf.float32)


@gin.configurable
def standardize(images: tf.Tensor, mean: Stats = 0.5, std: Stats = 0.25) -> tf.Tensor:
    """uint8 [B, H, W, C] -> float32, scaled to [0, 1], then (x - mean) / std; `mean` and
    `std` are one number or one per channel (a data set's statistics, e.g. RM's CIFAR-10
    (0.4914, 0.4822, 0.4465) / (0.2023, 0.1994, 0.2010))."""
    channels = int(images.shape[-1])
    mean = channel_stats(mean, channels, "standardize.mean")
    std = channel_stats(std, channels, "standardize.std", positive=True)
    return (tf.cast(images, tf.float32) / 255.0 - mean) / std


def random_flip(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Mirror each image left-right with probability 0.5 (stateless)."""
    flip = tf.random.stateless_uniform([tf.shape(images)[0], 1, 1, 1], seed) < 0.5
    return tf.where(flip, tf.reverse(images, axis=[2]), images)
