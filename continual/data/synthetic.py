"""The embedded default dataset: synthetic VOC-like segmentation scenes, generated offline.

Each of the 20 VOC classes is a unique (shape, hue, texture) triple; any two classes differ in
at least two of the three, so colour and texture alone separate them per pixel and shape adds
a second cue. An image holds 1-3 objects on a noisy gradient background. Its first class is
drawn uniformly; companions usually come from that class's co-occurrence group, which spans
the 1-10 / 11-15 / 16-20 step boundaries the way VOC's do (person with horse, sofa with
tvmonitor), so the sequential, disjoint and overlapped setups really select different images.

Usage: `python -m continual.data.synthetic --out data/synthetic [--size 64] [--num_train 1200]`
writes `<out>/train` and `<out>/val` record sets, and skips a set whose manifest already
records the same parameters.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from continual.data.classes import IGNORE_LABEL, VOC_CLASSES
from continual.data.manifest import Manifest, ManifestError, manifest_path, read_manifest
from continual.data.records import Record, RecordError, label_classes
from continual.data.shapes import (
    boundary_band,
    hsv_colour,
    noisy_background,
    shape_mask,
    texture_pattern,
)
from continual.data.shards import RecordWriter, open_record_set
from continual.errors import InputError, reports_input_errors

GENERATOR_VERSION = 1  # bump whenever the drawing changes, so old sets are regenerated
SPLITS = ("train", "val")
OBJECT_COUNT_PROBS = (0.35, 0.40, 0.25)  # 1, 2 or 3 objects
COMPANION_FROM_GROUP = 0.75  # else a companion is any other class
MIN_VISIBLE = 0.4  # share of an object that later objects must leave visible
MIN_INTERIOR_PIXELS = 8  # an object keeps some non-void pixels even at small sizes
MAX_PLACEMENT_TRIES = 12


@dataclasses.dataclass(frozen=True)
class ClassStyle:
    """How a class looks: shape, hue in degrees, texture."""

    shape: str
    hue: float
    texture: str


CLASS_STYLES = {
    1: ClassStyle("disc", 0, "solid"), 2: ClassStyle("square", 36, "stripes"),
    3: ClassStyle("triangle", 72, "checker"), 4: ClassStyle("ring", 108, "dots"),
    5: ClassStyle("cross", 144, "solid"), 6: ClassStyle("diamond", 180, "dots"),
    7: ClassStyle("bar", 216, "solid"), 8: ClassStyle("star", 252, "stripes"),
    9: ClassStyle("disc", 288, "checker"), 10: ClassStyle("square", 324, "dots"),
    11: ClassStyle("triangle", 0, "dots"), 12: ClassStyle("ring", 36, "solid"),
    13: ClassStyle("cross", 72, "stripes"), 14: ClassStyle("diamond", 108, "checker"),
    15: ClassStyle("bar", 144, "dots"), 16: ClassStyle("star", 180, "checker"),
    17: ClassStyle("disc", 216, "dots"), 18: ClassStyle("square", 252, "solid"),
    19: ClassStyle("triangle", 288, "stripes"), 20: ClassStyle("ring", 324, "checker"),
}

# Companions of each class, after VOC's scenes (ids: see continual.data.classes).
COMPANIONS = {
    1: (15, 3, 7), 2: (15, 7, 14), 3: (16, 17, 4), 4: (15, 3, 12), 5: (11, 9, 15, 20),
    6: (7, 15, 19, 14), 7: (6, 15, 14, 2, 19), 8: (18, 12, 9, 16, 20),
    9: (11, 18, 5, 16, 20, 15), 10: (17, 13, 12, 15), 11: (9, 5, 15, 16, 20),
    12: (15, 18, 8, 17, 13), 13: (15, 10, 17, 12), 14: (15, 7, 2, 6),
    15: (2, 13, 14, 18, 9, 12, 4, 5), 16: (9, 18, 11, 20, 8), 17: (10, 12, 13, 15),
    18: (20, 9, 8, 12, 16, 15), 19: (6, 7, 15), 20: (18, 9, 11, 5, 15),
}


def example_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one image: its content never depends on how many images came before."""
    return np.random.default_rng([seed, SPLITS.index(split), index])


