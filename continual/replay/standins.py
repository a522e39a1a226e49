"""Offline stand-ins for the TF-Hub models of the GAN replay source (the original README's
GAN section).

No network here, so the embedded default replaces BigGAN-deep and the ImageNet classifier with
small SavedModels that this module builds, with the same interfaces, and that go through the
same code path (`hub.load`, signature checks, class mapper, generation):

- generator: (z [N,128], y one-hot [N,num_classes], truncation []) -> images [N,S,S,3] in
  [-1,1]. Label ids `SYNTHETIC_CLASS_IDS` draw the object of a synthetic VOC class (a template
  cut from `continual.data.synthetic` scenes, jittered by z: template, flip, shift, brightness) on a
  two-tone "horizon" background unlike the training set's gradients; other ids give smooth noise.
  Built as a TF2 SavedModel (`build_standin_generator`) or in the TF1 Hub format of the published
  BigGAN modules (`build_tf1_hub_generator`, recognised by `tfhub_module.pb`).
- classifier: images [N,64,64,3] in [0,1] -> logits [N,num_classes] (or num_classes + 1 with a
  background slot at 0): a per-pixel colour/texture classifier fitted in closed form on synthetic
  scenes, whose class shares over the object pixels become the image's class probabilities.

A build writes `standin.json` (its parameters) inside the model folder, last; a folder with the
same parameters is reused, so the demo builds each stand-in once.
"""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from continual.data.classes import VOC_CLASSES
from continual.data.stale_temps import remove_stale_temp_files, temp_tag
from continual.data.synthetic import render_example
from continual.errors import InputError

STANDIN_VERSION = 1  # bump when a stand-in's computation changes, so old builds are rebuilt
STANDIN_FILE = "standin.json"
Z_DIM = 128
# The label id of each synthetic VOC class: the ImageNet class of the same kind of object
# (0-based ImageNet ids; person has none in ImageNet, so it takes "ballplayer").
SYNTHETIC_CLASS_IDS = {
    1: 404, 2: 444, 3: 15, 4: 484, 5: 440, 6: 779, 7: 817, 8: 281, 9: 559, 10: 345,
    11: 532, 12: 207, 13: 339, 14: 670, 15: 981, 16: 738, 17: 348, 18: 831, 19: 466, 20: 664,
}
TEMPLATES_PER_CLASS = 6
TEMPLATE_SEED_OFFSET = 104_729  # template scenes never coincide with a dataset seed's images
MAX_TEMPLATE_SCENES = 20_000


class StandinError(InputError):
    """Bad stand-in parameters or an output folder that is not ours to replace."""


def check_class_ids(class_ids: dict[int, int] | None, num_classes: int) -> dict[int, int]:
    """The VOC id -> label id table: all 20 VOC classes, distinct ids in 0..num_classes-1."""
    table = {int(k): int(v) for k, v in (class_ids or SYNTHETIC_CLASS_IDS).items()}
    voc_ids = set(range(1, len(VOC_CLASSES)))
    if set(table) != voc_ids:
        raise StandinError(f"class_ids must map every VOC id 1..20 to a label id; missing "
                           f"{sorted(voc_ids - set(table))}, "
                           f"unknown {sorted(set(table) - voc_ids)}")
    bad = {k: v for k, v in table.items() if not 0 <= v < num_classes}
    if bad or len(set(table.values())) != len(table):
        raise StandinError(f"class_ids must be distinct label ids in 0..{num_classes - 1}; got "
                           f"{bad or 'duplicates'} (use a larger num_classes or other ids)")
    return dict(sorted(table.items()))


# ---------------------------------------------------------------- building once, atomically

def _same_build(folder: Path, params: dict) -> bool:
    marker = folder / STANDIN_FILE
    if not marker.exists():
        return False
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return False  # a damaged record of our own build: rebuild it
    return recorded == json.loads(json.dumps(params))


