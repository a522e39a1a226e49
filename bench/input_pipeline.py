"""Input-pipeline throughput: training images/s for sequential vs parallel decode + augment.

Builds two record sets in a temporary folder: the embedded synthetic dataset (`--size` px) and a
VOC-sized set (`--voc_images` random-content 500x375 JPEGs with PNG labels), then times
`train_dataset` after a warm-up, for `num_parallel_calls` = 1 and AUTOTUNE, and prints a
markdown table. It asserts nothing; numbers depend on the machine and its load.

Usage: python bench/input_pipeline.py [--num_images 512] [--size 64] [--batch 4] [--seconds 10]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from continual.data.pipeline import EncodedRecords, train_dataset
from continual.data.records import Record, label_classes
from continual.data.shards import RecordWriter, open_record_set
from continual.data.synthetic import generate_synthetic

VOC_SIZE = (375, 500)  # height, width of a typical Pascal VOC image
IDENTITY_LUT = np.arange(256, dtype=np.uint8)
WARMUP_BATCHES = 10


def _encode(array: np.ndarray, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **options)
    return buf.getvalue()


def voc_like_example(rng: np.random.Generator, height: int, width: int):
    """A photo-like image (smooth colour field plus noise, so JPEG sizes resemble VOC's) and a
    label of a few class rectangles with a void outline."""
    coarse = rng.uniform(0, 255, (height // 25 + 1, width // 25 + 1, 3)).astype(np.uint8)
    field = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BILINEAR))
    noise = rng.normal(0, 12, (height, width, 3))
    image = np.clip(field + noise, 0, 255).astype(np.uint8)
    label = np.zeros((height, width), np.uint8)
    for class_id in rng.choice(np.arange(1, 21), size=3, replace=False):
        top, left = rng.integers(0, height - 60), rng.integers(0, width - 60)
        bottom, right = top + rng.integers(40, 200), left + rng.integers(40, 250)
        label[top:bottom, left:right] = 255
        label[top + 2:bottom - 2, left + 2:right - 2] = class_id
    return image, label


def write_voc_like(directory: Path, count: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    with RecordWriter(directory, "voc_like", records_per_shard=100) as writer:
        for index in range(count):
            image, label = voc_like_example(rng, *VOC_SIZE)
            writer.write(Record(image=_encode(image, "JPEG", quality=90),
                                label=_encode(label, "PNG"), image_id=f"voc_like_{index:05d}",
                                height=VOC_SIZE[0], width=VOC_SIZE[1],
                                classes=label_classes(label)))
    return directory


def images_per_second(records: EncodedRecords, crop: int, batch: int, parallelism,
                      seconds: float) -> float:
    """Training images/s after `WARMUP_BATCHES` batches, measured for about `seconds`."""
    dataset = train_dataset(records, range(len(records)), IDENTITY_LUT, batch_size=batch,
                            crop_size=crop, num_parallel_calls=parallelism)
    iterator = iter(dataset)
    for _ in range(WARMUP_BATCHES):
        next(iterator)
    images, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        next(iterator)
        images += batch
    return images / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num_images", type=int, default=512, help="synthetic train images")
    parser.add_argument("--size", type=int, default=64, help="synthetic image side (px)")
    parser.add_argument("--voc_images", type=int, default=200, help="VOC-sized images")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0, help="timing per row")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-input-") as tmp:
        generate_synthetic(Path(tmp) / "synthetic", size=args.size, num_train=args.num_images,
                           num_val=1, seed=0)
        sets = [
            ("synthetic", f"{args.size}x{args.size}", args.size,
             open_record_set(Path(tmp) / "synthetic", "train")),
            ("VOC-sized random", f"{VOC_SIZE[1]}x{VOC_SIZE[0]}", 321,
             open_record_set(write_voc_like(Path(tmp) / "voc", args.voc_images), "voc_like")),
        ]
        rows = ["| dataset | image size | crop | batch | parallelism | images/s |",
                "|---|---|---|---|---|---|"]
        for name, size, crop, manifest in sets:
            records = EncodedRecords.from_manifest(manifest)
            for label, parallelism in (("1", 1), ("AUTOTUNE", tf.data.AUTOTUNE)):
                rate = images_per_second(records, crop, args.batch, parallelism, args.seconds)
                rows.append(f"| {name} | {size} | {crop} | {args.batch} | {label} | {rate:.0f} |")
                print(rows[-1], flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