def sample_classes(rng: np.random.Generator) -> list[int]:
    """Distinct class ids of one image, in drawing order (later ones occlude earlier ones)."""
    first = int(rng.integers(1, len(VOC_CLASSES)))
    count = int(rng.choice(len(OBJECT_COUNT_PROBS), p=OBJECT_COUNT_PROBS)) + 1
    classes = [first]
    while len(classes) < count:
        pool = [c for c in COMPANIONS[first] if c not in classes]
        if not pool or rng.random() >= COMPANION_FROM_GROUP:
            pool = [c for c in range(1, len(VOC_CLASSES)) if c not in classes]
        classes.append(int(rng.choice(pool)))
    return [classes[i] for i in rng.permutation(len(classes))]


def _place_object(rng, shape: str, size: int, instances: np.ndarray,
                  areas: list[int]) -> tuple[np.ndarray, float] | None:
    """A mask (and its angle) that leaves every earlier object mostly visible, or None."""
    for _ in range(MAX_PLACEMENT_TRIES):
        radius = rng.uniform(0.14, 0.26) * size
        center = rng.uniform(0.6 * radius, size - 0.6 * radius, size=2)
        angle = rng.uniform(-0.35, 0.35)
        mask = shape_mask(shape, size, (center[0], center[1]), radius, angle)
        interior = mask & ~boundary_band(mask.astype(np.int32))
        if interior.sum() < MIN_INTERIOR_PIXELS:
            continue
        if all(((instances == j + 1) & ~mask).sum() >= MIN_VISIBLE * area
               for j, area in enumerate(areas)):
            return mask, angle
    return None


def _paint(rng, style: ClassStyle, size: int, angle: float) -> np.ndarray:
    """A full-frame float RGB layer of one instance's colour and texture (with jitter)."""
    hue = (style.hue + rng.uniform(-5, 5)) / 360
    saturation, value = rng.uniform(0.65, 0.9), rng.uniform(0.7, 0.95)
    base = hsv_colour(hue, saturation, value)
    if style.texture == "dots":
        second = hsv_colour(hue, 0.25 * saturation, 1.0)  # light dots, same hue
    else:
        second = hsv_colour(hue, saturation, 0.5 * value)  # dark stripes / squares
    period = max(4.0, size / 10)
    pattern = texture_pattern(style.texture, size, period, angle + np.pi / 4, rng.random())
    layer = np.where(pattern[..., None], second, base)
    return layer + rng.normal(0.0, 0.03, layer.shape).astype(np.float32)


