"""Class mapper: which generator (ImageNet) class stands for each VOC class (the original
README's GAN section).

As RECALL's README describes: run an ImageNet classifier on the training images whose label
contains the VOC class, average the softmax over those images and take the class with the
highest mean. A user's override (gin or CLI; e.g. for `person`, which has no ImageNet class)
wins over the classifier. The mapping is a JSON file a user may edit:
{"aeroplane": {"voc_id": 1, "imagenet_class": 404, "score": 0.61, "top5": [[404, 0.61], ...],
"num_images": 57, "override": false}, ...}.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from continual.bindings import supplied_configurable
from continual.data.classes import VOC_CLASSES, class_id
from continual.data.manifest import Manifest, write_json_atomic
from continual.data.pipeline import EncodedRecords, decode_image_and_label
from continual.errors import InputError

GENERATOR_CLASSES = 1000  # BigGAN's one-hot width
TOP_K = 5


class ClassMappingError(InputError):
    """A mapping file or override that names an unknown class or an impossible id."""


def _image_batches(records: EncodedRecords, indices: list[int], size, batch_size: int):
    """float32 [0,1] images of `indices`, resized to `size`, batched (one by one without it)."""
    def load(index):
        image, _ = decode_image_and_label(records.gather(index))
        image = tf.cast(image, tf.float32) / 255.0
        return tf.image.resize(image, size, method="bilinear") if size else image

    dataset = tf.data.Dataset.from_tensor_slices(records.check_indices(indices, "class mapper"))
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size if size else 1).prefetch(tf.data.AUTOTUNE)


def _generator_probabilities(scores: np.ndarray, output_kind: str, background_slot: bool | None,
                             generator_classes: int) -> np.ndarray:
    """Softmax rows aligned with the generator's one-hot: the background slot dropped."""
    width = scores.shape[1]
    if background_slot is None:
        background_slot = width == generator_classes + 1
    probs = scores if output_kind == "probabilities" else tf.nn.softmax(scores).numpy()
    if background_slot:
        probs = probs[:, 1:]
    if probs.shape[1] != generator_classes:
        raise ClassMappingError(
            f"the classifier gives {width} outputs (background_slot={background_slot}) but the "
            f"generator's one-hot has {generator_classes} classes; set background_slot (True "
            "drops output 0) or use a classifier over the generator's label space")
    return probs / probs.sum(1, keepdims=True)


def check_override(name: str, imagenet_class, generator_classes: int | None, where: str) -> int:
    """An override / mapping id as an int in 0..generator_classes-1, or an error naming it."""
    valid = isinstance(imagenet_class, (int, np.integer)) and not isinstance(imagenet_class, bool)
    upper = generator_classes - 1 if generator_classes else None
    if not valid or imagenet_class < 0 or (upper is not None and imagenet_class > upper):
        limit = f"0..{upper}" if upper is not None else ">= 0"
        raise ClassMappingError(f"{where}: entry {name!r} has imagenet_class {imagenet_class!r}; "
                                f"expected an integer in {limit} (the generator's classes); "
                                "fix the id")
    return int(imagenet_class)


def _voc_name(name_or_id, where: str) -> str:
    if isinstance(name_or_id, (int, np.integer)) and 0 < int(name_or_id) < len(VOC_CLASSES):
        return VOC_CLASSES[int(name_or_id)]
    if name_or_id in VOC_CLASSES[1:]:
        return name_or_id
    raise ClassMappingError(f"{where}: entry {name_or_id!r} is not a VOC class; expected one "
                            f"of {', '.join(VOC_CLASSES[1:])} (or ids 1..20); fix the name")


def _entry(voc: str, probs: np.ndarray | None, override: int | None) -> dict:
    if probs is None:
        mean, top = None, []
    else:
        mean = probs.mean(0)
        top = [[int(k), round(float(mean[k]), 6)] for k in np.argsort(-mean, kind="stable")[:TOP_K]]
    chosen = override if override is not None else top[0][0]
    return {"voc_id": class_id(voc), "imagenet_class": int(chosen),
            "score": None if mean is None else round(float(mean[chosen]), 6), "top5": top,
            "num_images": 0 if probs is None else int(probs.shape[0]),
            "override": override is not None}


@supplied_configurable(classifier=None, records=None, record_classes=None, voc_classes=None,
                       generator_classes=None, batch_size="GanReplay.mapper_batch_size",
                       overrides="GanReplay.overrides")
