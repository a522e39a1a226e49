"""tf.data pipelines for segmentation: training streams, evaluation and inference datasets.

Records stay encoded in memory (`EncodedRecords`); a pipeline maps integer positions to record
indices, gathers the bytes, then decodes, normalises and augments in a parallel, deterministic
map (continual/plans/RECALL.md, defects 8-10). The training stream is a pure function of
(seed, sample position): epoch e = p // n visits a stateless permutation seeded by (seed, e) and
the augmentation of sample p is keyed by (seed, p), so `start=k` resumes exactly (defect 18).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from continual.bindings import supplied_configurable
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

# Caffe ImageNet means in BGR order, as in the original's data_loader.py.
DEFAULT_MEAN_BGR = (104.00698793, 116.66876762, 122.67891434)


def normalize_image(image: tf.Tensor, mean_bgr=DEFAULT_MEAN_BGR) -> tf.Tensor:
    """The one normalisation of every stage: RGB [..., H, W, 3] -> float32 BGR minus mean_bgr.

    Training, evaluation, pseudo-labelling and inpainting all call this, so the encoder always
    sees what it was trained on (continual/plans/RECALL.md, defects 4, 5, 12).
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


@supplied_configurable(records=None, indices=None, label_lut=None, seed=None, start=None,
                       crop_pad_label=None, crop_size="TrainManager.train_image_size",
                       mean_bgr="TrainManager.dataset_mean")
def train_stream(records: EncodedRecords, indices: Sequence[int], label_lut: np.ndarray, *,
                 crop_size: int = 321, seed: int = 0, scale_range=(0.5, 1.5),
                 mean_bgr=DEFAULT_MEAN_BGR, start: int = 0, crop_pad_label: int = 255,
                 num_parallel_calls: int = tf.data.AUTOTUNE) -> tf.data.Dataset:
    """Infinite, unbatched stream of augmented (image [crop,crop,3] f32, label [crop,crop] i32).

    Sample p comes from epoch p // n (n = len(indices)), slot p % n of that epoch's
    permutation; `start=k` yields exactly elements k, k+1, ... of the stream started at 0.
    `crop_pad_label` labels the crop padding: 255 (ignored) for the segmenter; 0 for a helper
    decoder, whose labels map everything outside its classes, crop padding included, to
    background (the original's `Training.train_helper`, which remaps after augmentation).
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
                                    key=stream_key(seed, AUGMENT_TAG, position),
                                    crop_pad_label=crop_pad_label)

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


def _full_images(records, indices, label_lut, pad_to, mean_bgr, caller):
    """Unbatched (image, label, height, width, id, index) at full resolution.

    `pad_to` None keeps each image at its own size (shapes [None, None, ...]); an integer pads
    every image at the bottom right to [pad_to, pad_to] (label 255), for fixed-shape XLA runs.
    """
    binding = f"{caller}.pad_to"
    if pad_to is not None and pad_to < 1:
        raise ValueError(f"{binding} = {pad_to}; expected None (native size) or the largest "
                         "image side, e.g. 512")
    index_table = records.check_indices(indices, f"{caller} indices")
    lut = _label_table(label_lut)

    def element(index):
        image, label, record_id = _decode_normalised(records, index, lut, mean_bgr)
        size = tf.shape(image)[:2]
        label = tf.cast(label[..., 0], tf.int32)
        if pad_to is None:
            return image, label, size[0], size[1], record_id, index
        message = describe(
            "record ", record_id, ": image is ", size[0], "x", size[1], " (height x width), "
            f"larger than {binding} = {pad_to}; raise the `{binding}` binding to at least the "
            "largest image side, or set it to None (native size)")
        check = tf.debugging.Assert(tf.reduce_all(size <= pad_to), [message])
        with tf.control_dependencies([check]):
            image, label = pad_bottom_right(image, label[..., None], pad_to, pad_to)
        return (tf.ensure_shape(image, [pad_to, pad_to, 3]),
                tf.ensure_shape(label[..., 0], [pad_to, pad_to]),
                size[0], size[1], record_id, index)

    return tf.data.Dataset.from_tensor_slices(index_table).map(
        element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _batched(images: tf.data.Dataset, batch_size: int, native: bool) -> tf.data.Dataset:
    """Batches of `batch_size`; at native size only images of one size share a batch."""
    if not native or batch_size == 1:
        return images.batch(batch_size)

    def size_key(image, label, height, width, *_):
        return tf.cast(height, tf.int64) * 65536 + tf.cast(width, tf.int64)

    return images.group_by_window(size_key, lambda _, window: window.batch(batch_size),
                                  window_size=batch_size)


def eval_dataset(records: EncodedRecords, indices: Sequence[int], label_lut: np.ndarray, *,
                 pad_to: int | None = None, batch_size: int = 1,
                 mean_bgr=DEFAULT_MEAN_BGR) -> tf.data.Dataset:
    """Full-resolution (image, label) batches, each image at its own size by default.

    With SAME padding the stride-2 offsets depend on the input size, so an image evaluated
    inside a larger canvas gets a shifted feature grid; native size is what the original
    measures (batch 1, full resolution). `pad_to` pads every image to [pad_to, pad_to]
    (label 255, never counted) for fixed shapes. At native size a batch holds images of one
    size only, so its order may differ from `indices` (a confusion matrix does not care).
    """
    if batch_size < 1:
        raise ValueError(f"eval_dataset batch_size = {batch_size}; expected >= 1")
    images = _full_images(records, indices, label_lut, pad_to, mean_bgr, "eval_dataset")
    images = _batched(images, batch_size, native=pad_to is None)
    return images.map(lambda image, label, *_: (image, label)).prefetch(tf.data.AUTOTUNE)


def decode_for_inference(records: EncodedRecords, indices: Sequence[int], *,
                         pad_to: int | None = None, mean_bgr=DEFAULT_MEAN_BGR,
                         batch_size: int = 1) -> tf.data.Dataset:
    """Batches of (image, height, width, id, serialized) for labelling stages, in index order.

    Images keep their own size unless `pad_to` is given (then batch_size may exceed 1); a
    labelling stage crops the prediction back to (height, width) and writes a new record that
    keeps the original image bytes (`serialized` is the untouched source record).
    """
    if pad_to is None and batch_size != 1:
        raise ValueError(f"decode_for_inference batch_size = {batch_size} at native size; "
                         "images of different sizes cannot share a batch: use 1 or set pad_to")
    identity = np.arange(256, dtype=np.uint8)
    images = _full_images(records, indices, identity, pad_to, mean_bgr, "decode_for_inference")

    def element(image, label, height, width, record_id, index):
        return image, height, width, record_id, records.gather(index)

    return images.map(element).batch(batch_size).prefetch(tf.data.AUTOTUNE)
