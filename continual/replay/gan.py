"""GAN replay: images of one ImageNet class from a class-conditional generator (the
original's gan/generate_gan.py).

As in RECALL: z = truncation * truncated_normal([batch, z_dim]) (a standard normal cut at
+-2 sigma), y one-hot, images (x + 1) / 2 -> uint8. Ours: the noise of batch b comes from a
stateless op keyed by (seed, class, b), so image i is the same whether the class was generated
in one go or resumed; files are `{index:05d}.jpg` (JPEG quality 95) and the class folder's
`manifest.json` (continual/replay/folders.py) is written last.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image
from tqdm import tqdm

from continual.bindings import supplied_configurable
from continual.replay.folders import (
    MANIFEST,
    finish_class,
    image_entry,
    open_class_folder,
    read_class_manifest,
    write_file_atomic,
)

SOURCE = "gan"
# Written before the first image: files in a folder count for a resume only under the same
# parameters (a folder of unknown origin is cleared, never mixed into the class).
PARAMETERS_MARKER = ".gan-parameters.json"
JPEG_QUALITY = 95


def class_folder_name(imagenet_class: int, voc_class: str | None = None) -> str:
    """A class's folder: the VOC name when known, else the ImageNet id on 4 digits."""
    return voc_class if voc_class else f"{imagenet_class:04d}"


def image_name(index: int) -> str:
    return f"{index:05d}.jpg"


def class_noise(z_dim: int, batch_size: int, *, seed: int, imagenet_class: int, batch: int,
                truncation: float) -> tf.Tensor:
    """z [batch_size, z_dim] of one batch: truncation * N(0,1) cut at +-2, keyed, stateless."""
    key = tf.random.experimental.stateless_fold_in(
        tf.constant([seed, imagenet_class], tf.int64), batch)
    return truncation * tf.random.stateless_truncated_normal([batch_size, z_dim], seed=key)


def to_jpeg(image: np.ndarray) -> bytes:
    """JPEG bytes of a float image in [-1, 1]: (x + 1) / 2 -> uint8 (rounded), quality 95."""
    pixels = np.round(np.clip((image + 1.0) / 2.0, 0.0, 1.0) * 255.0).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _check_arguments(generator, imagenet_class: int, count: int, truncation: float,
                     batch_size: int) -> None:
    if not 0 <= imagenet_class < generator.num_classes:
        raise ValueError(f"imagenet_class = {imagenet_class} is outside 0..."
                         f"{generator.num_classes - 1}, the classes of generator "
                         f"{getattr(generator, 'handle', generator)!r}")
    if count < 1 or batch_size < 1:
        raise ValueError(f"count = {count} and batch_size = {batch_size} must both be >= 1")
    if truncation <= 0:
        raise ValueError(f"truncation = {truncation}; expected a value in (0, 1] (RECALL: 1.0)")


def _remove_images(folder: Path) -> None:
    """Delete this source's image files (and a stale manifest): the folder restarts empty."""
    (folder / MANIFEST).unlink(missing_ok=True)
    for path in sorted(folder.glob("[0-9][0-9][0-9][0-9][0-9].jpg")):
        path.unlink()


def _prepare_folder(folder: Path, parameters: dict) -> None:
    """Keep files written with the same parameters (resume); clear anything else."""
    open_class_folder(folder)
    marker = folder / PARAMETERS_MARKER
    same = marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == parameters
    if not same:
        _remove_images(folder)
        write_file_atomic(marker, json.dumps(parameters, sort_keys=True).encode("utf-8"))


def _write_batches(generator, folder: Path, parameters: dict, label: str) -> None:
    count, batch_size = parameters["count"], parameters["batch_size"]
    one_hot = tf.one_hot([parameters["imagenet_class"]] * batch_size, generator.num_classes)
    batches = range((count + batch_size - 1) // batch_size)
    for batch in tqdm(batches, desc=f"gan {label}", unit="batch"):
        indices = range(batch * batch_size, min(count, (batch + 1) * batch_size))
        if all((folder / image_name(i)).exists() for i in indices):
            continue
        z = class_noise(generator.z_dim, batch_size, seed=parameters["seed"],
                        imagenet_class=parameters["imagenet_class"], batch=batch,
                        truncation=parameters["truncation"])
        images = np.asarray(generator(z, one_hot, parameters["truncation"]))
        for row, index in enumerate(indices):
            write_file_atomic(folder / image_name(index), to_jpeg(images[row]))


@supplied_configurable(generator=None, imagenet_class=None, out_folder=None, voc_class=None,
                       handle=None, count="GanReplay.images_per_class",
                       truncation="GanReplay.truncation", batch_size="GanReplay.batch_size",
                       seed="GanReplay.seed")
def generate_class(generator, *, imagenet_class: int, count: int, out_folder: str | os.PathLike,
                   truncation: float = 1.0, batch_size: int = 5, seed: int = 0,
                   voc_class: str | None = None, handle: str | None = None) -> Path:
    """Write `count` images of one class into `out_folder` and its manifest; return the folder.

    A folder whose manifest records the same parameters is kept as it is; a partial one
    (no manifest) written with the same parameters continues from its missing files.
    Args:
      generator: a `continual.replay.hub_models.Generator` (or any callable with `z_dim`,
        `num_classes` and `handle`).
      voc_class: the VOC class these images stand for (names the class in the manifest).
      handle: the generator's handle recorded in the manifest (default: `generator.handle`).
    """
    _check_arguments(generator, imagenet_class, count, truncation, batch_size)
    folder = Path(out_folder)
    label = class_folder_name(imagenet_class, voc_class)
    parameters = {"handle": handle or getattr(generator, "handle", None),
                  "imagenet_class": int(imagenet_class), "truncation": float(truncation),
                  "seed": int(seed), "count": int(count), "batch_size": int(batch_size)}
    manifest = read_class_manifest(folder)
    if manifest is not None and manifest["parameters"] == parameters \
            and manifest["class"] == label:
        print(f"gan {label}: complete in {folder}, skipped")
        return folder
    _prepare_folder(folder, parameters)
    _write_batches(generator, folder, parameters, label)
    entries = [image_entry(folder / image_name(i), index=i) for i in range(count)]
    finish_class(folder, label, SOURCE, parameters, entries)
    return folder


def generate_classes(generator, targets: dict[str, int], out_dir: str | os.PathLike, *,
                     count: int, **options) -> dict[str, Path]:
    """`generate_class` for each {folder label: ImageNet id}; labels that are VOC names name
    their class, 4-digit labels are plain ImageNet ids. Returns {label: folder}."""
    folders = {}
    for label, imagenet_class in targets.items():
        voc_class = None if label.isdigit() else label
        folders[label] = generate_class(generator, imagenet_class=imagenet_class, count=count,
                                        out_folder=Path(out_dir) / label, voc_class=voc_class,
                                        **options)
    return folders