def map_classes(classifier, records: EncodedRecords | Manifest, record_classes=None,
                voc_classes=None, *, batch_size: int = 16, image_size=None,
                overrides: dict[str, int] | None = None, background_slot: bool | None = None,
                generator_classes: int = GENERATOR_CLASSES) -> dict:
    """{VOC name: {"voc_id", "imagenet_class", "score", "top5", "num_images", "override"}}.

    Args:
      classifier: a `hub_models.Classifier` (any callable on [N,H,W,3] images in [0,1];
        `output_kind` "logits" gets a softmax, "probabilities" is used as is).
      records / record_classes: the training images and, per record, the VOC ids its label
        holds (taken from the manifest when `records` is one).
      voc_classes: VOC ids (or names) to map; default every class present.
      image_size: (h, w) images are resized to before batching; default the classifier's own.
      background_slot: drop output 0 of a K+1-way classifier; None: when K == generator + 1.
    """
    if isinstance(records, Manifest):
        record_classes = record_classes or records.record_classes()
        records = EncodedRecords.from_manifest(records)
    if record_classes is None or len(record_classes) != len(records):
        raise ValueError(f"record_classes must list the classes of each of the {len(records)} "
                         "records (pass the manifest, or manifest.record_classes())")
    names = sorted({_voc_name(c, "voc_classes") for c in (voc_classes or
                    {c for cls in record_classes for c in cls if 0 < c < len(VOC_CLASSES)})},
                   key=class_id)
    overrides = {_voc_name(k, "overrides"): check_override(k, v, generator_classes, "overrides")
                 for k, v in (overrides or {}).items()}
    members = {n: [i for i, cls in enumerate(record_classes) if class_id(n) in cls] for n in names}
    missing = [n for n in names if not members[n] and n not in overrides]
    if missing:
        raise ClassMappingError(f"no training image contains {missing}; give an override "
                                "(e.g. --override person=981 or map_classes.overrides)")
    needed = sorted({i for n in names for i in members[n]})
    probs = _classify(classifier, records, needed, batch_size, image_size, background_slot,
                      generator_classes)
    row = {index: k for k, index in enumerate(needed)}
    return {n: _entry(n, probs[[row[i] for i in members[n]]] if members[n] else None,
                      overrides.get(n)) for n in names}


def _classify(classifier, records, indices, batch_size, image_size, background_slot,
              generator_classes) -> np.ndarray:
    """Generator-aligned probabilities [len(indices), generator_classes]."""
    if not indices:
        return np.zeros((0, generator_classes))
    size = image_size or getattr(classifier, "input_size", None)
    batches = _image_batches(records, indices, tuple(size) if size else None, batch_size)
    scores = [np.asarray(classifier(images)) for images in
              tqdm(batches, desc="class mapper", unit="batch")]
    return _generator_probabilities(np.concatenate(scores),
                                    getattr(classifier, "output_kind", "logits"),
                                    background_slot, generator_classes)


def write_mapping(path: str | os.PathLike, mapping: dict) -> Path:
    """Write the mapping as JSON (atomic, one class per key, easy to edit)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, mapping)
    return path


def read_mapping(path: str | os.PathLike, generator_classes: int | None = None) -> dict:
    """Load and check a mapping file: VOC class names, ids in 0..generator_classes-1."""
    path = Path(path)
    if not path.exists():
        raise ClassMappingError(f"{path} does not exist; create it with `python "
                                "gan/generate_gan.py map --classifier H --data DIR --out FILE`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ClassMappingError(f"{path} is not valid JSON ({err}); fix or recreate it") from err
    if not isinstance(data, dict) or not data:
        raise ClassMappingError(f"{path}: expected an object {{VOC class name: {{"
                                "\"imagenet_class\": id, ...}}}}; fix or recreate it")
    for name, entry in data.items():
        _voc_name(name, str(path))
        if not isinstance(entry, dict) or "imagenet_class" not in entry:
            raise ClassMappingError(f"{path}: entry {name!r} has no \"imagenet_class\"; add "
                                    "the generator class id for it")
        check_override(name, entry["imagenet_class"], generator_classes, str(path))
        if entry.get("voc_id", class_id(name)) != class_id(name):
            raise ClassMappingError(f"{path}: entry {name!r} has voc_id {entry['voc_id']!r} but "
                                    f"{name} is VOC id {class_id(name)}; fix or drop voc_id")
    return data
