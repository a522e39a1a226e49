"""RandAugment and AutoAugment (the CIFAR-10 policy), as the Rainbow Memory and SSLAD originals
run them.

Both come from DeepVoltaire's `SubPolicy` (RM's `utils/augment.py`; pip `randaugment==1.0.2`,
whose wheel was read for its op list and magnitudes): an op at level L in 0..9 takes the L-th of 10
evenly spaced magnitudes (`LEVELS`); shear, translate, colour, contrast, sharpness and
brightness pick a random sign per image, rotate does not (always counter-clockwise).
- RandAugment (pip 1.0.2): `num_ops` = 2 ops, each drawn uniformly from the 15 `OPS` with its
  level uniform in 1..9, each applied with probability 0.5. `magnitude` fixes the level.
- AutoAugment: one of the 25 CIFAR-10 sub-policies per image (RM applies it to every data
  set), each of its two ops applied with its own probability at its own level.
Every draw is stateless, keyed by the seed, the op slot and the row; the ops run batched.
"""

from __future__ import annotations

import gin
import numpy as np
import tensorflow as tf

from continual.bindings import check_int
from continual.data.autoaugment import geometry_ops as geo
from continual.data.autoaugment import image_ops as px

OPS = ("Invert", "Cutout", "Sharpness", "AutoContrast", "Posterize", "ShearX", "TranslateX",
       "TranslateY", "ShearY", "Rotate", "Equalize", "Contrast", "Color", "Solarize",
       "Brightness")  # the pip package's order
_ENHANCE = np.linspace(0.0, 0.9, 10)
LEVELS = {"ShearX": np.linspace(0, 0.3, 10), "ShearY": np.linspace(0, 0.3, 10),
          "TranslateX": np.linspace(0, 150 / 331, 10), "TranslateY": np.linspace(0, 150 / 331, 10),
          "Rotate": np.linspace(0, 30, 10), "Color": _ENHANCE, "Contrast": _ENHANCE,
          "Sharpness": _ENHANCE, "Brightness": _ENHANCE,
          "Posterize": np.round(np.linspace(8, 4, 10)), "Solarize": np.linspace(256, 0, 10),
          "Cutout": np.round(np.linspace(0, 20, 10))}
# pip randaugment 1.0.2's `RandAugment()`: what an original that calls the package gets.
PIP_RANDAUGMENT = {"num_ops": 2, "magnitude": None, "probability": 0.5}
SIGNED = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Color", "Contrast", "Sharpness",
          "Brightness")
