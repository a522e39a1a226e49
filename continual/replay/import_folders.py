"""Turn replay images made elsewhere into our manifested class folders (`folders.py` format).

    python -m continual.replay.import_folders flickr --images CRAWL --out data/replay_images/flickr
    python -m continual.replay.import_folders gan --images IMAGE_ALL --mapping mapping.json \\
        --out data/replay_images/gan
    python -m continual.replay.import_folders archive --data ORIGINAL_DATA --out data/replay_images

`flickr`: an original Flickr crawl (folders `01` ... `20`, one per VOC class in VOC order).
`gan`: the original generator's output (one folder per ImageNet class, `0404/`, ...), picked per
VOC class by a mapping file (`gan/generate_gan.py map` writes one; only `imagenet_class` is
read). `archive`: the original archive's `replay_images/<source>/NN.tfrecord` files, written to
`<out>/<source>/`. Image bytes are kept unchanged; each must decode as an image. Point
`WebReplay.folder` (web) or `GanReplay.folder` (GAN) at the output.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from continual.data.atomic import write_bytes_atomic
from continual.data.classes import VOC_CLASSES
from continual.replay.folders import (
    ReplayFolderError,
    checked_image,
    finish_class,
    image_entry,
    open_class_folder,
)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def write_class(out: Path, voc_id: int, images: list[tuple[str, bytes]], source: str) -> Path:
    """Write one class folder: images named 00000.jpg ... in the given order, then the manifest."""
    folder = open_class_folder(out / VOC_CLASSES[voc_id])
    entries = []
    for index, (origin, data) in enumerate(images):
        checked_image(data, origin)
        path = folder / f"{index:05d}.jpg"
        write_bytes_atomic(path, data)
        entries.append(image_entry(path, origin=origin))
    return finish_class(folder, VOC_CLASSES[voc_id], source, {"imported_from": source}, entries)


def folder_images(folder: Path) -> list[tuple[str, bytes]]:
    """(path, bytes) of the image files of a folder, in sorted name order."""
    if not folder.is_dir():
        raise ReplayFolderError(f"{folder}: folder not found")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower().strip() in IMAGE_SUFFIXES)
    if not files:
        raise ReplayFolderError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    return [(str(p), p.read_bytes()) for p in files]


def import_flickr(images: Path, out: Path) -> list[Path]:
    """An original crawl's `01` ... `20` folders -> our class folders."""
    return [write_class(out, voc_id, folder_images(images / f"{voc_id:02d}"), "flickr")
            for voc_id in range(1, len(VOC_CLASSES)) if (images / f"{voc_id:02d}").is_dir()]


def import_gan(images: Path, mapping_file: Path, out: Path) -> list[Path]:
    """The original generator's ImageNet-class folders -> our class folders, by a mapping."""
    mapping = json.loads(Path(mapping_file).read_text(encoding="utf-8"))
    written = []
    for name, entry in sorted(mapping.items(), key=lambda item: VOC_CLASSES.index(item[0])):
        if name not in VOC_CLASSES[1:]:
            raise ReplayFolderError(f"{mapping_file}: {name!r} is not a VOC class name")
        folder = images / f"{int(entry['imagenet_class']):04d}"
        written.append(write_class(out, VOC_CLASSES.index(name), folder_images(folder), "gan"))
    return written


def archive_images(path: Path) -> list[tuple[str, bytes]]:
    import tensorflow as tf  # only this command reads TFRecords
    out = []
    for index, raw in enumerate(tf.data.TFRecordDataset(str(path)).as_numpy_iterator()):
        feats = tf.train.Example.FromString(raw).features.feature
        if "input" not in feats or not feats["input"].bytes_list.value:
            raise ReplayFolderError(f"{path} record {index}: no 'input' feature (image)")
        out.append((f"{path}#{index}", feats["input"].bytes_list.value[0]))
    return out


def import_archive(data: Path, out: Path) -> list[Path]:
    """`replay_images/<source>/NN.tfrecord` -> `<out>/<source>/<class>/`."""
    root = data / "replay_images"
    if not root.is_dir():
        raise ReplayFolderError(f"{root}: folder not found; expected the original archive's "
                                "data/ folder")
    written = []
    for source_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for voc_id in range(1, len(VOC_CLASSES)):
            path = source_dir / f"{voc_id:02d}.tfrecord"
            if path.exists():
                written.append(write_class(out / source_dir.name, voc_id, archive_images(path),
                                           source_dir.name))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m continual.replay.import_folders",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("flickr", "gan", "archive"))
    parser.add_argument("--images", help="flickr: the crawl folder; gan: the class folders")
    parser.add_argument("--mapping", help="gan: VOC -> ImageNet mapping JSON")
    parser.add_argument("--data", help="archive: the original archive's data/ folder")
    parser.add_argument("--out", required=True, help="where the class folders go")
    args = parser.parse_args(argv)
    needed = {"flickr": ("images",), "gan": ("images", "mapping"), "archive": ("data",)}
    missing = [f"--{a}" for a in needed[args.kind] if getattr(args, a) is None]
    if missing:
        parser.error(f"{args.kind} needs {' and '.join(missing)}")
    try:
        if args.kind == "flickr":
            written = import_flickr(Path(args.images), Path(args.out))
        elif args.kind == "gan":
            written = import_gan(Path(args.images), Path(args.mapping), Path(args.out))
        else:
            written = import_archive(Path(args.data), Path(args.out))
    except (ReplayFolderError, KeyError, json.JSONDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{len(written)} class folders written under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
