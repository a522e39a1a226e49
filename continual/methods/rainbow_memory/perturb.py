"""The perturbations whose votes measure a sample's uncertainty (reference §3.2).

`uncertainty_metric = 'vr'` (the original's CLI default) is a fixed list of 12: Cutout 8, 16,
24, 32; horizontal flip; vertical flip; rotate 45 and 90 degrees (counter-clockwise, as PIL,
black fill); invert; solarize at 128, 64, 32 (PIL: a pixel >= threshold becomes 255 - pixel).
`vr_randaug` (the paper's `experiment.sh`): 12 independent RandAugment draws, each with pip
randaugment 1.0.2's settings (2 ops, level uniform 1..9, p 0.5) whatever `RandAugment.*` binds
for training; `vr_autoaug`: 12 draws of AutoAugment's CIFAR-10 policy. Each vote's draws are
keyed by the vote's index, so the 12 differ.
u(x) = 1 - max_c S_c(x) / T, S_c = the perturbations predicting c (here T = 12).
"""

from __future__ import annotations

import math

import tensorflow as tf

from continual.methods.rainbow_memory import policies
from continual.methods.rainbow_memory.augment import cutout

VR = ("cutout8", "cutout16", "cutout24", "cutout32", "hflip", "vflip", "rotate45", "rotate90",
      "invert", "solarize128", "solarize64", "solarize32")
VOTES = 12
METRICS = {"vr": VR, "vr_randaug": tuple(f"randaug{i}" for i in range(VOTES)),
           "vr_autoaug": tuple(f"autoaug{i}" for i in range(VOTES))}
NOT_YET = ("vr_cutout",)
PIP_RANDAUGMENT = {"num_ops": 2, "magnitude": None, "probability": 0.5}


def check_metric(name: str, binding: str) -> tuple[str, ...]:
    """The perturbation list of metric `name`; an unknown or unported name is an error."""
    if name in NOT_YET:
        raise ValueError(f"{binding} = {name!r} is not implemented in this port yet; use one "
                         f"of {sorted(METRICS)}")
    if name not in METRICS:
        raise ValueError(f"{binding} = {name!r} is not an uncertainty metric; known: "
                         f"{sorted(METRICS)} (not yet implemented: {list(NOT_YET)})")
    return METRICS[name]


def rotate(images: tf.Tensor, degrees: float) -> tf.Tensor:
    """Counter-clockwise rotation about the image centre, nearest, zeros outside."""
    height = tf.cast(tf.shape(images)[1], tf.float32)
    width = tf.cast(tf.shape(images)[2], tf.float32)
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    # output (x, y) reads input R(-angle) about the centre, image y pointing down.
    transform = tf.stack([cos, -sin, cx - cos * cx + sin * cy,
                          sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0])
    transforms = tf.tile(transform[None], [tf.shape(images)[0], 1])
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="NEAREST", fill_mode="CONSTANT")


def perturb(images: tf.Tensor, name: str, seed: tf.Tensor) -> tf.Tensor:
    """Perturbation `name` of float32 images in [0, 255] (Cutout centres keyed by `seed`)."""
    if name.startswith("randaug"):
        return policies.RandAugment(**PIP_RANDAUGMENT)(images, seed)
    if name.startswith("autoaug"):
        return policies.auto_augment(images, seed)
    if name.startswith("cutout"):
        return cutout(images, seed, size=int(name[len("cutout"):]))
    if name == "hflip":
        return tf.reverse(images, axis=[2])
    if name == "vflip":
        return tf.reverse(images, axis=[1])
    if name.startswith("rotate"):
        return rotate(images, float(name[len("rotate"):]))
    if name == "invert":
        return 255.0 - images
    if name.startswith("solarize"):
        threshold = float(name[len("solarize"):])
        return tf.where(images >= threshold, 255.0 - images, images)
    raise ValueError(f"unknown perturbation {name!r}; known: {VR}, randaug<i>, autoaug<i>")


def vote_uncertainty(votes: tf.Tensor) -> tf.Tensor:
    """float32 [N]: 1 - (most frequent prediction's count) / T from int votes [T, N]."""
    counts = tf.reduce_sum(tf.one_hot(votes, tf.reduce_max(votes) + 1), axis=0)
    total = tf.cast(tf.shape(votes)[0], tf.float32)
    return 1.0 - tf.reduce_max(counts, axis=-1) / total
