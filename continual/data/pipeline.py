"""tf.data pipelines for segmentation: training streams, evaluation and inference datasets.

Records stay encoded in memory (`EncodedRecords`); a pipeline maps integer positions to record
indices, gathers the bytes, then decodes, normalises and augments in a parallel, deterministic
map (recall.md 5.3; defects #8, #9, #10). The training stream is a pure function of
(seed, sample position): epoch e = p // n visits a stateless permutation seeded by (seed, e) and
the augmentation of sample p is keyed by (seed, p), so `start=k` resumes exactly (defect #18).
"""

from __future__ import annotations

from collections.abc import Sequence

import gin
import numpy as np
import tensorflow as tf

from continual.data.augment import (
    AUGMENT_TAG,
    SHUFFLE_TAG,
    augment_for_training,
    check_scale_range,
    pad_bottom_right,
    stream_key,
)
from continual.data.encoded import (
    EncodedRecords,
    decode_image_and_label,
    decode_record_tensors,
    describe,
)

__all__ = ["DEFAULT_MEAN_BGR", "EncodedRecords", "decode_for_inference", "decode_image_and_label",
           "eval_dataset", "normalize_image", "train_dataset", "train_stream"]

# Caffe ImageNet means in BGR order, as in RECALL's data_loader.py (recall.md 5.1).
DEFAULT_MEAN_BGR = (104.00698793, 116.66876762, 122.67891434)


def normalize_image(image: tf.Tensor, mean_bgr=DEFAULT_MEAN_BGR) -> tf.Tensor:
    """The one normalisation of every stage: RGB [..., H, W, 3] -> float32 BGR minus mean_bgr.

    Training, evaluation, pseudo-labelling and inpainting all call this, so the encoder always
    sees what it was trained on (defects #4, #5, #12).
    """
    image = tf.cast(image, tf.float32)
    return tf.reverse(image, axis=[-1]) - tf.constant(mean_bgr, tf.float32)


def _label_table(label_lut: np.ndarray) -> tf.Tensor:
    """Check a raw-value -> training-value table (256 entries in 0..255) and make it a tensor."""
    lut = np.asarray(label_lut)
    if lut.shape != (256,) or lut.min() < 0 or lut.max() > 255:
        raise ValueError(f"label_lut must hold 256 values in 0..255 (raw label value -> training "
                         f"value), got shape {lut.shape} with range {lut.min()}..{lut.max()}")
    return tf.constant(lut.astype(np.uint8))


def _decode_normalised(records, index, lut, mean_bgr):
    """Gather record `index`, decode, normalise the image and map the label through `lut`."""
    image, label, record_id = decode_record_tensors(records.gather(index))
    label = tf.gather(lut, tf.cast(label, tf.int32))
    return normalize_image(image, mean_bgr), label, record_id


@gin.configurable
def train_stream(records: EncodedRecords, indices: Sequence[int], label_lut: np.ndarray, *,
                 crop_size: int = 321, seed: int = 0, scale_range=(0.5, 1.5),
                 mean_bgr=DEFAULT_MEAN_BGR, start: int = 0,
                 num_parallel_calls: int = tf.data.AUTOTUNE) -> tf.data.Dataset:
    """Infinite, unbatched stream of augmented (image [crop,crop,3] f32, label [crop,crop] i32).

    Sample p comes from epoch p // n (n = len(indices)), slot p % n of that epoch's
    permutation; `start=k` yields exactly elements k, k+1, ... of the stream started at 0.
    """
    if crop_size < 1:
        raise ValueError(f"train_stream.crop_size = {crop_size}; expected a positive size")
    if start < 0:
        raise ValueError(f"train_stream start = {start}; expected a sample position >= 0")
    scale_range = check_scale_range(scale_range)
    index_table = records.check_indices(indices, "train_stream indices")
    lut = _label_table(label_lut)
    count = tf.constant(len(index_table), tf.int64)

    def sample(position):
        epoch, slot = position // count, position % count
        shuffled = tf.random.experimental.index_shuffle(
            slot, stream_key(seed, SHUFFLE_TAG, epoch), count - 1)
        record_index = tf.gather(index_table, shuffled)
        image, label, _ = decode_record_tensors(records.gather(record_index))
        label = tf.gather(lut, tf.cast(label, tf.int32))
        return augment_for_training(image, label, crop_size=crop_size, scale_range=scale_range,
                                    normalize=lambda rgb: normalize_image(rgb, mean_bgr),
                                    key=stream_key(seed, AUGMENT_TAG, position))

    return tf.data.Dataset.counter(start=start, dtype=tf.int64).map(
        sample, num_parallel_calls=num_parallel_calls, deterministic=True)


