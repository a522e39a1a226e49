"""Convert an MNIST-family IDX pair (images + labels) into one classification record set.

    python -m continual.data.idx --images train-images-idx3-ubyte.gz \\
        --labels train-labels-idx1-ubyte.gz --split train --out data/mnist \\
        [--num_classes N] [--class_names a,b,...]

Reads MNIST, Fashion-MNIST, KMNIST and any other uint8 IDX pair, gzipped (found by the gzip
magic bytes, not the name) or raw. Images are stored grey (one channel), in file order, with
ids `<split>_00000`, .... Both headers are checked against the file lengths and against each
other before anything is written; a set whose manifest records the same input hashes and
options is skipped.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from continual.data.classification import ClassificationSample, write_classification_set
from continual.data.manifest import sha256_file
from continual.data.records import RecordError
from continual.data.shards import open_record_set
from continual.data.synthetic import existing_set
from continual.errors import InputError, reports_input_errors

CONVERTER_VERSION = 1
IMAGES_MAGIC = 0x00000803  # uint8, 3 dims [N, H, W]
LABELS_MAGIC = 0x00000801  # uint8, 1 dim [N]
KINDS = {IMAGES_MAGIC: "an IDX images file (uint8 [N, H, W])",
         LABELS_MAGIC: "an IDX labels file (uint8 [N])"}
MIN_CLASSES = 10  # the MNIST family has ten classes even when a small file lacks some


def read_idx(path: str | os.PathLike, magic: int) -> np.ndarray:
    """The uint8 array of an IDX file whose header must carry `magic`; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist; pass the path of {KINDS[magic]}")
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise RecordError(f"{path}: gzip data is corrupt ({err}); download it again") from err
    if len(data) < 4:
        raise RecordError(f"{path}: {len(data)} bytes is too short for an IDX header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        hint = f"; it looks like {KINDS[found]}, check --images/--labels" if found in KINDS else ""
        raise RecordError(f"{path}: magic number 0x{found:08x}, expected 0x{magic:08x} for "
                          f"{KINDS[magic]}{hint}")
    ndim = magic & 0xFF
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise RecordError(f"{path}: the header is truncated ({len(data)} bytes)")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    if len(data) - offset != int(np.prod(dims)):
        raise RecordError(f"{path}: holds {len(data) - offset} bytes of data but its header's "
                          f"dims {dims} need {int(np.prod(dims))} (truncated or not IDX)")
    return np.frombuffer(data, np.uint8, offset=offset).reshape(dims)


def _class_setup(labels: np.ndarray, labels_path: Path, num_classes: int | None,
                 class_names: Sequence[str] | None) -> tuple[int, list[str]]:
    """(num_classes, names): explicit values checked against the labels, else inferred."""
    if num_classes is None:
        num_classes = len(class_names) if class_names else max(int(labels.max()) + 1, MIN_CLASSES)
    names = list(class_names) if class_names else [str(c) for c in range(num_classes)]
    if len(names) != num_classes:
        raise InputError(f"--class_names lists {len(names)} names but --num_classes is "
                         f"{num_classes}; give one name per class")
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        raise RecordError(f"{labels_path}: label {int(labels[bad[0]])} at index {int(bad[0])} is "
                          f"out of range 0..{num_classes - 1}; raise --num_classes")
    return num_classes, names


def _samples(images: np.ndarray, labels: np.ndarray, split: str,
             images_path: Path) -> Iterator[ClassificationSample]:
    digits = max(5, len(str(len(images) - 1)))
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        yield ClassificationSample(image[..., None], int(label), f"{split}_{index:0{digits}d}",
                                   where=f"{images_path} image {index}")


def convert_idx(images: str | os.PathLike, labels: str | os.PathLike, split: str,
                out_dir: str | os.PathLike, num_classes: int | None = None,
                class_names: Sequence[str] | None = None,
                records_per_shard: int = 2000) -> dict:
    """Write (or reuse) record set `split` in `out_dir` from an IDX pair; returns a summary."""
    images_path, labels_path = Path(images), Path(labels)
    image_array = read_idx(images_path, IMAGES_MAGIC)
    label_array = read_idx(labels_path, LABELS_MAGIC)
    if len(image_array) != len(label_array):
        raise RecordError(f"{images_path} holds {len(image_array)} images but {labels_path} "
                          f"holds {len(label_array)} labels; pass files of the same split")
    if not len(image_array):
        raise RecordError(f"{images_path}: holds no images")
    num_classes, names = _class_setup(label_array, labels_path, num_classes, class_names)
    source = {"dataset": "idx", "converter_version": CONVERTER_VERSION,
              "images_sha256": sha256_file(images_path), "labels_sha256": sha256_file(labels_path),
              "num_classes": num_classes, "class_names": names,
              "records_per_shard": records_per_shard}
    manifest, reason = existing_set(Path(out_dir), split, source)
    skipped = manifest is not None
    if not skipped:
        write_classification_set(out_dir, split, _samples(image_array, label_array, split,
                                                          images_path),
                                 num_classes=num_classes, class_names=names, source=source,
                                 records_per_shard=records_per_shard)
        manifest = open_record_set(out_dir, split)
    return {"manifest": str(manifest.path), "num_images": manifest.num_records,
            "image_shape": list(manifest.image_shape), "class_counts": manifest.class_counts(),
            "content_hash": manifest.content_hash, "skipped": skipped,
            "reason": reason}


@reports_input_errors
def main(argv: list[str] | None = None) -> int:
    """CLI entry point; prints `error: ...` (no traceback) and returns 2 on bad input."""
    parser = argparse.ArgumentParser(prog="python -m continual.data.idx", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True, help="IDX images file (.gz or raw)")
    parser.add_argument("--labels", required=True, help="IDX labels file (.gz or raw)")
    parser.add_argument("--split", required=True, help="record set name, e.g. train or test")
    parser.add_argument("--out", required=True, help="data folder to write the set into")
    parser.add_argument("--num_classes", type=int, default=None,
                        help="default: largest label + 1, at least 10")
    parser.add_argument("--class_names", default=None, help="comma-separated, one per class")
    parser.add_argument("--records_per_shard", type=int, default=2000)
    args = parser.parse_args(argv)
    names = args.class_names.split(",") if args.class_names else None
    summary = convert_idx(args.images, args.labels, args.split, args.out, args.num_classes,
                          names, args.records_per_shard)
    status = "up to date, skipped" if summary["skipped"] else "written"
    print(f"{args.split}: {summary['num_images']} images {summary['image_shape']} {status} "
          f"({summary['manifest']})")
    print("images per class: " + ", ".join(f"{c}: {n}" for c, n in
                                           sorted(summary["class_counts"].items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
