"""The perturbations whose votes measure a sample's uncertainty (RM's `uncert_metric`).

As the original's `montecarlo` (`methods/finetune.py:559-592`), each perturbation runs on the
image's pixel scale (uint8 there, float32 [0, 255] here) before the test transform:
- 'vr' (the CLI default): Cutout 8, 16, 24, 32 (`augment.cutout`: grey (125, 122, 113));
  RandomHorizontalFlip and RandomVerticalFlip (each image mirrored with probability 0.5);
  RandomRotation(45) and RandomRotation(90) (an angle uniform in [-45, 45] / [-90, 90] per
  image, counter-clockwise for positive angles, nearest, black outside, as torchvision 0.4 calls
  PIL's rotate); invert; solarize at 128, 64, 32 (a pixel >= threshold becomes 255 - pixel).
- 'vr_cutout': 12 independent Cutout(16) draws.
- 'vr_randaug' (the paper's `experiment.sh`): 12 RandAugment draws, each with pip randaugment
  1.0.2's settings (2 ops, level uniform 1..9, p 0.5) whatever `RandAugment.*` binds for
  training; 'vr_autoaug': 12 draws of AutoAugment's CIFAR-10 policy (for every data set, as
  the original's `select_autoaugment`).
The original draws from the global NumPy / Python RNGs; here every draw is stateless, keyed by
the seed the caller passes (the method's seed, task, vote index and batch start), so the votes
differ from one another yet repeat on a rerun (determinism; the distributions are the same).
u(x) = 1 - max_c S_c(x) / T, S_c = the perturbations predicting c (here T = 12).
"""

from __future__ import annotations

import math

import tensorflow as tf

from continual.data.autoaugment import policies
from continual.methods.rainbow_memory.augment import cutout

VR = ("cutout8", "cutout16", "cutout24", "cutout32", "random_hflip", "random_vflip",
      "random_rotate45", "random_rotate90", "invert", "solarize128", "solarize64", "solarize32")
VOTES = 12
METRICS = {"vr": VR, "vr_cutout": ("cutout16",) * VOTES,
           "vr_randaug": tuple(f"randaug{i}" for i in range(VOTES)),
           "vr_autoaug": tuple(f"autoaug{i}" for i in range(VOTES))}


def check_metric(name: str, binding: str) -> tuple[str, ...]:
    """The perturbation list of metric `name`; an unknown name is an error."""
    if name not in METRICS:
        raise ValueError(f"{binding} = {name!r} is not an uncertainty metric; known: "
                         f"{sorted(METRICS)} (the original's CLI also lists 'vr1' and 'loss', "
                         f"which it never implemented)")
    return METRICS[name]


def random_flip(images: tf.Tensor, seed: tf.Tensor, axis: int) -> tf.Tensor:
    """Each image mirrored along `axis` (2: left-right, 1: up-down) with probability 0.5."""
    flip = tf.random.stateless_uniform([tf.shape(images)[0], 1, 1, 1], seed) < 0.5
    return tf.where(flip, tf.reverse(images, axis=[axis]), images)


def rotation_angles(batch: tf.Tensor, limit: float, seed: tf.Tensor) -> tf.Tensor:
    """float32 [batch]: RandomRotation(limit)'s angles, uniform in [-limit, limit] degrees."""
    return tf.random.stateless_uniform([batch], seed, minval=-limit, maxval=limit)


def rotate(images: tf.Tensor, degrees: tf.Tensor) -> tf.Tensor:
    """Image i turned counter-clockwise by degrees[i] about its centre, nearest, zeros outside."""
    angle = tf.cast(degrees, tf.float32) * (math.pi / 180.0)
    cos, sin, zeros = tf.cos(angle), tf.sin(angle), tf.zeros_like(angle)
    cx = (tf.cast(tf.shape(images)[2], tf.float32) - 1.0) / 2.0
    cy = (tf.cast(tf.shape(images)[1], tf.float32) - 1.0) / 2.0
    # output (x, y) reads input R(-angle) about the centre, image y pointing down.
    transforms = tf.stack([cos, -sin, cx - cos * cx + sin * cy,
                           sin, cos, cy - sin * cx - cos * cy, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="NEAREST", fill_mode="CONSTANT")


def perturb(images: tf.Tensor, name: str, seed: tf.Tensor) -> tf.Tensor:
    """Perturbation `name` of float32 images in [0, 255]; its random draws keyed by `seed`."""
    if name.startswith("randaug"):
        return policies.RandAugment(**policies.PIP_RANDAUGMENT)(images, seed)
    if name.startswith("autoaug"):
        return policies.auto_augment(images, seed)
    if name.startswith("cutout"):
        return cutout(images, seed, size=int(name[len("cutout"):]))
    if name == "random_hflip":
        return random_flip(images, seed, axis=2)
    if name == "random_vflip":
        return random_flip(images, seed, axis=1)
    if name.startswith("random_rotate"):
        limit = float(name[len("random_rotate"):])
        return rotate(images, rotation_angles(tf.shape(images)[0], limit, seed))
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