def train_dataset(records: EncodedRecords, indices: Sequence[int], label_lut: np.ndarray, *,
                  batch_size: int, start_batch: int = 0, **stream_kwargs) -> tf.data.Dataset:
    """`train_stream` cut into batches; batch `start_batch` of a fresh run comes first."""
    if batch_size < 1:
        raise ValueError(f"train_dataset batch_size = {batch_size}; expected >= 1")
    stream = train_stream(records, indices, label_lut, start=start_batch * batch_size,
                          **stream_kwargs)
    return stream.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _padded_full_images(records, indices, label_lut, pad_to, mean_bgr, caller):
    """Unbatched (image, label, height, width, id, index) at full resolution, padded to pad_to."""
    binding = f"{caller}.pad_to"
    if pad_to < 1:
        raise ValueError(f"{binding} = {pad_to}; expected the largest image side, e.g. 512")
    index_table = records.check_indices(indices, f"{caller} indices")
    lut = _label_table(label_lut)

    def element(index):
        image, label, record_id = _decode_normalised(records, index, lut, mean_bgr)
        size = tf.shape(image)[:2]
        message = describe(
            "record ", record_id, ": image is ", size[0], "x", size[1], " (height x width), "
            f"larger than {binding} = {pad_to}; raise the `{binding}` binding to at least the "
            "largest image side")
        check = tf.debugging.Assert(tf.reduce_all(size <= pad_to), [message])
        with tf.control_dependencies([check]):
            image, label = pad_bottom_right(image, label, pad_to, pad_to)
        return (tf.ensure_shape(image, [pad_to, pad_to, 3]),
                tf.ensure_shape(tf.cast(label[..., 0], tf.int32), [pad_to, pad_to]),
                size[0], size[1], record_id, index)

    return tf.data.Dataset.from_tensor_slices(index_table).map(
        element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


@gin.configurable
def eval_dataset(records: EncodedRecords, indices: Sequence[int], label_lut: np.ndarray, *,
                 pad_to: int, batch_size: int = 1,
                 mean_bgr=DEFAULT_MEAN_BGR) -> tf.data.Dataset:
    """Full-resolution (image, label) batches in index order, padded to [pad_to, pad_to].

    Fixed shapes keep compiled evaluation functions from retracing per image size; the padding
    has label 255 (void), so it never counts in the confusion matrix.
    """
    images = _padded_full_images(records, indices, label_lut, pad_to, mean_bgr,
                                 "eval_dataset")
    return (images.map(lambda image, label, *_: (image, label))
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))


def decode_for_inference(records: EncodedRecords, indices: Sequence[int], *, pad_to: int,
                         mean_bgr=DEFAULT_MEAN_BGR, batch_size: int = 1) -> tf.data.Dataset:
    """Batches of (image_padded, height, width, id, serialized) for labelling stages.

    A labelling stage predicts on the padded image, crops the prediction back to
    (height, width) and writes a new record that keeps the original image bytes
    (`serialized` is the untouched source record).
    """
    identity = np.arange(256, dtype=np.uint8)
    images = _padded_full_images(records, indices, identity, pad_to, mean_bgr,
                                 "decode_for_inference")

    def element(image, label, height, width, record_id, index):
        return image, height, width, record_id, records.gather(index)

    return images.map(element).batch(batch_size).prefetch(tf.data.AUTOTUNE)