# The 25 CIFAR-10 sub-policies (Cubuk et al. 2019), as RM's utils/augment.py lists them:
# ((op, probability, level), (op, probability, level)).
CIFAR10_POLICY = (
    (("Invert", 0.1, 7), ("Contrast", 0.2, 6)), (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
    (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)), (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
    (("AutoContrast", 0.5, 8), ("Equalize", 0.9, 2)), (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
    (("Color", 0.4, 3), ("Brightness", 0.6, 7)), (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
    (("Equalize", 0.6, 5), ("Equalize", 0.5, 1)), (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
    (("Color", 0.7, 7), ("TranslateX", 0.5, 8)), (("Equalize", 0.3, 7), ("AutoContrast", 0.4, 8)),
    (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)), (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
    (("Solarize", 0.5, 2), ("Invert", 0.0, 3)), (("Equalize", 0.2, 0), ("AutoContrast", 0.6, 0)),
    (("Equalize", 0.2, 8), ("Equalize", 0.6, 4)), (("Color", 0.9, 9), ("Equalize", 0.6, 6)),
    (("AutoContrast", 0.8, 4), ("Solarize", 0.2, 8)), (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
    (("Solarize", 0.4, 5), ("AutoContrast", 0.9, 3)),
    (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
    (("AutoContrast", 0.9, 2), ("Solarize", 0.8, 3)), (("Equalize", 0.8, 8), ("Invert", 0.1, 3)),
    (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, 1)),
)


def op_output(name: str, images: tf.Tensor, magnitude: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Op `name` of float32 images [B, H, W, C] in [0, 255] at per-image magnitudes [B]
    (already signed; unused by Invert / AutoContrast / Equalize)."""
    size = tf.cast(tf.shape(images)[1:3], tf.float32)
    factor = 1.0 + magnitude
    table = {
        "Invert": lambda: px.invert(images), "AutoContrast": lambda: px.autocontrast(images),
        "Equalize": lambda: px.equalize(images), "Solarize": lambda: px.solarize(images, magnitude),
        "Posterize": lambda: px.posterize(images, magnitude),
        "Cutout": lambda: px.cutout(images, magnitude, seed),
        "Sharpness": lambda: px.sharpness(images, factor),
        "Contrast": lambda: px.contrast(images, factor),
        "Color": lambda: px.color(images, factor),
        "Brightness": lambda: px.brightness(images, factor),
        "ShearX": lambda: geo.shear_x(images, magnitude),
        "ShearY": lambda: geo.shear_y(images, magnitude),
        "TranslateX": lambda: geo.translate(images, magnitude * size[1], 0.0 * magnitude),
        "TranslateY": lambda: geo.translate(images, 0.0 * magnitude, magnitude * size[0]),
        "Rotate": lambda: geo.rotate(images, magnitude),
    }
    return table[name]()


def apply_ops(images: tf.Tensor, op_ids: tf.Tensor, levels: tf.Tensor, applied: tf.Tensor,
              seed: tf.Tensor) -> tf.Tensor:
    """Row i gets op OPS[op_ids[i]] at level levels[i] (0..9) where applied[i], else stays.
    The rows are split by op (dynamic_partition), so each op runs on its own rows only."""
    negative = tf.random.stateless_uniform(tf.shape(op_ids), seed) < 0.5
    part = tf.where(applied, op_ids, len(OPS))             # partition len(OPS): left alone
    rows = tf.range(tf.shape(images)[0])
    parts = tf.dynamic_partition(images, part, len(OPS) + 1)
    part_levels = tf.dynamic_partition(levels, part, len(OPS) + 1)
    part_negative = tf.dynamic_partition(negative, part, len(OPS) + 1)
    outputs = []
    for index, name in enumerate(OPS):
        values = LEVELS.get(name, np.zeros(10))
        magnitude = tf.gather(tf.constant(values, tf.float32), part_levels[index])
        if name in SIGNED:
            magnitude = tf.where(part_negative[index], -magnitude, magnitude)
        outputs.append(op_output(name, parts[index], magnitude, seed + 1))
    outputs.append(parts[len(OPS)])
    result = tf.dynamic_stitch(tf.dynamic_partition(rows, part, len(OPS) + 1), outputs)
    return tf.ensure_shape(result, images.shape)


def _as_float(images: tf.Tensor) -> tf.Tensor:
    return tf.cast(images, tf.float32)


@gin.configurable
class RandAugment:
    """Args:
      num_ops: ops applied in sequence per image (pip 1.0.2: 2).
      magnitude: the level 0..9 of every op; None = each op draws its level in 1..9 (pip).
      probability: the chance each drawn op is applied (pip: 0.5).
    """

    def __init__(self, num_ops: int = 2, magnitude: int | None = None, probability: float = 0.5):
        self.num_ops = check_int("RandAugment.num_ops", num_ops, 1)
        if magnitude is not None and not (isinstance(magnitude, int) and 0 <= magnitude <= 9):
            raise ValueError(f"RandAugment.magnitude = {magnitude!r} must be None (a level "
                             "drawn in 1..9 per op, as pip randaugment 1.0.2) or an int 0..9")
        self.magnitude = magnitude
        if not 0.0 <= float(probability) <= 1.0:
            raise ValueError(f"RandAugment.probability = {probability!r} must be in [0, 1]")
        self.probability = float(probability)

    def describe(self) -> str:
        level = "uniform 1..9" if self.magnitude is None else str(self.magnitude)
        return f"randaug(N={self.num_ops}, level {level}, p={self.probability}, {len(OPS)} ops)"

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """RandAugment of a batch (uint8 or float in [0, 255]); same shape and dtype."""
        out = _as_float(images)
        batch = tf.shape(out)[:1]
        for slot in range(self.num_ops):
            key = tf.random.experimental.stateless_fold_in(seed, slot)
            op_ids = tf.random.stateless_uniform(batch, key, 0, len(OPS), tf.int32)
            levels = tf.random.stateless_uniform(batch, key + 1, 1, 10, tf.int32)
            if self.magnitude is not None:
                levels = tf.fill(batch, self.magnitude)
            applied = tf.random.stateless_uniform(batch, key + 2) < self.probability
            out = apply_ops(out, op_ids, levels, applied, key + 3)
        return tf.cast(out, images.dtype)


def auto_augment(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """AutoAugment's CIFAR-10 policy of a batch (uint8 or float in [0, 255]): per image one
    sub-policy drawn uniformly, then its two ops, each with its probability."""
    out = _as_float(images)
    batch = tf.shape(out)[:1]
    chosen = tf.random.stateless_uniform(batch, seed, 0, len(CIFAR10_POLICY), tf.int32)
    for slot in range(2):
        ops = tf.constant([OPS.index(p[slot][0]) for p in CIFAR10_POLICY], tf.int32)
        odds = tf.constant([p[slot][1] for p in CIFAR10_POLICY], tf.float32)
        levels = tf.constant([p[slot][2] for p in CIFAR10_POLICY], tf.int32)
        key = tf.random.experimental.stateless_fold_in(seed, slot + 1)
        applied = tf.random.stateless_uniform(batch, key) < tf.gather(odds, chosen)
        out = apply_ops(out, tf.gather(ops, chosen), tf.gather(levels, chosen), applied, key + 1)
    return tf.cast(out, images.dtype)
