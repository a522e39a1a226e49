"""Convert Pascal VOC 2012 (optionally SBD-augmented) into the `train` and `val` record sets.

    python -m continual.data.voc --voc_root <VOCdevkit/VOC2012> [--sbd_root <SBD dir>] \\
        --out <data dir> [--skip_bad] [--records_per_shard 500]

Images and labels are paired by id, never by listing order (continual/plans/RECALL.md, defect 1),
and ids are written in sorted order. Palette labels are read as indices and re-encoded as grayscale
PNGs, because `tf.io.decode_png` would return the palette colours. Every pair is checked first; a
bad one stops the run (or, with `--skip_bad`, is skipped and reported), and a failed run leaves no
record set behind.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from pathlib import Path

from tqdm import tqdm

from continual.data.classes import VOC_CLASSES
from continual.data.manifest import sha256_file
from continual.data.records import Record, label_classes
from continual.data.shards import RecordWriter, open_record_set
from continual.data.voc_checks import (
    VocError,
    check_pair,
    encode_label_png,
    read_id_list,
    require_dir,
)
from continual.errors import reports_input_errors

__all__ = ["VocError", "convert_voc", "format_summary", "main"]


@dataclasses.dataclass(frozen=True)
class SplitPlan:
    """One record set to write: its sorted ids, where they are listed and where labels live."""

    name: str
    ids: list[str]
    list_file: Path
    label_dir: Path
    excluded_val_ids: int = 0  # val ids removed from the augmented train list


def _nonempty(ids: list[str], list_file: Path, why: str = "lists no image ids") -> list[str]:
    if not ids:
        raise VocError(list_file, f"{why}; expected one image id per line")
    return ids


def plan_splits(voc_root: Path, sbd_root: Path | None) -> list[SplitPlan]:
    """The train and val splits, after checking that every folder and list exists."""
    require_dir(voc_root, "the VOC2012 folder (JPEGImages, SegmentationClass, ImageSets)")
    require_dir(voc_root / "JPEGImages", "VOC's JPEG images, <id>.jpg")
    seg_lists = require_dir(voc_root / "ImageSets" / "Segmentation",
                            "VOC's segmentation split lists train.txt and val.txt")
    voc_labels = require_dir(voc_root / "SegmentationClass", "VOC's palette label PNGs, <id>.png")
    val_list = seg_lists / "val.txt"
    val_ids = _nonempty(read_id_list(val_list, "VOC's val ids, one per line"), val_list)
    val = SplitPlan("val", val_ids, val_list, voc_labels)
    if sbd_root is None:
        train_list = seg_lists / "train.txt"
        train_ids = read_id_list(train_list, "VOC's train ids, one per line")
        _refuse_val_ids(train_ids, val_ids, train_list)
        return [SplitPlan("train", _nonempty(train_ids, train_list), train_list, voc_labels), val]
    require_dir(sbd_root, "the SBD folder holding train_aug.txt and SegmentationClassAug")
    aug_labels = require_dir(sbd_root / "SegmentationClassAug",
                             "SBD-augmented grayscale label PNGs, <id>.png")
    aug_list = sbd_root / "train_aug.txt"
    aug_ids = _nonempty(read_id_list(aug_list, "the SBD-augmented train list"), aug_list)
    _refuse_val_ids(aug_ids, val_ids, aug_list)
    return [SplitPlan("train", sorted(set(aug_ids)), aug_list, aug_labels), val]


def _refuse_val_ids(train_ids: list[str], val_ids: list[str], train_list: Path) -> None:
    """A train list holding validation ids would leak evaluation images into training."""
    leaked = sorted(set(train_ids) & set(val_ids))
    if leaked:
        shown = ", ".join(leaked[:5]) + (", ..." if len(leaked) > 5 else "")
        raise VocError(train_list, f"lists {len(leaked)} VOC val id(s) ({shown}); validation "
                       "images must not be trained on: remove them from the train list (the "
                       "paper's SBD list train_aug.txt holds 10 582 ids and none of val)")


def _source(plan: SplitPlan, voc_root: Path, sbd_root: Path | None) -> dict:
    """What a record set was made from; stored in its manifest."""
    return {
        "dataset": "voc2012",
        "voc_root": str(voc_root.resolve()),
        "sbd_root": str(sbd_root.resolve()) if sbd_root is not None else None,
        "split": plan.name,
        "list_file": str(plan.list_file.resolve()),
        "list_sha256": sha256_file(plan.list_file),
        "excluded_val_ids": plan.excluded_val_ids,
        "skipped": [],
    }


def _write_split(writer: RecordWriter, plan: SplitPlan, jpeg_dir: Path,
                 skip_bad: bool) -> list[dict]:
    """Check and write every pair of a split in id order; returns the skipped files."""
    skipped: list[dict] = []
    for image_id in tqdm(plan.ids, desc=f"VOC {plan.name}", unit="img"):
        try:
            pair = check_pair(jpeg_dir / f"{image_id}.jpg", plan.label_dir / f"{image_id}.png")
        except VocError as err:
            if not skip_bad:
                raise
            skipped.append({"id": image_id, "file": err.path, "fault": err.fault})
            continue
        writer.write(Record(image=pair.image, label=encode_label_png(pair.label),
                            image_id=image_id, height=pair.height, width=pair.width,
                            classes=label_classes(pair.label)))
    if len(skipped) == len(plan.ids):
        raise VocError(plan.list_file, f"all {len(plan.ids)} {plan.name} images were skipped as "
                       f"bad (first: {skipped[0]['file']}: {skipped[0]['fault']})")
    writer.source = {**writer.source, "skipped": skipped}
    return skipped


def convert_voc(voc_root: str | os.PathLike, out_dir: str | os.PathLike,
                sbd_root: str | os.PathLike | None = None, skip_bad: bool = False,
                records_per_shard: int = 500) -> dict:
    """Write `<out_dir>/train` and `<out_dir>/val` from VOC 2012 (+ SBD); returns a summary.

    Both sets are written together and saved only when both succeed, so a failure leaves
    neither a half-written shard nor a manifest.
    """
    voc_root = Path(voc_root)
    sbd = Path(sbd_root) if sbd_root is not None else None
    plans = plan_splits(voc_root, sbd)
    writers = [RecordWriter(out_dir, plan.name, records_per_shard, _source(plan, voc_root, sbd))
               for plan in plans]
    with contextlib.ExitStack() as stack:
        for writer in writers:
            stack.enter_context(writer)
        skipped = [_write_split(writer, plan, voc_root / "JPEGImages", skip_bad)
                   for writer, plan in zip(writers, plans, strict=True)]
    splits = {}
    for plan, split_skipped in zip(plans, skipped, strict=True):
        manifest = open_record_set(out_dir, plan.name)
        splits[plan.name] = {
            "num_images": manifest.num_records,
            "class_counts": manifest.class_counts(),
            "skipped": split_skipped,
            "list_file": str(plan.list_file),
            "excluded_val_ids": plan.excluded_val_ids,
            "manifest": str(manifest.path),
        }
    return {"out_dir": str(out_dir), "splits": splits}


def format_summary(result: dict) -> str:
    """A short human-readable report: images per split, images per class, skipped files."""
    splits = result["splits"]
    lines = [f"wrote {result['out_dir']}:"]
    for name, split in splits.items():
        lines.append(f"  {name}: {split['num_images']} images from {split['list_file']}, "
                     f"{len(split['skipped'])} skipped")
        if split["excluded_val_ids"]:
            lines.append(f"    excluded {split['excluded_val_ids']} val ids from the train list")
    lines.append("images per class (" + " / ".join(splits) + "):")
    for class_id, class_name in enumerate(VOC_CLASSES):
        counts = " / ".join(str(s["class_counts"].get(class_id, 0)) for s in splits.values())
        lines.append(f"  {class_id:2d} {class_name:<12} {counts}")
    bad = [entry for split in splits.values() for entry in split["skipped"]]
    if bad:
        lines.append(f"skipped {len(bad)} bad files:")
        lines.extend(f"  {entry['file']}: {entry['fault']}" for entry in bad)
    return "\n".join(lines)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


@reports_input_errors
def main(argv: list[str] | None = None) -> int:
    """CLI entry point; prints the error (no traceback) and returns 2 on bad input."""
    parser = argparse.ArgumentParser(prog="python -m continual.data.voc", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voc_root", required=True, help="VOCdevkit/VOC2012 folder")
    parser.add_argument("--sbd_root", default=None,
                        help="folder with SegmentationClassAug/ and train_aug.txt")
    parser.add_argument("--out", required=True, help="data folder for the train and val sets")
    parser.add_argument("--skip_bad", action="store_true",
                        help="skip bad image/label pairs and report them instead of stopping")
    parser.add_argument("--records_per_shard", type=_positive_int, default=500)
    args = parser.parse_args(argv)
    if args.sbd_root is None:
        print("warning: no --sbd_root: the train set is VOC's own 1 464-image list, not the "
              "paper's 10 582-image SBD-augmented list (give --sbd_root to build that)",
              file=sys.stderr)
    result = convert_voc(args.voc_root, args.out, sbd_root=args.sbd_root,
                         skip_bad=args.skip_bad, records_per_shard=args.records_per_shard)
    print(format_summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
