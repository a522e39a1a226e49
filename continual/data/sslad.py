"""SODA10M / SSLAD-2D labelled objects as the SSLAD Track 3A classification stream (the
original's `haitain_classification.py`, `classification_util.py`).

    python -m continual.data.sslad --root DIR --out DIR [--size 64]

Reads `DIR/annotations/instance_val.json` and `instance_train.json` (the annotations with
timestamps) and the frames under `DIR/val/` and `DIR/train/`; writes `OUT/train` (the stream)
and `OUT/test` (the evaluation set) as classification record sets with 7 classes (ids 1..6:
Pedestrian, Cyclist, Car, Truck, Tram (Bus), Tricycle; id 0 never occurs, as in the
original's 7-output head).

- Object filter: bbox area >= 1024 px and `occluded` != 0 (objects with 0 are dropped).
- Crop: a square centred on the bbox, side 2 * (max(w, h) // 2 + 5), half-side clamped to
  539, shifted to stay inside the 1920 x 1080 frame; resized to `size` x `size`.
- Stream: the objects of the six (date, period) experiences, sorted by timestamp, then video
  id, then sequence id (the ids are strings from the old file name, so they sort
  lexicographically, as the original's). `time` is the rank, `domain` 0 daytime / 1 night, `group`
  the experience's index; `by_attribute` cuts a new experience at each day/night switch.
- Evaluation, as the original's `classification_util.create_val_set`: the val split's objects
  of every date but 2019-11-11, 11-17 and 11-20 (both periods) and 2019-11-21 at night, plus
  the train split's Tricycle objects and its Cyclist objects of 2018-10-15 at 15:20:30 or
  16:00:00 (`in_evaluation`).
- Annotation fixes of the original's loader (`haitain_classification._correct_data`): val
  times and dates are stripped and time 1111523 is read as 111152; the train split's mistyped
  times and dates are replaced (`TRAIN_FIXES`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from continual.data.classification import ClassificationSample, write_classification_set
from continual.errors import InputError, reports_input_errors

CLASS_NAMES = ["(none)", "Pedestrian", "Cyclist", "Car", "Truck", "Tram (Bus)", "Tricycle"]
PERIODS = {"Daytime": 0, "Night": 1}
EXPERIENCES = (("20191111", "Daytime"), ("20191111", "Night"), ("20191117", "Daytime"),
               ("20191117", "Night"), ("20191120", "Daytime"), ("20191121", "Night"))
EXCLUDED_DATES = ("20191111", "20191117", "20191120")   # from the evaluation, both periods
EXCLUDED_FROM_EVALUATION = (("20191121", "Night"),)
TRICYCLE, CYCLIST = 6, 2
CYCLIST_SLOTS = ("20181015", ("152030", "160000"))       # (date, times) of the train split
VAL_TIME_FIXES = {"1111523": "111152"}
TRAIN_FIXES = {"time": {"145960": "150000", "102360": "102400", "1221831": "122131",
                        "1420214": "142021", "10:00": "100000", "13:00": "130000",
                        " 13:00": "130000", "12:00": "120000"},
               "date": {"201810152": "20181015", "50181015": "20181015"}}
FRAME = (1920, 1080)
MIN_AREA, PADDING, MAX_HALF_SIDE = 1024, 5, 539
IMAGE_FIELDS = ("date", "time", "period", "file_name")


def square_crop(bbox, frame=FRAME) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the challenge's square crop around bbox [x, y, w, h]."""
    x, y, w, h = (int(v) for v in bbox)
    half = min(max(w, h) // 2 + PADDING, MAX_HALF_SIDE)
    box = [x + w // 2 - half, y + h // 2 - half, x + w // 2 + half, y + h // 2 + half]
    for low, high, limit in ((0, 2, frame[0]), (1, 3, frame[1])):
        if box[low] < 0:
            box[high] -= box[low]
            box[low] = 0
        if box[high] >= limit:
            box[low] -= box[high] - (limit - 1)
            box[high] = limit - 1
    return box[0], box[1], box[2], box[3]


def corrected_time_and_date(image: dict, split: str) -> tuple[str, str]:
    """(date, time) of an image after the original loader's fixes for `split`."""
    date, clock = str(image["date"]), str(image["time"])
    if split == "val":
        date, clock = date.strip(), clock.strip()
        clock = VAL_TIME_FIXES.get(clock, clock)
    elif split == "train":
        clock = TRAIN_FIXES["time"].get(clock, clock)
        date = TRAIN_FIXES["date"].get(date, date)
    return date.strip().replace("-", ""), clock.strip()


def _image_meta(image: dict, split: str, where: str) -> dict:
    missing = [field for field in IMAGE_FIELDS if field not in image]
    if missing or str(image["period"]).strip() not in PERIODS:
        raise InputError(f"{where}: image {image.get('id')} lacks {missing or ['period']} (or "
                         f"its period is not one of {list(PERIODS)}); use the annotation files "
                         "with timestamps")
    date, clock = corrected_time_and_date(image, split)
    name = Path(str(image.get("file_name_old", image["file_name"]))).name
    numbers = re.findall(r"\d+", name) + ["", ""]
    return {"date": date, "time": clock, "period": str(image["period"]).strip(),
            "video": numbers[0], "sequence": numbers[1], "file_name": image["file_name"],
            "split": split, "id": image["id"]}


def stream_stamp(meta: dict, where: str) -> datetime.datetime:
    """The time stamp that orders the stream (only stream objects need one)."""
    try:
        return datetime.datetime.strptime(meta["date"] + meta["time"].replace(":", ""),
                                          "%Y%m%d%H%M%S")
    except ValueError as err:
        raise InputError(f"{where}: image {meta['id']} has date {meta['date']!r} time "
                         f"{meta['time']!r}; expected yyyymmdd and hhmmss") from err


def kept_objects(annotations: dict, split: str, where: str) -> list[tuple[dict, dict]]:
    """(object, image meta) of every object passing the filter; labels checked."""
    images = {image["id"]: image for image in annotations["images"]}
    kept = []
    for obj in annotations["annotations"]:
        if obj["area"] < MIN_AREA or obj.get("occluded", 1) == 0:
            continue
        if not 1 <= int(obj["category_id"]) < len(CLASS_NAMES):
            raise InputError(f"{where}: object {obj['id']} has category_id "
                             f"{obj['category_id']}, outside the head's classes 1..6")
        kept.append((obj, _image_meta(images[obj["image_id"]], split, where)))
    return kept


def in_evaluation(obj: dict, meta: dict) -> bool:
    """The original's evaluation set: val objects off the stream's dates (and off 2019-11-21
    at night); train objects that are Tricycles or 2018-10-15's Cyclist time slots."""
    if meta["split"] == "val":
        return (meta["date"] not in EXCLUDED_DATES
                and (meta["date"], meta["period"]) not in EXCLUDED_FROM_EVALUATION)
    date, times = CYCLIST_SLOTS
    category = int(obj["category_id"])
    return category == TRICYCLE or (category == CYCLIST and meta["date"] == date
                                    and meta["time"] in times)


def _object_crop(path: Path, obj: dict, size: int) -> np.ndarray:
    """uint8 [size, size, 3]: the object's square crop of its frame; errors name the frame."""
    try:
        with Image.open(path) as frame:
            crop = frame.convert("RGB").crop(square_crop(obj["bbox"]))
    except Image.DecompressionBombError as err:
        raise InputError(f"{path}: {err}: PIL refuses images this large (a decompression bomb "
                         "guard); replace the frame with the dataset's own") from err
    except (UnidentifiedImageError, OSError) as err:
        raise InputError(f"{path}: the frame of object {obj['id']} cannot be read ({err}); "
                         "restore it from the SSLAD-2D download") from err
    return np.asarray(crop.resize((size, size), Image.BILINEAR), dtype=np.uint8)


def _samples(objects, root: Path, size: int, with_time: bool
             ) -> Iterator[ClassificationSample]:
    for rank, (obj, meta) in enumerate(objects):
        image = _object_crop(root / meta["split"] / meta["file_name"], obj, size)
        pair = (meta["date"], meta["period"])
        yield ClassificationSample(
            image, int(obj["category_id"]), f"{meta['split']}_{obj['id']}",
            where=f"{meta['split']} object {obj['id']}",
            time=rank if with_time else None, domain=PERIODS[meta["period"]],
            group=EXPERIENCES.index(pair) if with_time else None)


def _read_split(root: Path, split: str) -> list[tuple[dict, dict]]:
    path = root / "annotations" / f"instance_{split}.json"
    if not path.exists():
        raise InputError(f"--root {root}: {path} does not exist; point --root at the SSLAD-2D "
                         "labelled folder (annotations/instance_train.json and "
                         "instance_val.json, train/, val/)")
    return kept_objects(json.loads(path.read_text()), split, str(path))


def convert(root, out, *, size: int = 64) -> dict[str, int]:
    """Write OUT/train (the stream) and OUT/test; returns the number of records of each."""
    root = Path(root)
    val, train = _read_split(root, "val"), _read_split(root, "train")
    where = str(root / "annotations" / "instance_val.json")
    stream = [o for o in val if (o[1]["date"], o[1]["period"]) in EXPERIENCES]
    stamps = {o[0]["id"]: stream_stamp(o[1], where) for o in stream}
    stream.sort(key=lambda o: (stamps[o[0]["id"]], o[1]["video"], o[1]["sequence"],
                               o[0]["id"]))
    evaluation = [o for o in val + train if in_evaluation(*o)]
    if not stream or not evaluation:
        raise InputError(f"{root}: {len(stream)} stream and {len(evaluation)} evaluation "
                         "objects after the filter; both must be non-empty")
    for name, rows, with_time in (("train", stream, True), ("test", evaluation, False)):
        write_classification_set(out, name, _samples(rows, root, size, with_time),
                                 num_classes=len(CLASS_NAMES), class_names=CLASS_NAMES,
                                 source={"dataset": "sslad_2d", "stream_split": "val",
                                         "size": size})
    return {"train": len(stream), "test": len(evaluation)}


@reports_input_errors
def main(argv: list[str] | None = None) -> int:
    """CLI entry point; prints `error: ...` and returns 2 on bad input."""
    parser = argparse.ArgumentParser(prog="python -m continual.data.sslad", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args(argv)
    counts = convert(args.root, args.out, size=args.size)
    print(f"train (stream): {counts['train']} objects; test: {counts['test']} objects -> "
          f"{args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
