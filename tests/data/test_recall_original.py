"""Importing the original RECALL archive (issue 12, item 11): a small archive in its layout."""

import hashlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from continual.data.recall_original import OriginalArchiveError, convert_original
from continual.data.shards import iterate_records, open_record_set

REPO = Path(__file__).resolve().parents[2]


def encoded(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def photo(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (12, 16, 3), np.uint8)
    return encoded(pixels, "JPEG")


def label(*blocks: tuple[int, int]) -> np.ndarray:
    """Background with a void top row and class `c` in columns [4k, 4k+4) for (k, c) blocks."""
    array = np.zeros((12, 16), np.uint8)
    array[0] = 255
    for k, cls in blocks:
        array[2:, 4 * k:4 * k + 4] = cls
    return array


def write_file(path: Path, samples) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for image, lab in samples:
            feature = {"input": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))}
            if lab is not None:   # a label array, or PNG bytes as they are
                png = lab if isinstance(lab, bytes) else encoded(lab, "PNG")
                feature["label"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[png]))
            writer.write(tf.train.Example(
                features=tf.train.Features(feature=feature)).SerializeToString())


def archive(root: Path) -> Path:
    """Step files as the original writes them: each labels only its own step's classes."""
    data = root / "data"
    first, inc = data / "training_first_step", data / "training_incremental"
    write_file(first / "train_overlapped_1-15.tfrecord",
               [(photo(0), label((0, 3))), (photo(1), label((1, 15)))])
    write_file(inc / "train_overlapped_16-20.tfrecord",
               [(photo(0), label((2, 16))), (photo(2), label((0, 20)))])   # photo 0 again
    write_file(inc / "mixed" / "train_overlapped_16-20_P1.0.0.2.tfrecord",
               [(photo(9), label((0, 1)))])                                 # generated: skipped
    write_file(data / "validation" / "val_3.tfrecord", [(photo(5), label((0, 3)))])
    write_file(data / "validation" / "val_16.tfrecord", [(photo(6), label((3, 16)))])
    write_file(data / "replay_images" / "gan" / "01.tfrecord", [(photo(7), None)] * 2)
    return data


def test_archive_converts_to_deduplicated_sets_with_merged_labels(tmp_path):
    convert_original(archive(tmp_path), tmp_path / "out")
    train = {r.image_id: r for r in iterate_records(open_record_set(tmp_path / "out", "train"))}
    first = "orig_" + hashlib.sha256(photo(0)).hexdigest()[:16]
    assert len(train) == 3 and first in train                 # photo 0 once; mixed/ skipped
    merged = np.array(Image.open(io.BytesIO(train[first].label)))
    np.testing.assert_array_equal(merged, label((0, 3), (2, 16)))   # both steps' classes
    assert train[first].classes == (0, 3, 16) and train[first].image == photo(0)
    val = open_record_set(tmp_path / "out", "val")
    assert val.num_records == 2


def test_conflicting_labels_and_val_images_in_training_are_refused(tmp_path):
    data = archive(tmp_path)
    write_file(data / "training_first_step" / "train_sequential_1-15.tfrecord",
               [(photo(0), label((0, 4)))])                   # same pixels, another class
    with pytest.raises(OriginalArchiveError, match=r"one pixel different classes \(3 vs 4\)"):
        convert_original(data, tmp_path / "out")
    (data / "training_first_step" / "train_sequential_1-15.tfrecord").unlink()
    write_file(data / "training_incremental" / "train_sequential_5.tfrecord",
               [(photo(5), label((0, 3)))])                   # a validation image
    with pytest.raises(OriginalArchiveError, match="both training and validation"):
        convert_original(data, tmp_path / "out")


def test_cli_reports_counts_and_names_a_missing_folder(tmp_path):
    data = archive(tmp_path)
    run = [sys.executable, "-m", "continual.data.recall_original", "--data"]
    good = subprocess.run([*run, str(data), "--out", str(tmp_path / "out")], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    assert "train: 3 images from 2 files" in good.stdout
    bad = subprocess.run([*run, str(tmp_path), "--out", str(tmp_path / "o2")], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "training_first_step: folder not found" in bad.stderr
