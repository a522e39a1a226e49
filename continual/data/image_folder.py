"""Convert an image-folder dataset (Rainbow Memory's layout) into `train` and `test` record sets.

    python -m continual.data.image_folder --root <dir> --out <data dir> [--size H W]

`ROOT/train/<class>/<image>` and `ROOT/test/<class>/<image>`: class ids are the sorted class
folder names, which must be the same in both splits; records are written class by class in
sorted file order, with ids `<class>/<file name>`. Hidden entries (`.DS_Store`) are ignored;
any other stray file or folder is an error, as are an empty class folder and a file PIL cannot
read. Images must share one size unless `--size` resizes them all (PIL bilinear).

Channels: the set is stored grey (one channel) only when every image of both splits is grey
(PIL mode L, LA or 1); otherwise every image is converted to RGB, so one model input fits all.
Alpha is dropped. A set whose manifest records the same file hashes and options is skipped.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from continual.data.classification import ClassificationSample, write_classification_set
from continual.data.manifest import sha256_file
from continual.data.records import RecordError
from continual.data.shards import open_record_set
from continual.data.synthetic import existing_set
from continual.errors import InputError, reports_input_errors

CONVERTER_VERSION = 1
SPLITS = ("train", "test")
GREY_MODES = ("L", "LA", "1")


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _class_folders(split_dir: Path) -> list[Path]:
    if not split_dir.is_dir():
        raise InputError(f"{split_dir} is not a folder; --root must hold train/<class>/ and "
                         "test/<class>/ folders of images")
    entries = _visible(split_dir)
    strays = [p for p in entries if not p.is_dir()]
    if strays:
        raise InputError(f"{strays[0]}: a file directly in {split_dir}; images belong in "
                         "class folders, <split>/<class>/<image>")
    return entries


def list_split_files(root: Path) -> tuple[list[str], dict[str, list[tuple[int, Path]]]]:
    """(class names, {split: [(class id, image path)]}) after checking the folder layout."""
    folders = {split: _class_folders(root / split) for split in SPLITS}
    names = {split: [p.name for p in folders[split]] for split in SPLITS}
    if names["train"] != names["test"]:
        only_train = sorted(set(names["train"]) - set(names["test"]))
        only_test = sorted(set(names["test"]) - set(names["train"]))
        raise InputError(f"{root}: train and test must have the same class folders; only in "
                         f"train: {only_train}, only in test: {only_test}")
    if not names["train"]:
        raise InputError(f"{root / 'train'} has no class folders")
    files: dict[str, list[tuple[int, Path]]] = {split: [] for split in SPLITS}
    for split in SPLITS:
        for class_id, folder in enumerate(folders[split]):
            images = _visible(folder)
            if not images:
                raise InputError(f"{folder}: empty class folder; add its images or remove it")
            nested = [p for p in images if p.is_dir()]
            if nested:
                raise InputError(f"{nested[0]}: a folder inside a class folder; move its images "
                                 f"into {folder}")
            files[split].extend((class_id, path) for path in images)
    return names["train"], files


def _header(path: Path) -> tuple[str, tuple[int, int]]:
    """(mode, (width, height)) of an image file, read without decoding the pixels."""
    try:
        with Image.open(path) as image:
            mode, size = image.mode, image.size
    except Image.DecompressionBombError as err:
        raise RecordError(f"{path}: {err}: PIL refuses images this large (a decompression "
                          "bomb guard); shrink or remove the image") from err
    except (UnidentifiedImageError, OSError) as err:
        raise RecordError(f"{path}: not an image PIL can read ({err})") from err
    if mode.split(";")[0] in ("I", "F"):
        raise RecordError(f"{path}: PIL mode {mode} (16-bit or float) is not supported; save "
                          "it as 8-bit grey or RGB")
    return mode, size


def survey_images(paths: Sequence[Path], resize: tuple[int, int] | None) -> int:
    """The channel count of the set (1 if every image is grey, else 3); checks sizes agree."""
    first_size, first_path, grey = None, None, True
    for path in paths:
        mode, size = _header(path)
        grey = grey and mode in GREY_MODES
        if first_size is None:
            first_size, first_path = size, path
        elif size != first_size and resize is None:
            raise RecordError(f"{path}: is {size[0]}x{size[1]} (WxH) but {first_path} is "
                              f"{first_size[0]}x{first_size[1]}; pass --size H W to resize all")
    return 1 if grey else 3


def load_image(path: Path, channels: int, resize: tuple[int, int] | None) -> np.ndarray:
    """uint8 [H, W, channels] pixels of one file, converted and (optionally) resized."""
    try:
        with Image.open(path) as image:
            image.load()
            image = image.convert("L" if channels == 1 else "RGB")
    except Image.DecompressionBombError as err:
        raise RecordError(f"{path}: {err}: PIL refuses images this large (a decompression "
                          "bomb guard); shrink or remove the image") from err
    except (UnidentifiedImageError, OSError) as err:
        raise RecordError(f"{path}: image data does not decode ({err})") from err
    if resize is not None:
        image = image.resize((resize[1], resize[0]), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, np.uint8)
    return pixels.reshape(pixels.shape[0], pixels.shape[1], channels)


def _samples(files: list[tuple[int, Path]], names: list[str], channels: int,
             resize: tuple[int, int] | None) -> Iterator[ClassificationSample]:
    for class_id, path in files:
        yield ClassificationSample(load_image(path, channels, resize), class_id,
                                   f"{names[class_id]}/{path.name}", where=str(path))


def _files_digest(root: Path, files: list[tuple[int, Path]]) -> str:
    digest = hashlib.sha256()
    for _, path in files:
        digest.update(f"{path.relative_to(root).as_posix()}:{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def convert_image_folder(root: str | os.PathLike, out_dir: str | os.PathLike,
                         size: Sequence[int] | None = None, records_per_shard: int = 2000) -> dict:
    """Write (or reuse) `<out_dir>/train` and `<out_dir>/test`; returns a summary per split."""
    root, out_dir = Path(root), Path(out_dir)
    resize = None if size is None else (int(size[0]), int(size[1]))
    if resize is not None and min(resize) < 1:
        raise InputError(f"--size must be two positive integers H W, got {list(resize)}")
    names, files = list_split_files(root)
    channels = survey_images([path for split in SPLITS for _, path in files[split]], resize)
    sources = {split: {"dataset": "image_folder", "converter_version": CONVERTER_VERSION,
                       "split": split, "files_sha256": _files_digest(root, files[split]),
                       "class_names": names, "size": list(resize) if resize else None,
                       "channels": channels, "records_per_shard": records_per_shard}
               for split in SPLITS}
    existing = {split: existing_set(out_dir, split, sources[split]) for split in SPLITS}
    splits = {}
    for split in SPLITS:
        manifest, reason = existing[split]
        if manifest is None:
            write_classification_set(out_dir, split, _samples(files[split], names, channels,
                                                              resize),
                                     num_classes=len(names), class_names=names,
                                     source=sources[split], records_per_shard=records_per_shard)
        manifest = manifest or open_record_set(out_dir, split)
        splits[split] = {"manifest": str(manifest.path), "num_images": manifest.num_records,
                         "image_shape": list(manifest.image_shape),
                         "content_hash": manifest.content_hash,
                         "skipped": existing[split][0] is not None, "reason": reason}
    return {"out_dir": str(out_dir), "class_names": names, "splits": splits}


@reports_input_errors
def main(argv: list[str] | None = None) -> int:
    """CLI entry point; prints `error: ...` (no traceback) and returns 2 on bad input."""
    parser = argparse.ArgumentParser(prog="python -m continual.data.image_folder",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="folder holding train/ and test/")
    parser.add_argument("--out", required=True, help="data folder for the train and test sets")
    parser.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=None,
                        help="resize every image to H x W (bilinear)")
    parser.add_argument("--records_per_shard", type=int, default=2000)
    args = parser.parse_args(argv)
    summary = convert_image_folder(args.root, args.out, args.size, args.records_per_shard)
    print(f"{len(summary['class_names'])} classes: {', '.join(summary['class_names'])}")
    for split, info in summary["splits"].items():
        status = "up to date, skipped" if info["skipped"] else "written"
        print(f"{split}: {info['num_images']} images {info['image_shape']} {status} "
              f"({info['manifest']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
