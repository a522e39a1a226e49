import gzip

import numpy as np
import pytest

from continual.data.classification import decoded_images, record_labels
from continual.data.idx import IMAGES_MAGIC, LABELS_MAGIC, convert_idx, main
from continual.data.records import RecordError
from continual.data.shards import open_record_set

IMAGES = np.arange(7 * 5 * 4, dtype=np.uint8).reshape(7, 5, 4) * 3  # distinct pixels per image
LABELS = np.array([3, 0, 9, 1, 1, 4, 2], np.uint8)


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


@pytest.fixture
def pair(tmp_path):
    """A gzipped images file and a raw labels file, as Debian and the MNIST site ship them."""
    images, labels = tmp_path / "images-idx3-ubyte.gz", tmp_path / "labels-idx1-ubyte"
    images.write_bytes(gzip.compress(idx_bytes(IMAGES, IMAGES_MAGIC), mtime=0))
    labels.write_bytes(idx_bytes(LABELS, LABELS_MAGIC))
    return images, labels


def test_round_trip_keeps_pixels_labels_and_order(pair, tmp_path):
    summary = convert_idx(*pair, "train", tmp_path / "out", class_names=None)
    manifest = open_record_set(tmp_path / "out", "train")
    assert manifest.num_classes == 10  # largest label 9 + 1, and never fewer than ten
    assert manifest.image_shape == (5, 4, 1)
    assert manifest.record_ids()[:2] == ["train_00000", "train_00001"]
    np.testing.assert_array_equal(record_labels(manifest), LABELS)
    np.testing.assert_array_equal(decoded_images(manifest)[..., 0], IMAGES)
    assert summary["class_counts"] == {0: 1, 1: 2, 2: 1, 3: 1, 4: 1, 9: 1}
    assert manifest.data["class_names"] == [str(c) for c in range(10)]


def test_class_names_and_inferred_class_count(tmp_path):
    labels = tmp_path / "labels"
    labels.write_bytes(idx_bytes(np.array([0, 11, 2], np.uint8), LABELS_MAGIC))
    images = tmp_path / "images"
    images.write_bytes(idx_bytes(IMAGES[:3], IMAGES_MAGIC))
    convert_idx(images, labels, "test", tmp_path / "a")
    assert open_record_set(tmp_path / "a", "test").num_classes == 12
    names = [f"c{i}" for i in range(12)]
    convert_idx(images, labels, "test", tmp_path / "b", class_names=names)
    assert open_record_set(tmp_path / "b", "test").data["class_names"] == names


def test_deterministic_and_gzip_is_detected_by_content(pair, tmp_path):
    first = convert_idx(*pair, "train", tmp_path / "one")
    second = convert_idx(*pair, "train", tmp_path / "two")
    raw = tmp_path / "plain_images.gz"  # a misleading name: the bytes are not gzipped
    raw.write_bytes(idx_bytes(IMAGES, IMAGES_MAGIC))
    third = convert_idx(raw, pair[1], "train", tmp_path / "three")
    assert first["content_hash"] == second["content_hash"] == third["content_hash"]


def test_same_input_is_skipped_and_new_options_rewrite(pair, tmp_path):
    assert not convert_idx(*pair, "train", tmp_path)["skipped"]
    assert convert_idx(*pair, "train", tmp_path)["skipped"]
    again = convert_idx(*pair, "train", tmp_path, num_classes=11)
    assert not again["skipped"] and "num_classes" in again["reason"]
    assert open_record_set(tmp_path, "train").num_classes == 11


def test_swapped_files_are_refused_naming_the_file(pair, tmp_path):
    images, labels = pair
    with pytest.raises(RecordError, match=f"{labels}: magic number 0x00000801.*looks like an IDX "
                                          "labels file"):
        convert_idx(labels, images, "train", tmp_path / "out")


def test_truncated_file_is_refused(pair, tmp_path):
    cut = tmp_path / "cut-images"
    cut.write_bytes(idx_bytes(IMAGES, IMAGES_MAGIC)[:-3])
    with pytest.raises(RecordError, match=f"{cut}: holds 137 bytes of data but its header's dims "
                                          r"\[7, 5, 4\] need 140"):
        convert_idx(cut, pair[1], "train", tmp_path / "out")


def test_corrupt_gzip_is_refused(pair, tmp_path):
    broken = tmp_path / "broken.gz"
    broken.write_bytes(pair[0].read_bytes()[:20])
    with pytest.raises(RecordError, match=f"{broken}: gzip data is corrupt"):
        convert_idx(broken, pair[1], "train", tmp_path / "out")


def test_count_mismatch_names_both_files(pair, tmp_path):
    labels = tmp_path / "six-labels"
    labels.write_bytes(idx_bytes(LABELS[:6], LABELS_MAGIC))
    with pytest.raises(RecordError, match=f"{pair[0]} holds 7 images but {labels} holds 6"):
        convert_idx(pair[0], labels, "train", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_label_out_of_range_and_bad_names(pair, tmp_path):
    with pytest.raises(RecordError, match=f"{pair[1]}: label 3 at index 0 is out of range 0..2"):
        convert_idx(*pair, "train", tmp_path, num_classes=3)
    with pytest.raises(ValueError, match="--class_names lists 2 names but --num_classes is 10"):
        convert_idx(*pair, "train", tmp_path, num_classes=10, class_names=["a", "b"])


def test_cli_writes_and_reports_errors_with_exit_code_2(pair, tmp_path, capsys):
    assert main(["--images", str(pair[0]), "--labels", str(pair[1]), "--split", "test",
                 "--out", str(tmp_path / "out"), "--class_names",
                 "zero,one,two,three,four,five,six,seven,eight,nine"]) == 0
    assert open_record_set(tmp_path / "out", "test").data["class_names"][9] == "nine"
    missing = tmp_path / "nope.gz"
    assert main(["--images", str(missing), "--labels", str(pair[1]), "--split", "test",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(missing) in err
