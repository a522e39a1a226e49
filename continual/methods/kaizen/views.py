"""Kaizen's two asymmetric views of a batch (its CIFAR scripts, `bash_files/*`).

Per image and view: random resized crop (area scale 0.08-1, aspect 3/4-4/3, back to the input
size), colour jitter (brightness 0.4, contrast 0.4, saturation 0.2, hue 0.1) with probability
0.8, grayscale with probability 0.2, solarisation (x -> 1 - x above 0.5) with probability 0 for
view 1 and 0.2 for view 2, horizontal flip, then `standardize`. CIFAR runs use no Gaussian blur.
The crop and jitter are SimSiam's stateless ops (`continual.data.ssl_views`: fixed jitter order,
a crop box clipped to the image); every draw is keyed by the caller's seed pair.
"""

from __future__ import annotations

import gin
import tensorflow as tf

from continual.data.ssl_views import DRAWS, _crop_boxes, _gray, _jitter, _where
from continual.data.views import standardize

SOLARIZE_DRAW = DRAWS  # one more uniform number per image, after the SimSiam ones


@gin.configurable(denylist=["images", "seed", "solarization_probability"])
def kaizen_view(images: tf.Tensor, seed: tf.Tensor, solarization_probability: float, *,
                crop_scale=(0.08, 1.0), jitter=(0.4, 0.4, 0.2, 0.1),
                jitter_probability: float = 0.8, grayscale_probability: float = 0.2
                ) -> tf.Tensor:
    """One augmented view (float32, standardised) of uint8 images [B, H, W, C]
    (C = 3, or 1: grey images stay one-channel, as in `simsiam_view`)."""
    u = tf.random.stateless_uniform([tf.shape(images)[0], DRAWS + 1], seed=seed)
    x = tf.cast(images, tf.float32) / 255.0
    x = tf.image.crop_and_resize(x, _crop_boxes(u, tuple(crop_scale)),
                                 tf.range(tf.shape(x)[0]), [images.shape[1], images.shape[2]])
    x = _where(u[:, 8] < jitter_probability, _jitter(x, u, tuple(jitter)), x)
    x = _where(u[:, 9] < grayscale_probability, tf.tile(_gray(x), [1, 1, 1, x.shape[-1]]), x)
    x = _where(u[:, SOLARIZE_DRAW] < solarization_probability,
               tf.where(x >= 0.5, 1.0 - x, x), x)
    x = _where(u[:, 12] < 0.5, tf.reverse(x, axis=[2]), x)
    return standardize(tf.cast(tf.round(x * 255.0), tf.uint8))


@gin.configurable(denylist=["images", "seed"])
def kaizen_views(images: tf.Tensor, seed: tf.Tensor, *,
                 solarization_probabilities=(0.0, 0.2)) -> tuple[tf.Tensor, tf.Tensor]:
    """The two views: seed pair -> two derived seed pairs, one per view."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    return (kaizen_view(images, seeds[0], solarization_probabilities[0]),
            kaizen_view(images, seeds[1], solarization_probabilities[1]))