def build_once(out_dir: str | os.PathLike, params: dict, build: Callable[[Path], None]) -> Path:
    """Run `build(tmp_folder)`, then move it to `out_dir`; skip when already built alike.

    A folder without our `standin.json` is never deleted: the error asks to pick another.
    """
    out_dir = Path(out_dir)
    if _same_build(out_dir, params):
        print(f"stand-in {params['kind']} in {out_dir}: up to date, reused")
        return out_dir
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / STANDIN_FILE).exists():
        raise StandinError(f"{out_dir} exists and is not a stand-in build (no {STANDIN_FILE}); "
                           "choose an empty or new folder")
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{temp_tag()}")
    shutil.rmtree(tmp, ignore_errors=True)
    remove_stale_temp_files(out_dir.parent, prefix=f".{out_dir.name}.tmp-", recursive=False)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        build(tmp)
        (tmp / STANDIN_FILE).write_text(json.dumps(params, indent=1, sort_keys=True),
                                        encoding="utf-8")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    print(f"stand-in {params['kind']} built in {out_dir}")
    return out_dir


# ---------------------------------------------------------------- generator

def _template_from_scene(image: np.ndarray, label: np.ndarray, class_id: int) -> np.ndarray:
    """RGBA uint8 [S,S,4] of the one object of a scene, cut out and centred."""
    size = image.shape[0]
    mask = (label == class_id) | (label == 255)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    top, left = rows[0], cols[0]
    height, width = rows[-1] - top + 1, cols[-1] - left + 1
    out = np.zeros((size, size, 4), np.uint8)
    y0, x0 = (size - height) // 2, (size - width) // 2
    crop = np.s_[top:top + height, left:left + width]
    out[y0:y0 + height, x0:x0 + width, :3] = image[crop] * mask[crop][..., None]
    out[y0:y0 + height, x0:x0 + width, 3] = mask[crop] * 255
    return out


@functools.lru_cache(maxsize=4)  # a build of both formats renders them once
def object_templates(size: int, seed: int, per_class: int = TEMPLATES_PER_CLASS) -> np.ndarray:
    """uint8 [20, per_class, S, S, 4]: single-object synthetic scenes' objects, VOC id order."""
    bank: dict[int, list[np.ndarray]] = {c: [] for c in range(1, len(VOC_CLASSES))}
    for index in range(MAX_TEMPLATE_SCENES):
        image, label = render_example(seed + TEMPLATE_SEED_OFFSET, "train", index, size)
        present = set(np.unique(label).tolist()) - {0, 255}
        inside = not (label[[0, -1]].any() or label[:, [0, -1]].any())  # whole object in view
        if len(present) == 1 and inside and len(bank[next(iter(present))]) < per_class:
            class_id = present.pop()
            bank[class_id].append(_template_from_scene(image, label, class_id))
        if all(len(v) == per_class for v in bank.values()):
            return np.stack([np.stack(bank[c]) for c in sorted(bank)])
    raise StandinError(f"found too few single-object scenes in {MAX_TEMPLATE_SCENES} renders")


def _uniform(z: tf.Tensor, column: int) -> tf.Tensor:
    """Normal CDF of z[:, column]: a value in (0, 1) per image, driven by the noise."""
    return 0.5 * (1.0 + tf.math.erf(z[:, column] / np.sqrt(2.0)))


def _horizon_background(z: tf.Tensor, size: int) -> tf.Tensor:
    """Two dull tones split by a tilted horizon, with a soft vignette: [N,S,S,3] in [0,1]."""
    sky = 0.35 + 0.4 * tf.stack([_uniform(z, k) for k in (5, 6, 7)], -1)
    ground = 0.15 + 0.35 * tf.stack([_uniform(z, k) for k in (8, 9, 10)], -1)
    grey = lambda rgb: 0.6 * tf.reduce_mean(rgb, -1, keepdims=True) + 0.4 * rgb  # noqa: E731
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size
    y, x = coords[:, None], coords[None, :]
    level = 0.35 + 0.3 * _uniform(z, 11)[:, None, None]
    tilt = 0.3 * (_uniform(z, 12)[:, None, None] - 0.5)
    below = tf.cast(y > level + tilt * (x - 0.5), tf.float32)[..., None]
    vignette = tf.constant(1.0 - 0.35 * ((y - 0.5) ** 2 + (x - 0.5) ** 2), tf.float32)[..., None]
    image = below * grey(ground)[:, None, None] + (1 - below) * grey(sky)[:, None, None]
    return image * vignette


