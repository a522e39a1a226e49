"""The offline stand-in for a Flickr crawl: class folders of "web photos" of the synthetic classes.

Web images differ from the training set: each is a photo of one class (sometimes with a
companion), larger and more central, on a busier background (two-tone scene with a horizon
and grey clutter) and at another size. The folders follow the replay-folder contract, exactly
what `flickr/download_flickr.py` writes, so the demo's web source runs the same code path.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from continual.data.classes import VOC_CLASSES
from continual.data.shapes import hsv_colour, pixel_grid, shape_mask
from continual.data.synthetic import CLASS_STYLES, COMPANIONS, _paint
from continual.replay.folders import (
    finish_class,
    image_entry,
    open_class_folder,
    read_class_manifest,
    write_file_atomic,
)

SOURCE = "web-standin"
VERSION = 1


def _scene(rng: np.random.Generator, size: int) -> np.ndarray:
    """Sky over ground with a horizon, plus grey clutter blobs: not the training look."""
    y, x = pixel_grid(size)
    horizon = rng.uniform(0.3, 0.7) * size
    sky = hsv_colour(rng.uniform(0.5, 0.7), rng.uniform(0.1, 0.4), rng.uniform(0.6, 0.95))
    ground = hsv_colour(rng.uniform(0.05, 0.4), rng.uniform(0.1, 0.4), rng.uniform(0.2, 0.6))
    image = np.where((y < horizon)[..., None], sky, ground).astype(np.float32)
    for _ in range(rng.integers(2, 6)):
        blob = shape_mask("disc", size, tuple(rng.uniform(0, size, 2)), rng.uniform(2, size / 8))
        image[blob] = rng.uniform(0.3, 0.7)
    return image + rng.normal(0.0, 0.05, image.shape).astype(np.float32)


def render_web_photo(cls: int, index: int, size: int, seed: int) -> np.ndarray:
    """uint8 RGB photo of class `cls`, sometimes with one companion object behind it."""
    rng = np.random.default_rng([seed, cls, index, VERSION])
    image = _scene(rng, size)
    classes = [cls]
    if rng.random() < 0.3 and COMPANIONS.get(cls):
        classes.insert(0, int(rng.choice(COMPANIONS[cls])))
    for class_id in classes:
        style = CLASS_STYLES[class_id]
        radius = rng.uniform(0.22, 0.34) * size if class_id == cls else 0.18 * size
        centre = rng.uniform(0.35, 0.65, 2) * size if class_id == cls else \
            rng.uniform(0.2, 0.8, 2) * size
        angle = rng.uniform(-0.4, 0.4)
        mask = shape_mask(style.shape, size, tuple(centre), radius, angle)
        image[mask] = _paint(rng, style, size, angle)[mask]
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_web_standin(out_dir: str | Path, *, classes=range(1, 21), per_class: int = 40,
                      size: int = 80, seed: int = 0) -> Path:
    """Class folders `out_dir/<VOC name>/` with JPEGs and manifests; complete ones are kept."""
    out_dir = Path(out_dir)
    parameters = {"per_class": per_class, "size": size, "seed": seed, "version": VERSION}
    for cls in classes:
        folder = out_dir / VOC_CLASSES[cls]
        manifest = read_class_manifest(folder)
        if manifest is not None and manifest["parameters"] == parameters:
            continue
        open_class_folder(folder)
        entries = []
        for index in range(per_class):
            buffer = io.BytesIO()
            Image.fromarray(render_web_photo(cls, index, size, seed)).save(
                buffer, format="JPEG", quality=90)
            path = folder / f"{index:05d}.jpg"
            write_file_atomic(path, buffer.getvalue())
            entries.append(image_entry(path, index=index))
        finish_class(folder, VOC_CLASSES[cls], SOURCE, parameters, entries)
    return out_dir
