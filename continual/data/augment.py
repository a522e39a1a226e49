"""Training augmentation of RECALL (the original's `preprocessing.preprocess_training_op`),
stateless so a sample is a pure function of its key.

Steps, in the original order (`preprocess_training_op`): random scale s ~ U[lo, hi) for both
axes (image bilinear, label nearest-neighbour so no interpolated class ids appear), horizontal
flip with p = 0.5, padding at the bottom and right up to the crop size (image 0 after
normalisation = the mean colour, label 255 = void), random crop. Two equivalences make it
cheaper: the crop window is cut before padding (padding is only bottom/right, so a padded axis
always has crop offset 0), and the mean is subtracted from the crop window instead of the whole
image (bilinear resizing is affine, so this differs only by float rounding). Every random draw
comes from `tf.random.stateless_*` ops seeded by a per-sample key, so a resumed run sees
exactly the crops an uninterrupted run would have seen (continual/plans/RECALL.md, defect 18).
"""

from __future__ import annotations

import tensorflow as tf

from continual.data.classes import IGNORE_LABEL

# Domain tags folded into the user seed so that the shuffle and the augmentation of one stream
# draw from unrelated random sequences.
SHUFFLE_TAG = 0x5A17
AUGMENT_TAG = 0xA06


def stream_key(seed: int, tag: int, counter: tf.Tensor) -> tf.Tensor:
    """A stateless-RNG seed (int64 [2]) for `counter` (an epoch or a sample position)."""
    base = tf.constant([seed, tag], tf.int64)
    return tf.random.experimental.stateless_fold_in(base, tf.cast(counter, tf.int64))


def check_scale_range(scale_range) -> tuple[float, float]:
    """Validate `train_stream.scale_range`: 0 < lo <= hi."""
    low, high = (float(v) for v in scale_range)
    if not 0 < low <= high:
        raise ValueError(f"train_stream.scale_range = {tuple(scale_range)} is invalid: "
                         "expected (low, high) with 0 < low <= high, e.g. (0.5, 1.5)")
    return low, high


def random_scale(image: tf.Tensor, label: tf.Tensor, scale_range, key: tf.Tensor):
    """Resize by one factor s ~ U[lo, hi): new size floor(size * s), at least 1 pixel."""
    low, high = scale_range
    scale = tf.random.stateless_uniform([], key, minval=low, maxval=high)
    size = tf.cast(tf.shape(image)[:2], tf.float32)
    new_size = tf.maximum(tf.cast(tf.floor(size * scale), tf.int32), 1)
    image = tf.image.resize(image, new_size, method="bilinear")
    label = tf.image.resize(label, new_size, method="nearest")
    return image, label


def random_flip(image: tf.Tensor, label: tf.Tensor, key: tf.Tensor):
    """Mirror image and label together with probability 0.5."""
    flip = tf.random.stateless_uniform([], key) < 0.5
    return tf.cond(flip,
                   lambda: (tf.reverse(image, axis=[1]), tf.reverse(label, axis=[1])),
                   lambda: (image, label))


def pad_bottom_right(image: tf.Tensor, label: tf.Tensor, height: int, width: int,
                     label_value: int = IGNORE_LABEL):
    """Pad at the bottom and right to at least height x width: image with 0, label with
    `label_value` (255, ignored, unless a stage says otherwise)."""
    shape = tf.shape(image)
    paddings = [[0, tf.maximum(height - shape[0], 0)], [0, tf.maximum(width - shape[1], 0)],
                [0, 0]]
    image = tf.pad(image, paddings, constant_values=0.0)
    label = tf.pad(label, paddings, constant_values=tf.cast(label_value, label.dtype))
    return image, label


def crop_window(image: tf.Tensor, label: tf.Tensor, crop_size: int, key: tf.Tensor):
    """The same random window of image and label, as `crop_size` crops of the image padded at
    the bottom/right would see it: offsets uniform over the padded image, window cut to the
    image (so it is smaller than crop_size on an axis shorter than crop_size)."""
    size = tf.shape(label)[:2]
    room = tf.maximum(size - crop_size, 0)
    draw = tf.random.stateless_uniform([2], key)
    offset = tf.minimum(tf.cast(draw * tf.cast(room + 1, tf.float32), tf.int32), room)
    extent = tf.minimum(size, crop_size)
    begin, slice_size = tf.concat([offset, [0]], 0), tf.concat([extent, [-1]], 0)
    return tf.slice(image, begin, slice_size), tf.slice(label, begin, slice_size)


def augment_for_training(image: tf.Tensor, label: tf.Tensor, *, crop_size: int, scale_range,
                         normalize, key: tf.Tensor,
                         crop_pad_label: int = IGNORE_LABEL) -> tuple[tf.Tensor, tf.Tensor]:
    """Scale, flip, crop, normalise and pad one decoded image ([H,W,3]) and its label ([H,W,1]).

    `normalize` maps RGB pixels to model inputs (`pipeline.normalize_image` with the mean);
    `crop_pad_label` labels the padding of a crop larger than the scaled image.
    Returns image float32 [crop, crop, 3] and label int32 [crop, crop].
    """
    scale_key, flip_key, crop_key = tf.unstack(
        tf.random.experimental.stateless_split(key, num=3))
    image, label = random_scale(tf.cast(image, tf.float32), label, scale_range, scale_key)
    image, label = random_flip(image, label, flip_key)
    image, label = crop_window(image, label, crop_size, crop_key)
    image, label = pad_bottom_right(normalize(image), label, crop_size, crop_size,
                                    crop_pad_label)
    return (tf.ensure_shape(image, [crop_size, crop_size, 3]),
            tf.ensure_shape(tf.cast(label[..., 0], tf.int32), [crop_size, crop_size]))