def render_example(seed: int, split: str, index: int, size: int,
                   void_border: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 RGB image, uint8 label of class ids with 255 on object outlines) of one image."""
    rng = example_rng(seed, split, index)
    image = noisy_background(rng, size)
    instances = np.zeros((size, size), np.int32)
    placed: list[int] = [0]  # class id of each instance number, 0 = background
    areas: list[int] = []
    for class_id in sample_classes(rng):
        style = CLASS_STYLES[class_id]
        found = _place_object(rng, style.shape, size, instances, areas)
        if found is None:
            continue
        mask, angle = found
        instances[mask] = len(placed)
        placed.append(class_id)
        areas.append(int(mask.sum()))
        image[mask] = _paint(rng, style, size, angle)[mask]
    label = np.asarray(placed, np.uint8)[instances]
    if void_border:
        label[boundary_band(instances)] = IGNORE_LABEL
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8), label


def _encoded(array: np.ndarray, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def make_record(seed: int, split: str, index: int, size: int, void_border: bool = True) -> Record:
    """One synthetic image as a Record: JPEG (quality 95) image, single-channel PNG label."""
    image, label = render_example(seed, split, index, size, void_border)
    return Record(image=_encoded(image, "JPEG", quality=95), label=_encoded(label, "PNG"),
                  image_id=f"syn_{split}_{index:06d}", height=size, width=size,
                  classes=label_classes(label))


def split_source(size: int, seed: int, num: int, void_border: bool,
                 records_per_shard: int) -> dict:
    """The manifest `source` of a synthetic set: equal sources mean identical files."""
    return {"dataset": "synthetic", "generator_version": GENERATOR_VERSION, "size": size,
            "seed": seed, "num": num, "void_border": void_border,
            "records_per_shard": records_per_shard}


def existing_set(out_dir: Path, split: str, source: dict) -> tuple[Manifest | None, str]:
    """The complete, intact set with exactly this source, or None and why it must be made."""
    if not manifest_path(out_dir, split).exists():
        return None, "no manifest yet"
    try:
        manifest = open_record_set(out_dir, split)
    except (ManifestError, RecordError) as err:
        return None, f"existing set unusable ({err})"
    if manifest.source != source:
        changed = sorted(k for k in source.keys() | manifest.source.keys()
                         if source.get(k) != manifest.source.get(k))
        return None, f"parameters differ ({', '.join(changed)})"
    return manifest, "same parameters"


def _write_split(out_dir: Path, split: str, source: dict) -> Manifest:
    num, size, seed = source["num"], source["size"], source["seed"]
    with RecordWriter(out_dir, split, source["records_per_shard"], source) as writer:
        for index in tqdm(range(num), desc=f"synthetic {split}", unit="img"):
            writer.write(make_record(seed, split, index, size, source["void_border"]))
    return read_manifest(manifest_path(out_dir, split))


def _split_summary(manifest: Manifest, skipped: bool) -> dict:
    objects = [sum(1 for c in classes if c != 0) for classes in manifest.record_classes()]
    counts = manifest.class_counts()
    return {"manifest": str(manifest.path), "num_images": manifest.num_records,
            "content_hash": manifest.content_hash, "skipped": skipped,
            "mean_objects": float(np.mean(objects)),
            "class_images": {name: counts.get(i, 0) for i, name in enumerate(VOC_CLASSES) if i}}


def generate_synthetic(out_dir: str | os.PathLike, size: int = 64, num_train: int = 1200,
                       num_val: int = 300, seed: int = 0, records_per_shard: int = 500,
                       void_border: bool = True) -> dict:
    """Write (or reuse) `<out_dir>/train` and `<out_dir>/val`; return a summary per split.

    Summary: {"out_dir", "splits": {split: {"manifest", "num_images", "content_hash",
    "skipped", "mean_objects", "class_images": {class name: images}}}}.
    """
    if size < 24:
        raise InputError(f"size must be >= 24 px for objects to stay recognisable, got {size}")
    if seed < 0:
        raise InputError(f"seed must be >= 0, got {seed}")
    out_dir = Path(out_dir)
    splits = {}
    for split, num in zip(SPLITS, (num_train, num_val), strict=True):
        if num < 1:
            raise InputError(f"--num_{split} must be >= 1, got {num}")
        source = split_source(size, seed, num, void_border, records_per_shard)
        manifest, reason = existing_set(out_dir, split, source)
        print(f"{split}: {'up to date, skipped' if manifest else 'generating'} ({reason})")
        skipped = manifest is not None
        manifest = manifest or _write_split(out_dir, split, source)
        splits[split] = _split_summary(manifest, skipped)
    return {"out_dir": str(out_dir), "splits": splits}


def format_summary(summary: dict) -> str:
    """The summary as a plain-text table: images and objects per split, images per class."""
    splits = summary["splits"]
    lines = [f"synthetic dataset in {summary['out_dir']}",
             f"{'split':<12}{'images':>8}{'objects/img':>13}  status"]
    for split, info in splits.items():
        status = "reused" if info["skipped"] else "written"
        lines.append(f"{split:<12}{info['num_images']:>8}{info['mean_objects']:>13.2f}  {status}")
    lines.append(f"{'class':<12}" + "".join(f"{split:>8}" for split in splits))
    for name in VOC_CLASSES[1:]:
        lines.append(f"{name:<12}" + "".join(f"{splits[s]['class_images'][name]:>8}"
                                             for s in splits))
    return "\n".join(lines)


@reports_input_errors
def main(argv: list[str] | None = None) -> dict | int:
    parser = argparse.ArgumentParser(
        prog="python -m continual.data.synthetic", description=__doc__.split("\n")[0],
        epilog="Writes two record sets into --out: train-NNNNN.tfrecord shards with "
               "train.manifest.json, and val-NNNNN.tfrecord with val.manifest.json (JPEG image, "
               "PNG label, id, size and classes per record); the TrainManager.data_dir of the "
               "demo.")
    parser.add_argument("--out", required=True,
                        help="data directory that receives the train and val record sets")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--num_train", type=int, default=1200)
    parser.add_argument("--num_val", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--records_per_shard", type=int, default=500)
    parser.add_argument("--void_border", action=argparse.BooleanOptionalAction, default=True,
                        help="mark a 1-pixel void (255) band along object outlines, like VOC")
    args = parser.parse_args(argv)
    summary = generate_synthetic(args.out, args.size, args.num_train, args.num_val, args.seed,
                                 args.records_per_shard, args.void_border)
    print(format_summary(summary))
    return summary


if __name__ == "__main__":
    sys.exit(0 if isinstance(main(), dict) else 2)
