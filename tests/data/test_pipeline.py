import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from continual.data.pipeline import (
    DEFAULT_MEAN_BGR,
    EncodedRecords,
    decode_for_inference,
    decode_image_and_label,
    eval_dataset,
    normalize_image,
    train_dataset,
    train_stream,
)
from continual.data.records import Record, encode_record, label_classes
from continual.data.shards import RecordWriter, open_record_set

IDENTITY = np.arange(256, dtype=np.uint8)
SIZES = [(20, 30), (40, 24), (33, 33), (21, 40), (28, 20)]


def encode(array: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def random_image(rng, height: int, width: int) -> np.ndarray:
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def block_label(rng, height: int, width: int) -> np.ndarray:
    """Vertical stripes of values 0..3 plus a void (255) corner."""
    label = (np.arange(width)[None, :] * 4 // width).repeat(height, 0).astype(np.uint8)
    label[:3, :3] = 255
    return label


def write_records(directory, name: str, images, labels, fmt: str = "PNG") -> EncodedRecords:
    """Write a record set with RecordWriter and load it back as EncodedRecords."""
    with RecordWriter(directory, name, records_per_shard=3) as writer:
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            writer.write(Record(
                image=encode(image, fmt), label=None if label is None else encode(label, "PNG"),
                image_id=f"{name}_{i:03d}", height=image.shape[0], width=image.shape[1],
                classes=() if label is None else label_classes(label)))
    return EncodedRecords.from_manifest(open_record_set(directory, name))


def index_records(directory, count: int, size=(20, 28)) -> EncodedRecords:
    """Records whose label is constant = their index, so a crop names its record."""
    rng = np.random.default_rng(1)
    images = [random_image(rng, *size) for _ in range(count)]
    labels = [np.full(size, i, np.uint8) for i in range(count)]
    return write_records(directory, "indexed", images, labels)


def take(dataset: tf.data.Dataset, count: int) -> list:
    return list(dataset.take(count).as_numpy_iterator())


def test_normalize_image_swaps_to_bgr_and_subtracts_the_mean():
    rgb = tf.constant([[[[10, 20, 30]]]], tf.uint8)  # [1, 1, 1, 3]
    out = normalize_image(rgb).numpy()
    expected = np.array([30, 20, 10]) - np.array(DEFAULT_MEAN_BGR)
    assert out.dtype == np.float32 and out.shape == (1, 1, 1, 3)
    np.testing.assert_allclose(out[0, 0, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(normalize_image(rgb, (1.0, 2.0, 3.0)).numpy()[0, 0, 0],
                               [29.0, 18.0, 7.0])


def test_decode_jpeg_png_and_unlabelled(tmp_path):
    rng = np.random.default_rng(0)
    image = random_image(rng, 21, 33)
    label = block_label(rng, 21, 33)
    jpeg = Record(encode(image, "JPEG"), encode(label, "PNG"), "a", 21, 33)
    png_unlabelled = Record(encode(image, "PNG"), None, "b", 21, 33)
    img, lab = decode_image_and_label(tf.constant(encode_record(jpeg)))
    assert img.dtype == tf.uint8 and img.shape == (21, 33, 3)
    np.testing.assert_array_equal(lab.numpy()[..., 0], label)
    img, lab = decode_image_and_label(tf.constant(encode_record(png_unlabelled)))
    np.testing.assert_array_equal(img.numpy(), image)
    assert lab.shape == (21, 33, 1) and lab.dtype == tf.uint8
    assert np.all(lab.numpy() == 255)


def test_train_stream_shapes_and_determinism(tmp_path):
    records = index_records(tmp_path, 5)
    stream = train_stream(records, range(5), IDENTITY, crop_size=16, seed=3)
    first = take(stream, 6)
    image, label = first[0]
    assert image.shape == (16, 16, 3) and image.dtype == np.float32
    assert label.shape == (16, 16) and label.dtype == np.int32
    again = take(train_stream(records, range(5), IDENTITY, crop_size=16, seed=3), 6)
    other = take(train_stream(records, range(5), IDENTITY, crop_size=16, seed=4), 6)
    for (a_img, a_lab), (b_img, b_lab) in zip(first, again, strict=True):
        np.testing.assert_array_equal(a_img, b_img)
        np.testing.assert_array_equal(a_lab, b_lab)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, other, strict=True))


def test_start_resumes_exactly_across_an_epoch_boundary(tmp_path):
    records = index_records(tmp_path, 5)
    kwargs = dict(crop_size=16, seed=7)
    full = take(train_stream(records, range(5), IDENTITY, **kwargs), 10)
    resumed = take(train_stream(records, range(5), IDENTITY, start=3, **kwargs), 7)
    for (a_img, a_lab), (b_img, b_lab) in zip(full[3:], resumed, strict=True):
        np.testing.assert_array_equal(a_img, b_img)
        np.testing.assert_array_equal(a_lab, b_lab)
    batches = take(train_dataset(records, range(5), IDENTITY, batch_size=2, **kwargs), 5)
    tail = take(train_dataset(records, range(5), IDENTITY, batch_size=2, start_batch=2,
                              **kwargs), 3)
    assert batches[0][0].shape == (2, 16, 16, 3)
    for (a_img, _), (b_img, _) in zip(batches[2:], tail, strict=True):
        np.testing.assert_array_equal(a_img, b_img)


def test_every_index_visited_once_per_epoch(tmp_path):
    records = index_records(tmp_path, 8)
    indices = [1, 3, 4, 6, 7]
    stream = train_stream(records, indices, IDENTITY, crop_size=32, scale_range=(1, 1), seed=2)
    visited = [int(np.setdiff1d(np.unique(label), [255])[0]) for _, label in take(stream, 15)]
    epochs = [visited[i:i + 5] for i in (0, 5, 10)]
    for epoch in epochs:
        assert sorted(epoch) == indices
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]


def test_labels_stay_in_lut_outputs_and_lut_is_applied(tmp_path):
    rng = np.random.default_rng(3)
    images = [random_image(rng, h, w) for h, w in SIZES]
    records = write_records(tmp_path, "blocks", images, [block_label(rng, h, w) for h, w in SIZES])
    lut = np.full(256, 255, np.uint8)
    lut[[0, 1, 2, 3]] = [0, 11, 12, 13]
    seen = set()
    for _, label in take(train_stream(records, range(5), lut, crop_size=24, seed=5), 30):
        seen |= set(np.unique(label).tolist())
    assert seen <= {0, 11, 12, 13, 255}
    assert {0, 11, 12, 13} <= seen


def test_padding_flip_and_pixel_values(tmp_path):
    rng = np.random.default_rng(4)
    images = [random_image(rng, h, w) for h, w in SIZES]
    labels = [block_label(rng, h, w) for h, w in SIZES]
    records = write_records(tmp_path, "pad", images, labels)
    stream = train_stream(records, range(5), IDENTITY, crop_size=48, scale_range=(1, 1), seed=1)
    flips = []
    for image, label in take(stream, 15):
        rows, cols = np.nonzero(label != 255)
        h, w = rows.max() + 1, cols.max() + 1
        source = SIZES.index((h, w))
        assert np.all(image[h:] == 0) and np.all(image[:, w:] == 0)
        expected = normalize_image(images[source]).numpy()
        flipped = np.allclose(image[:h, :w], expected[:, ::-1], atol=1e-4)
        assert flipped or np.allclose(image[:h, :w], expected, atol=1e-4)
        np.testing.assert_array_equal(label[:h, :w], labels[source][:, ::-1] if flipped
                                      else labels[source])
        flips.append(flipped)
    assert any(flips) and not all(flips)


def test_crop_is_a_window_of_the_image_at_varying_offsets(tmp_path):
    rng = np.random.default_rng(7)
    image = random_image(rng, 20, 28)
    records = write_records(tmp_path, "one", [image], [block_label(rng, 20, 28)])
    expected = normalize_image(image).numpy()
    offsets = set()
    stream = train_stream(records, [0], IDENTITY, crop_size=16, scale_range=(1, 1), seed=9)
    for crop, _ in take(stream, 12):
        found = [(flip, y, x) for flip in (False, True) for y in range(5) for x in range(13)
                 if np.allclose(crop, (expected[:, ::-1] if flip else expected)[y:y + 16, x:x + 16],
                                atol=1e-4)]
        assert len(found) == 1
        offsets.add(found[0])
    assert len(offsets) > 6


def test_eval_dataset_pads_to_fixed_shape_and_masks_padding(tmp_path):
    rng = np.random.default_rng(5)
    images = [random_image(rng, h, w) for h, w in SIZES]
    labels = [block_label(rng, h, w) for h, w in SIZES]
    records = write_records(tmp_path, "val", images, labels)
    lut = IDENTITY.copy()
    lut[3] = 255
    batches = take(eval_dataset(records, [4, 0, 2], lut, pad_to=40), 3)
    for (image, label), source in zip(batches, [4, 0, 2], strict=True):
        h, w = SIZES[source]
        assert image.shape == (1, 40, 40, 3) and label.shape == (1, 40, 40)
        np.testing.assert_allclose(image[0, :h, :w], normalize_image(images[source]), atol=1e-4)
        np.testing.assert_array_equal(label[0, :h, :w], lut[labels[source]])
        assert np.all(label[0, h:] == 255) and np.all(label[0, :, w:] == 255)
        assert np.all(image[0, h:] == 0)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"val_001: image is 40x24.*eval_dataset\.pad_to = 36"):
        take(eval_dataset(records, [0, 1], IDENTITY, pad_to=36), 2)


