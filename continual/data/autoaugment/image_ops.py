"""The pixel ops of AutoAugment / RandAugment, batched, on float32 images in [0, 255].

They follow the PIL calls of the original (`utils/augment.py` and pip `randaugment==1.0.2`,
both DeepVoltaire's `SubPolicy`): each op maps 8-bit images to 8-bit images, so every result
is brought back to whole numbers in [0, 255] (PIL's blend truncates; its filters round).
Magnitudes are per image ([B] tensors), so one call serves a batch whose rows drew different
magnitudes. The geometric ops (shear, translate, rotate) are in `geometry_ops`.
"""

from __future__ import annotations

import tensorflow as tf

CUTOUT_FILL = (125.0, 122.0, 113.0)  # the original Cutout's colour, not zeros
SMOOTH = ((1.0, 1.0, 1.0), (1.0, 5.0, 1.0), (1.0, 1.0, 1.0))  # PIL's ImageFilter.SMOOTH / 13


def _per_image(values: tf.Tensor) -> tf.Tensor:
    return tf.reshape(tf.cast(values, tf.float32), [-1, 1, 1, 1])


def truncate(images: tf.Tensor) -> tf.Tensor:
    """PIL's 8-bit store of a blend: clip to [0, 255], then drop the fraction."""
    return tf.floor(tf.clip_by_value(images, 0.0, 255.0))


def invert(images: tf.Tensor) -> tf.Tensor:
    return 255.0 - images


def solarize(images: tf.Tensor, threshold: tf.Tensor) -> tf.Tensor:
    """A pixel >= threshold becomes 255 - pixel (threshold 256: unchanged)."""
    return tf.where(images >= _per_image(threshold), 255.0 - images, images)


def posterize(images: tf.Tensor, bits: tf.Tensor) -> tf.Tensor:
    """Keep the top `bits` bits of each 8-bit value."""
    step = tf.pow(2.0, 8.0 - _per_image(bits))
    return tf.floor(images / step) * step


def autocontrast(images: tf.Tensor) -> tf.Tensor:
    """Stretch each channel's [min, max] to [0, 255] (a flat channel is left alone)."""
    low = tf.reduce_min(images, axis=[1, 2], keepdims=True)
    high = tf.reduce_max(images, axis=[1, 2], keepdims=True)
    scale = 255.0 / tf.maximum(high - low, 1.0)
    stretched = truncate(images * scale - low * scale)
    return tf.where(high > low, stretched, images)


def equalize(images: tf.Tensor) -> tf.Tensor:
    """PIL's histogram equalisation per channel: step = (N - count of the top value) // 255,
    lut[i] = min(255, (step // 2 + pixels below i) // step); identity when step is 0."""
    batch, height, width, channels = (tf.shape(images)[i] for i in range(4))
    planes = tf.reshape(tf.transpose(tf.cast(images, tf.int32), [0, 3, 1, 2]),
                        [batch * channels, height * width])
    counts = tf.math.bincount(planes, minlength=256, maxlength=256, axis=-1)
    top = tf.gather(counts, tf.reduce_max(planes, axis=1), batch_dims=1)
    step = (height * width - top) // 255
    below = tf.cumsum(counts, axis=1, exclusive=True)
    safe = tf.maximum(step, 1)[:, None]
    lut = tf.where(step[:, None] > 0, (safe // 2 + below) // safe, tf.range(256)[None])
    lut = tf.minimum(lut, 255)  # the top value can map past 255; PIL's point() clips to 8 bits
    mapped = tf.gather(lut, planes, batch_dims=1)
    mapped = tf.transpose(tf.reshape(mapped, [batch, channels, height, width]), [0, 2, 3, 1])
    return tf.cast(mapped, tf.float32)


def grey(images: tf.Tensor) -> tf.Tensor:
    """PIL's 'L' conversion (ITU-R 601-2 luma, its integer rounding), [B, H, W, 1]."""
    weights = tf.constant([19595.0, 38470.0, 7471.0])
    return tf.floor((tf.reduce_sum(images * weights, axis=-1, keepdims=True) + 32768.0)
                    / 65536.0)


def blend(degenerate: tf.Tensor, images: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """PIL's ImageEnhance: degenerate + factor * (image - degenerate), stored as 8 bits."""
    return truncate(degenerate + _per_image(factor) * (images - degenerate))


def brightness(images: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    return blend(tf.zeros_like(images), images, factor)


def color(images: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """Saturation: blend with the image's grey version."""
    return blend(tf.broadcast_to(grey(images), tf.shape(images)), images, factor)


def contrast(images: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """Blend with a flat image at the rounded mean grey level."""
    mean = tf.floor(tf.reduce_mean(grey(images), axis=[1, 2, 3], keepdims=True) + 0.5)
    return blend(tf.broadcast_to(mean, tf.shape(images)), images, factor)


def sharpness(images: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """Blend with PIL's SMOOTH filter (3x3, centre 5, sum 13; the border pixels unfiltered)."""
    kernel = tf.constant(SMOOTH)[:, :, None, None] / 13.0
    kernel = tf.tile(kernel, [1, 1, tf.shape(images)[-1], 1])
    smooth = tf.floor(tf.nn.depthwise_conv2d(images, kernel, [1, 1, 1, 1], "SAME") + 0.5)
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    rows = tf.range(height)[:, None]
    cols = tf.range(width)[None, :]
    inner = (rows > 0) & (rows < height - 1) & (cols > 0) & (cols < width - 1)
    smooth = tf.where(inner[None, :, :, None], smooth, images)
    return blend(smooth, images, factor)


def cutout(images: tf.Tensor, size: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """A size x size square (per image) at a uniform centre, rows and columns centre - size // 2
    .. centre + size // 2 (exclusive), clipped at the border, filled with CUTOUT_FILL."""
    batch, height, width = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
    centre = tf.random.stateless_uniform([2, batch], seed, minval=0, maxval=2 ** 30,
                                         dtype=tf.int32)
    half = tf.cast(size, tf.int32)[:, None] // 2
    top, left = (centre[0] % height)[:, None] - half, (centre[1] % width)[:, None] - half
    in_rows = (tf.range(height)[None] >= top) & (tf.range(height)[None] < top + 2 * half)
    in_cols = (tf.range(width)[None] >= left) & (tf.range(width)[None] < left + 2 * half)
    mask = tf.cast(in_rows[:, :, None] & in_cols[:, None, :], tf.float32)[..., None]
    fill = tf.constant(CUTOUT_FILL)[: images.shape[-1]]
    return images * (1.0 - mask) + fill * mask
