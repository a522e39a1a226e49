"""Import the original RECALL archive's labelled data as our `train` and `val` record sets.

    python -m continual.data.recall_original --data <original data/ folder> --out <data dir>

The original ships per-step TFRecords with features `input` (JPEG bytes) and `label` (PNG):
`training_first_step/*.tfrecord`, `training_incremental/*.tfrecord` (its generated `mixed/`
folder is skipped) and `validation/val_*.tfrecord`. One image appears in several step files,
and each file labels only the classes of its step (other classes written as 0), so images are
deduplicated by content and their labels merged: a pixel takes the class any file gives it
(two different classes on one pixel is an error), else void if marked so, else background.
Ids are derived from the image bytes (`orig_<sha256 prefix>`). An image in both train and
val is refused (validation data must not be trained on). Replay images
(`replay_images/<source>/NN.tfrecord`) become replay folders with
`python -m continual.replay.import_folders original_archive`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from continual.data.classes import IGNORE_LABEL
from continual.data.records import Record, label_classes
from continual.data.shards import RecordWriter
from continual.errors import InputError, reports_input_errors

TRAIN_FOLDERS = ("training_first_step", "training_incremental")
VAL_FOLDER = "validation"


class OriginalArchiveError(InputError):
    """A missing or inconsistent file of the original archive; names the file and the fix."""


def record_files(data_dir: Path, folders: tuple[str, ...]) -> list[Path]:
    """The `.tfrecord` files directly under each folder that exists (not `mixed/`), sorted."""
    present = [data_dir / name for name in folders if (data_dir / name).is_dir()]
    if not present:
        wanted = " or ".join(folders)
        raise OriginalArchiveError(f"{data_dir / folders[0]}: folder not found; expected the "
                                   f"original archive's data/ folder holding {wanted}")
    files = []
    for folder in present:
        files += sorted(folder.glob("*.tfrecord"))
    if not files:
        raise OriginalArchiveError(f"{data_dir}: no .tfrecord files under {folders}")
    return files


def read_examples(path: Path) -> list[tuple[bytes, bytes | None]]:
    """(image bytes, label bytes or None) of every Example in one original TFRecord file."""
    out = []
    for index, raw in enumerate(tf.data.TFRecordDataset(str(path)).as_numpy_iterator()):
        feats = tf.train.Example.FromString(raw).features.feature
        if "input" not in feats or not feats["input"].bytes_list.value:
            raise OriginalArchiveError(f"{path} record {index}: no 'input' feature (image)")
        label = feats["label"].bytes_list.value if "label" in feats else []
        out.append((feats["input"].bytes_list.value[0], label[0] if label else None))
    return out


def merge_labels(first: np.ndarray, second: np.ndarray, where: str) -> np.ndarray:
    """One label from two files' labels of the same image (see the module docstring)."""
    if first.shape != second.shape:
        raise OriginalArchiveError(f"{where}: labels of one image differ in size "
                                   f"{first.shape} vs {second.shape}")
    def is_class(a):
        return (a > 0) & (a != IGNORE_LABEL)
    clash = is_class(first) & is_class(second) & (first != second)
    if clash.any():
        raise OriginalArchiveError(f"{where}: two files give one pixel different classes "
                                   f"({int(first[clash][0])} vs {int(second[clash][0])})")
    merged = np.where(is_class(first), first, second)
    both_void = (first == IGNORE_LABEL) | (second == IGNORE_LABEL)
    return np.where(~is_class(merged) & both_void, IGNORE_LABEL, merged).astype(np.uint8)


def collect(files: list[Path]) -> dict[str, tuple[bytes, np.ndarray]]:
    """image id -> (image bytes, merged label) over every file."""
    images: dict[str, tuple[bytes, np.ndarray]] = {}
    for path in files:
        for index, (image, label) in enumerate(read_examples(path)):
            if label is None:
                raise OriginalArchiveError(f"{path} record {index}: no 'label' feature; "
                                           "training and validation files are labelled")
            image_id = "orig_" + hashlib.sha256(image).hexdigest()[:16]
            array = np.array(Image.open(io.BytesIO(label)))
            if image_id in images:
                array = merge_labels(images[image_id][1], array, f"{path} record {index}")
            images[image_id] = (image, array)
    return images


def _encode_png(label: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(label, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def write_set(out_dir: Path, name: str, images: dict, files: list[Path]) -> dict:
    source = {"dataset": "recall-original", "files": [str(f) for f in files]}
    with RecordWriter(out_dir, name, source=source) as writer:
        for image_id in sorted(images):
            image, label = images[image_id]
            writer.write(Record(image=image, label=_encode_png(label), image_id=image_id,
                                height=label.shape[0], width=label.shape[1],
                                classes=label_classes(label)))
    writer.close()
    return {"images": len(images), "files": len(files)}


def convert_original(data_dir: str | Path, out_dir: str | Path) -> dict:
    """Write `<out_dir>/train` and `<out_dir>/val` from the archive's data folder."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    train_files = record_files(data_dir, TRAIN_FOLDERS)
    val_files = record_files(data_dir, (VAL_FOLDER,))
    train, val = collect(train_files), collect(val_files)
    leaked = sorted(set(train) & set(val))
    if leaked:
        raise OriginalArchiveError(f"{data_dir}: {len(leaked)} image(s) are in both training "
                                   f"and validation files (e.g. {leaked[0]}); remove them from "
                                   "the training files")
    return {"train": write_set(out_dir, "train", train, train_files),
            "val": write_set(out_dir, "val", val, val_files)}


@reports_input_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m continual.data.recall_original",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the original archive's data/ folder")
    parser.add_argument("--out", required=True, help="data folder for our train and val sets")
    args = parser.parse_args(argv)
    summary = convert_original(args.data, args.out)
    for name, counts in summary.items():
        print(f"{name}: {counts['images']} images from {counts['files']} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