def test_decode_for_inference_keeps_original_bytes(tmp_path):
    rng = np.random.default_rng(6)
    images = [random_image(rng, h, w) for h, w in SIZES[:2]]
    records = write_records(tmp_path, "replay", images, [None, None], fmt="JPEG")
    serialized = open_record_set(tmp_path, "replay")
    (image, height, width, record_id, raw), = take(
        decode_for_inference(records, [1], pad_to=40), 1)
    assert image.shape == (1, 40, 40, 3)
    assert (height[0], width[0], record_id[0]) == (40, 24, b"replay_001")
    assert raw[0] == records.gather(1).numpy()
    assert serialized.record_ids()[1] == "replay_001"


def test_bad_arguments_name_the_binding(tmp_path):
    records = index_records(tmp_path, 3)
    with pytest.raises(ValueError, match=r"indices \[3\] are outside 0\.\.2"):
        train_stream(records, [0, 3], IDENTITY)
    with pytest.raises(ValueError, match="train_stream.scale_range"):
        train_stream(records, [0], IDENTITY, scale_range=(0, 1))
    with pytest.raises(ValueError, match="label_lut must hold 256 values"):
        eval_dataset(records, [0], IDENTITY[:10], pad_to=32)


def test_eval_dataset_keeps_each_image_at_its_own_size_by_default(tmp_path):
    rng = np.random.default_rng(6)
    sizes = [(20, 30), (40, 24), (20, 30), (33, 33)]
    images = [random_image(rng, h, w) for h, w in sizes]
    labels = [block_label(rng, h, w) for h, w in sizes]
    records = write_records(tmp_path, "val", images, labels)
    single = take(eval_dataset(records, [1, 3], IDENTITY), 2)
    assert [tuple(label.shape) for _, label in single] == [(1, 40, 24), (1, 33, 33)]
    np.testing.assert_array_equal(single[0][1][0], labels[1])
    # batch 2 at native size: only images of one size share a batch, none is left out
    batches = take(eval_dataset(records, [0, 1, 2, 3], IDENTITY, batch_size=2), 3)
    shapes = sorted(tuple(label.shape) for _, label in batches)
    assert shapes == [(1, 33, 33), (1, 40, 24), (2, 20, 30)]


def test_helper_streams_label_crop_padding_as_background_as_the_original(tmp_path):
    """Issue 12 item 2: a helper decoder's crop padding counts as background, not void."""
    from continual.data.splits import helper_label_map
    rng = np.random.default_rng(4)
    label = np.full((20, 28), 7, np.uint8)
    label[:4, :4] = 255
    records = write_records(tmp_path, "t", [random_image(rng, 20, 28)], [label])
    stream = train_stream(records, [0], helper_label_map((7,)), crop_size=48,
                          scale_range=(1.0, 1.0), crop_pad_label=0)
    _, helper = next(iter(stream))
    assert set(np.unique(helper.numpy())) == {0, 1}            # void and padding are background
    assert int(np.sum(helper.numpy() == 1)) == 20 * 28 - 16    # the class keeps its pixels
    _, segmenter = next(iter(train_stream(records, [0], IDENTITY, crop_size=48,
                                          scale_range=(1.0, 1.0))))
    assert int(np.sum(segmenter.numpy() == 255)) == 48 * 48 - 20 * 28 + 16
