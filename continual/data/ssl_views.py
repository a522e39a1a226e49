"""SimSiam's two-view augmentation, batched and stateless per sample (as Purushwalkam et al.,
ECCV 2022, `senthilps8/continuous_ssl_problem`, use SimSiam's augmentations).

Per image: random resized crop (area scale 0.2-1, aspect 3/4-4/3, back to the input size),
colour jitter (brightness, contrast, saturation 0.4, hue 0.1) with probability 0.8, grayscale
with probability 0.2, Gaussian blur (sigma 0.1-2 at 224 px, scaled to the image size) with
probability 0.5, horizontal flip, then `standardize`. Every draw comes from one
`stateless_uniform` keyed by the caller's seed pair (seed, update), so a resumed run sees the
same views. Deviations from torchvision: the jitter runs in a fixed order (torchvision shuffles
it), and a crop box larger than the image is clipped rather than redrawn ten times.
"""

from __future__ import annotations

import math

import gin
import tensorflow as tf

from continual.data.views import standardize

DRAWS = 13  # uniform numbers per image


def _crop_boxes(u: tf.Tensor, scale: tuple[float, float]) -> tf.Tensor:
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    log_ratio = math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * u[:, 1]
    ratio = tf.exp(log_ratio)
    width = tf.minimum(tf.sqrt(area * ratio), 1.0)
    height = tf.minimum(tf.sqrt(area / ratio), 1.0)
    top, left = (1.0 - height) * u[:, 2], (1.0 - width) * u[:, 3]
    return tf.stack([top, left, top + height, left + width], axis=1)


def _gray(x: tf.Tensor) -> tf.Tensor:
    """Luma [B, H, W, 1]; a one-channel image is its own (as torchvision's rgb_to_grayscale)."""
    if x.shape[-1] == 1:
        return x
    return tf.reduce_sum(x * tf.constant([0.299, 0.587, 0.114]), axis=-1, keepdims=True)


def _jitter(x: tf.Tensor, u: tf.Tensor, strength: tuple[float, float, float, float]):
    b, c, s, h = strength

    def factor(column, amount):
        return tf.reshape(1.0 - amount + 2.0 * amount * u[:, column], [-1, 1, 1, 1])

    x = tf.clip_by_value(x * factor(4, b), 0.0, 1.0)
    mean = tf.reduce_mean(_gray(x), axis=[1, 2, 3], keepdims=True)
    x = tf.clip_by_value(mean + factor(5, c) * (x - mean), 0.0, 1.0)
    x = tf.clip_by_value(_gray(x) + factor(6, s) * (x - _gray(x)), 0.0, 1.0)
    if x.shape[-1] == 1:  # saturation and hue leave a grey image as it is (as torchvision)
        return x
    hsv = tf.image.rgb_to_hsv(x)
    shift = tf.reshape(h * (2.0 * u[:, 7] - 1.0), [-1, 1, 1])
    hue = tf.math.floormod(hsv[..., 0] + shift, 1.0)
    return tf.image.hsv_to_rgb(tf.stack([hue, hsv[..., 1], hsv[..., 2]], axis=-1))


def _blur(x: tf.Tensor, sigma: tf.Tensor, radius: int) -> tf.Tensor:
    """Separable Gaussian blur with a per-image sigma (reflect padding)."""
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    weights = tf.exp(-0.5 * tf.square(offsets[None, :] / sigma[:, None]))
    weights /= tf.reduce_sum(weights, axis=1, keepdims=True)
    padded = tf.pad(x, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    height, width = tf.shape(x)[1], tf.shape(x)[2]
    rows = sum(weights[:, i, None, None, None] * padded[:, i:i + height, :, :]
               for i in range(2 * radius + 1))
    return sum(weights[:, i, None, None, None] * rows[:, :, i:i + width, :]
               for i in range(2 * radius + 1))


def _where(mask: tf.Tensor, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return tf.where(tf.reshape(mask, [-1, 1, 1, 1]), a, b)


@gin.configurable
def simsiam_view(images: tf.Tensor, seed: tf.Tensor, *, crop_scale=(0.2, 1.0),
                 jitter=(0.4, 0.4, 0.4, 0.1), jitter_probability: float = 0.8,
                 grayscale_probability: float = 0.2, blur_probability: float = 0.5,
                 blur_sigma=(0.1, 2.0)) -> tf.Tensor:
    """One augmented view (float32, standardised) of uint8 images [B, H, W, C] (C = 3, or 1:
    a grey image's saturation, hue and grayscale steps leave it as it is, as torchvision's)."""
    size = images.shape[1]
    u = tf.random.stateless_uniform([tf.shape(images)[0], DRAWS], seed=seed)
    x = tf.cast(images, tf.float32) / 255.0
    x = tf.image.crop_and_resize(x, _crop_boxes(u, tuple(crop_scale)),
                                 tf.range(tf.shape(x)[0]), [size, images.shape[2]])
    x = _where(u[:, 8] < jitter_probability, _jitter(x, u, tuple(jitter)), x)
    x = _where(u[:, 9] < grayscale_probability, tf.tile(_gray(x), [1, 1, 1, x.shape[-1]]), x)
    scale = size / 224.0
    sigma = scale * (blur_sigma[0] + (blur_sigma[1] - blur_sigma[0]) * u[:, 10])
    radius = max(1, math.ceil(3 * scale * blur_sigma[1]))
    x = _where(u[:, 11] < blur_probability, _blur(x, sigma, radius), x)
    x = _where(u[:, 12] < 0.5, tf.reverse(x, axis=[2]), x)
    return standardize(tf.cast(tf.round(x * 255.0), tf.uint8))


def two_views(images: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Two independent views of each image (seed pair -> two derived seed pairs)."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    return simsiam_view(images, seeds[0]), simsiam_view(images, seeds[1])