def _jittered_objects(z, slots, strength, templates, size: int) -> tf.Tensor:
    """RGBA [N,S,S,4] of each image's object: template choice, flip, shift, brightness from z."""
    per_class = templates.shape[1]
    choice = tf.minimum(tf.cast(_uniform(z, 0) * per_class, tf.int32), per_class - 1)
    flat = tf.reshape(templates, [-1, size, size, 4])
    rgba = tf.cast(tf.gather(flat, tf.maximum(slots, 0) * per_class + choice), tf.float32) / 255
    flip = tf.where(_uniform(z, 1) > 0.5, -1.0, 1.0)
    shift = [strength * 0.25 * size * (_uniform(z, k) - 0.5) for k in (2, 3)]
    zeros = tf.zeros_like(flip)
    # Output pixel (x, y) reads input (flip * x + offset, y - dy).
    offset = (1.0 - flip) / 2.0 * (size - 1) - flip * shift[0]
    transforms = tf.stack([flip, zeros, offset, zeros, zeros + 1, -shift[1], zeros, zeros], 1)
    rgba = tf.raw_ops.ImageProjectiveTransformV3(
        images=rgba, transforms=transforms, output_shape=tf.constant([size, size]),
        fill_value=0.0, interpolation="NEAREST")
    brightness = 1.0 + strength * 0.3 * (_uniform(z, 4) - 0.5)
    return tf.concat([rgba[..., :3] * brightness[:, None, None, None], rgba[..., 3:]], -1)


def _noise_images(z: tf.Tensor, projection: np.ndarray, size: int) -> tf.Tensor:
    """Smooth colour noise [N,S,S,3] in [0,1] for label ids that are not synthetic classes."""
    coarse = tf.tanh(tf.matmul(z, tf.constant(projection)))
    cells = int(round(np.sqrt(projection.shape[1] // 3)))
    coarse = tf.reshape(coarse, [-1, cells, cells, 3])
    return 0.5 + 0.45 * tf.image.resize(coarse, [size, size], method="bilinear")


def standin_images(z, y, truncation, tables: dict) -> tf.Tensor:
    """The stand-in generator's computation, shared by the TF2 and the TF1 Hub builds."""
    size = int(tables["templates"].shape[2])
    slots = tf.gather(tf.constant(tables["slot_of_id"]), tf.argmax(y, axis=1, output_type=tf.int32))
    strength = tf.clip_by_value(truncation, 0.0, 1.0)
    objects = _jittered_objects(z, slots, strength, tf.constant(tables["templates"]), size)
    alpha = objects[..., 3:]
    scene = alpha * objects[..., :3] + (1 - alpha) * _horizon_background(z, size)
    noise = _noise_images(z, tables["projection"], size)
    image = tf.where((slots >= 0)[:, None, None, None], scene, noise)
    return tf.clip_by_value(image, 0.0, 1.0) * 2.0 - 1.0


def generator_tables(size: int, num_classes: int, seed: int, class_ids: dict[int, int]) -> dict:
    """The constants of a stand-in generator: object templates, id -> class slot, noise map."""
    slot_of_id = np.full([num_classes], -1, np.int32)
    for slot, voc_id in enumerate(sorted(class_ids)):
        slot_of_id[class_ids[voc_id]] = slot
    cells = max(2, size // 8)
    rng = np.random.default_rng([seed, 7])
    projection = rng.normal(0, 2.0 / np.sqrt(Z_DIM), (Z_DIM, cells * cells * 3)).astype(np.float32)
    return {"templates": object_templates(size, seed), "slot_of_id": slot_of_id,
            "projection": projection}


def _generator_specs(num_classes: int) -> list[tf.TensorSpec]:
    return [tf.TensorSpec([None, Z_DIM], tf.float32, name="z"),
            tf.TensorSpec([None, num_classes], tf.float32, name="y"),
            tf.TensorSpec([], tf.float32, name="truncation")]


class _StandinGenerator(tf.Module):
    def __init__(self, tables: dict, num_classes: int):
        super().__init__(name="standin_generator")
        self._tables = tables
        specs = _generator_specs(num_classes)
        self.__call__ = tf.function(self._images, input_signature=specs)
        self.serve = tf.function(
            lambda z, y, truncation: {"default": self._images(z, y, truncation)},
            input_signature=specs)

    def _images(self, z, y, truncation):
        return standin_images(z, y, truncation, self._tables)


def _generator_params(kind, size, num_classes, seed, class_ids) -> dict:
    if size < 24:
        raise StandinError(f"stand-in generator size must be >= 24 px, got {size}")
    return {"kind": kind, "version": STANDIN_VERSION, "size": size, "num_classes": num_classes,
            "seed": seed, "z_dim": Z_DIM, "class_ids": check_class_ids(class_ids, num_classes)}


def build_standin_generator(out_dir: str | os.PathLike, *, size: int = 64,
                            num_classes: int = 1000, seed: int = 0,
                            class_ids: dict[int, int] | None = None) -> Path:
    """Build (or reuse) the TF2 SavedModel stand-in of BigGAN-deep in `out_dir`."""
    params = _generator_params("generator-tf2", size, num_classes, seed, class_ids)

    def build(folder: Path) -> None:
        tables = generator_tables(size, num_classes, seed, params["class_ids"])
        module = _StandinGenerator(tables, num_classes)
        tf.saved_model.save(module, str(folder),
                            signatures={"default": module.serve.get_concrete_function()})

    return build_once(out_dir, params, build)


def build_tf1_hub_generator(out_dir: str | os.PathLike, *, size: int = 64,
                            num_classes: int = 1000, seed: int = 0,
                            class_ids: dict[int, int] | None = None) -> Path:
    """Build (or reuse) the same generator in the TF1 Hub format of the published BigGANs."""
    params = _generator_params("generator-tf1-hub", size, num_classes, seed, class_ids)

    def build(folder: Path) -> None:
        tables = generator_tables(size, num_classes, seed, params["class_ids"])
        graph = tf.Graph()
        with graph.as_default():
            z, y, truncation = (tf.compat.v1.placeholder(s.dtype, s.shape, name=s.name)
                                for s in _generator_specs(num_classes))
            images = standin_images(z, y, truncation, tables)
            signature = tf.compat.v1.saved_model.signature_def_utils.predict_signature_def(
                {"z": z, "y": y, "truncation": truncation}, {"default": images})
            with tf.compat.v1.Session(graph=graph) as session:
                builder = tf.compat.v1.saved_model.Builder(str(folder))
                builder.add_meta_graph_and_variables(session, tags=[],
                                                     signature_def_map={"default": signature})
                builder.save()
        (folder / "tfhub_module.pb").write_bytes(b"\x08\x03")

    return build_once(out_dir, params, build)


# ---------------------------------------------------------------- classifier

CLASSIFIER_SEED_OFFSET = 7_919  # its training scenes differ from datasets and templates
PIXELS_PER_SCENE = 300
RIDGE = 1e-3
MAJORITY = 0.6  # share of a 7x7 window a pixel's class needs to count
LOG_FLOOR = 1e-6  # probability floor of label ids the stand-in never predicts


def _gabor_bank() -> np.ndarray:
    """Even/odd Gabor filters [9,9,1,16] at 4 orientations and wavelengths 5 and 8 px."""
    r = np.arange(9, dtype=np.float64) - 4
    yy, xx = np.meshgrid(r, r, indexing="ij")
    filters = []
    for wavelength in (5.0, 8.0):
        envelope = np.exp(-(xx ** 2 + yy ** 2) / (2 * (0.6 * wavelength) ** 2))
        for theta in np.arange(4) * np.pi / 4:
            u = xx * np.cos(theta) + yy * np.sin(theta)
            for phase in (0.0, np.pi / 2):
                g = envelope * np.cos(2 * np.pi * u / wavelength + phase)
                g -= g.mean()
                filters.append(g / np.abs(g).sum())
    return np.stack(filters, -1)[:, :, None, :].astype(np.float32)


def pixel_features(images: tf.Tensor) -> tf.Tensor:
    """[N,H,W,17] per-pixel colour and texture features of RGB images in [0, 1].

    Local mean colour, local contrast, oriented Gabor energy (stripes vs checker) and the
    local bright / dark excess (light dots vs dark stripes): the cues that separate the
    synthetic classes pixel by pixel.
    """
    def pool(t):
        return tf.nn.avg_pool2d(t, 5, 1, "SAME")

    mean = pool(images)
    contrast = tf.sqrt(tf.maximum(pool(images * images) - mean * mean, 1e-6))
    luma = tf.reduce_mean(images, -1, keepdims=True)
    response = tf.nn.conv2d(luma, tf.constant(_gabor_bank()), 1, "SAME")
    energy = pool(tf.sqrt(response[..., 0::2] ** 2 + response[..., 1::2] ** 2 + 1e-6))
    local = pool(luma)
    bright = pool(tf.nn.max_pool2d(luma, 3, 1, "SAME")) - local
    dark = local + pool(tf.nn.max_pool2d(-luma, 3, 1, "SAME"))
    return tf.concat([mean, contrast, 4.0 * energy, bright, dark], -1)


def _quadratic(features: np.ndarray) -> np.ndarray:
    """[.., 1 + n + n(n+1)/2]: bias, the features and their pairwise products."""
    upper = np.triu_indices(features.shape[-1])
    ones = np.ones(features.shape[:-1] + (1,))
    return np.concatenate([ones, features, features[..., upper[0]] * features[..., upper[1]]], -1)


def _jpeg(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _training_pixels(input_size: int, seed: int, num_scenes: int):
    """(features [P,17], labels [P]) of sampled non-void pixels of synthetic scenes."""
    from PIL import Image  # local: only the build needs it

    rng = np.random.default_rng([seed, 11])
    sizes = [max(24, input_size // 2), max(24, 3 * input_size // 4), input_size]
    images, labels = [], []
    for index in range(num_scenes):
        size = sizes[index % len(sizes)]
        image, label = render_example(seed + CLASSIFIER_SEED_OFFSET, "train", index, size)
        image = Image.open(io.BytesIO(_jpeg(image)))  # the data sets store JPEG (quality 95)
        images.append(np.asarray(image.resize((input_size,) * 2, Image.BILINEAR)) / 255.0)
        labels.append(np.asarray(Image.fromarray(label).resize((input_size,) * 2,
                                                               Image.NEAREST)))
    features = pixel_features(tf.constant(np.stack(images), tf.float32)).numpy()
    picked_x, picked_y = [], []
    for feature, label in zip(features, labels, strict=True):
        valid = np.flatnonzero(label.reshape(-1) != 255)
        pick = rng.choice(valid, min(PIXELS_PER_SCENE, valid.size), replace=False)
        picked_x.append(feature.reshape(-1, feature.shape[-1])[pick])
        picked_y.append(label.reshape(-1)[pick])
    return np.concatenate(picked_x).astype(np.float64), np.concatenate(picked_y)


@functools.lru_cache(maxsize=2)  # classifiers that differ only in output layout share it
def fit_pixel_classifier(input_size: int, seed: int, num_scenes: int) -> dict:
    """Class-balanced ridge regression of one-hot pixel classes (0 = background, 1..20) on
    quadratic features: closed form, so the build is deterministic and takes seconds."""
    x, labels = _training_pixels(input_size, seed, num_scenes)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    design = _quadratic((x - mean) / scale)
    counts = np.bincount(labels, minlength=len(VOC_CLASSES))
    weight = 1.0 / np.maximum(counts[labels], 1)
    gram = design.T @ (design * weight[:, None])
    gram += RIDGE * weight.sum() * np.eye(design.shape[1])
    targets = np.eye(len(VOC_CLASSES))[labels]
    coef = np.linalg.solve(gram, design.T @ (targets * weight[:, None]))
    n = x.shape[1]
    upper = np.triu_indices(n)
    quadratic = np.zeros((n, n, len(VOC_CLASSES)))
    quadratic[upper[0], upper[1]] = coef[n + 1:]
    accuracy = float(((design @ coef).argmax(1) == labels).mean())
    return {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32),
            "bias": coef[0].astype(np.float32), "linear": coef[1:n + 1].astype(np.float32),
            "quadratic": quadratic.reshape(n, -1).astype(np.float32),
            "train_pixel_accuracy": accuracy}


def pixel_class_scores(images: tf.Tensor, weights: dict) -> tf.Tensor:
    """[N,H,W,21] ridge scores of background and the 20 classes per pixel."""
    f = (pixel_features(images) - weights["mean"]) / weights["scale"]
    pairs = tf.tensordot(f, tf.constant(weights["quadratic"]), 1)
    pairs = tf.reshape(pairs, tf.concat([tf.shape(f), [len(VOC_CLASSES)]], 0))
    return (weights["bias"] + tf.tensordot(f, tf.constant(weights["linear"]), 1)
            + tf.einsum("nhwi,nhwic->nhwc", f, pairs))


def standin_logits(images: tf.Tensor, weights: dict, placement: np.ndarray) -> tf.Tensor:
    """Image logits from the per-pixel classes, placed at each class's label id.

    A pixel counts for the class that holds a clear majority (> 60 %) of the 7x7 window around
    it (stray pixels on outlines count for none); a class's score is the square root
    of its share of the object pixels, so a small object next to a large one still counts
    (as it does for an ImageNet classifier), and stray pixels barely do.
    """
    classes = len(VOC_CLASSES)
    votes = tf.one_hot(tf.argmax(pixel_class_scores(images, weights), -1), classes)
    shares = tf.nn.avg_pool2d(votes, 7, 1, "SAME")
    clear = tf.cast(tf.reduce_max(shares, -1, keepdims=True) > MAJORITY, tf.float32)
    majority = tf.one_hot(tf.argmax(shares, -1), classes) * clear
    counts = tf.reduce_sum(majority[..., 1:], [1, 2]) + 1e-3  # uniform when no object at all
    presence = tf.sqrt(counts / tf.reduce_sum(counts, -1, keepdims=True))
    presence /= tf.reduce_sum(presence, -1, keepdims=True)
    return tf.math.log(LOG_FLOOR + tf.matmul(presence, tf.constant(placement)))


class _StandinClassifier(tf.Module):
    def __init__(self, weights: dict, placement: np.ndarray, input_size: int):
        super().__init__(name="standin_classifier")
        spec = [tf.TensorSpec([None, input_size, input_size, 3], tf.float32, name="images")]
        logits = lambda images: standin_logits(images, weights, placement)  # noqa: E731
        self.__call__ = tf.function(logits, input_signature=spec)
        self.serve = tf.function(lambda images: {"default": logits(images)}, input_signature=spec)


def build_standin_classifier(out_dir: str | os.PathLike, *, num_classes: int = 1000,
                             background_slot: bool = False, input_size: int = 64, seed: int = 0,
                             class_ids: dict[int, int] | None = None,
                             num_scenes: int = 300) -> Path:
    """Build (or reuse) the stand-in ImageNet classifier: images [N,S,S,3] in [0,1] -> logits
    [N, num_classes], or [N, num_classes + 1] with `background_slot` (a slot 0 never predicted,
    so label id k is output k + 1, as in some TF-Hub classifiers)."""
    params = {"kind": "classifier", "version": STANDIN_VERSION, "num_classes": num_classes,
              "background_slot": background_slot, "input_size": input_size, "seed": seed,
              "class_ids": check_class_ids(class_ids, num_classes), "num_scenes": num_scenes}

    def build(folder: Path) -> None:
        weights = fit_pixel_classifier(input_size, seed, num_scenes)
        shift = 1 if background_slot else 0
        placement = np.zeros([len(VOC_CLASSES) - 1, num_classes + shift], np.float32)
        for voc_id, label_id in params["class_ids"].items():
            placement[voc_id - 1, label_id + shift] = 1.0
        module = _StandinClassifier(weights, placement, input_size)
        tf.saved_model.save(module, str(folder),
                            signatures={"default": module.serve.get_concrete_function()})

    return build_once(out_dir, params, build)


def build_standins(out_dir: str | os.PathLike, *, size: int = 64, seed: int = 0,
                   num_classes: int = 1000, background_slot: bool = False) -> dict:
    """The demo's two stand-ins under `out_dir`: {"generator", "classifier", "class_ids"}."""
    out_dir = Path(out_dir)
    return {"generator": build_standin_generator(out_dir / "generator", size=size,
                                                 num_classes=num_classes, seed=seed),
            "classifier": build_standin_classifier(out_dir / "classifier",
                                                   num_classes=num_classes, seed=seed,
                                                   background_slot=background_slot),
            "class_ids": dict(SYNTHETIC_CLASS_IDS)}
