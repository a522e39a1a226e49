"""Rainbow Memory's training augmentations, as a gin list of names (RM's
`utils/augment.py` and `utils/data_loader.py`).

The train transform is always RandomCrop(size, padding 4, zero fill) then a horizontal flip;
the names in `RainbowMemory.transforms` add to it: 'cutout' (one 16-pixel square of the
original's grey at a random centre, clipped at the border; see `cutout`) and 'cutmix' (a
random box pasted from a permuted batch with probability 0.5 per batch, the loss mixed by the
box's area), 'randaug' (RandAugment, pip randaugment 1.0.2's, gin `RandAugment.*`) and 'autoaug'
(AutoAugment's CIFAR-10 policy), applied in the original's order: crop, flip, cutout, randaug,
autoaug (see `policies`). An unknown name is an error, never a silent no-op (the original could
silently run without a transform: clovaai/rainbow-memory issue #11); `describe_transforms` is what
the methods log.
Every draw is stateless, keyed by (seed, step).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from continual.data.autoaugment import policies

IMPLEMENTED = ("cutout", "cutmix", "randaug", "autoaug")
CUTOUT_SIZE = 16
CUTOUT_FILL = (125.0, 122.0, 113.0)  # the original's fixed RGB, about CIFAR-10's mean colour
LUMA = (0.299, 0.587, 0.114)         # PIL's convert('L') weights (ITU-R 601-2)
CUTMIX_PROBABILITY = 0.5
PADDING = 4


def resolve_transforms(names: Sequence[str], binding: str) -> tuple[str, ...]:
    """The transform list, checked: each name known and implemented, none repeated."""
    if isinstance(names, str):
        raise ValueError(f"{binding} = {names!r} must be a list of names, e.g. ['cutmix']")
    resolved = tuple(str(name) for name in names)
    for name in resolved:
        if name not in IMPLEMENTED:
            raise ValueError(f"{binding}: unknown transform {name!r}; known: {IMPLEMENTED}")
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"{binding} = {list(resolved)} repeats a name; list each once")
    if "randaug" in resolved:
        policies.RandAugment()  # checks the RandAugment.* bindings up front
    return resolved


def describe_transforms(names: Sequence[str]) -> list[str]:
    """The full train transform, in order, with RandAugment's settings: the logged form."""
    described = ["crop(pad 4)", "hflip"]
    if "cutout" in names:
        described.append(f"cutout({CUTOUT_SIZE})")
    if "randaug" in names:
        described.append(policies.RandAugment().describe())
    if "autoaug" in names:
        described.append("autoaug(CIFAR-10 policy, 25 sub-policies)")
    if "cutmix" in names:
        described.append(f"cutmix(p {CUTMIX_PROBABILITY})")
    return described


def translate(images: tf.Tensor, dx: tf.Tensor, dy: tf.Tensor) -> tf.Tensor:
    """Per-image shift: output (x, y) reads input (x + dx, y + dy); zeros outside."""
    batch = tf.shape(images)[0]
    ones, zeros = tf.ones([batch]), tf.zeros([batch])
    transforms = tf.stack([ones, zeros, tf.cast(dx, tf.float32), zeros, ones,
                           tf.cast(dy, tf.float32), zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="NEAREST", fill_mode="CONSTANT")


def random_crop(images: tf.Tensor, seed: tf.Tensor, padding: int = PADDING) -> tf.Tensor:
    """RandomCrop(size, padding) with zero padding: a shift by -padding .. padding per axis."""
    batch = tf.shape(images)[0]
    offsets = tf.random.stateless_uniform([2, batch], seed, minval=-padding,
                                          maxval=padding + 1, dtype=tf.int32)
    return translate(images, offsets[0], offsets[1])


def random_hflip(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Mirror each image left-right with probability 0.5."""
    flip = tf.random.stateless_uniform([tf.shape(images)[0], 1, 1, 1], seed) < 0.5
    return tf.where(flip, tf.reverse(images, axis=[2]), images)


def box_mask(height, width, centre_y, centre_x, box_h, box_w) -> tf.Tensor:
    """float32 [B, H, W, 1]: 1 inside each image's box (centre +- half size, clipped)."""
    y1 = tf.clip_by_value(centre_y - box_h // 2, 0, height)
    y2 = tf.clip_by_value(centre_y + box_h // 2, 0, height)
    x1 = tf.clip_by_value(centre_x - box_w // 2, 0, width)
    x2 = tf.clip_by_value(centre_x + box_w // 2, 0, width)
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    inside = ((rows >= y1[:, None, None]) & (rows < y2[:, None, None])
              & (cols >= x1[:, None, None]) & (cols < x2[:, None, None]))
    return tf.cast(inside, tf.float32)[..., None]


def cutout_fill(channels: int | None) -> tf.Tensor:
    """float32 [channels]: the Cutout colour on the [0, 255] scale. The original paints RGB
    (125, 122, 113) into the uint8 image (`utils/augment.py:318`; its loader converts every image
    to RGB, MNIST included); a grey one-channel image gets that colour's luma, 122."""
    if channels == 3:
        return tf.constant(CUTOUT_FILL)
    if channels == 1:
        luma = sum(w * c for w, c in zip(LUMA, CUTOUT_FILL, strict=True))
        return tf.constant([float(round(luma))])
    raise ValueError(f"Cutout takes images with 1 or 3 channels, got {channels}")


def cutout(images: tf.Tensor, seed: tf.Tensor, size: int = CUTOUT_SIZE) -> tf.Tensor:
    """One size x size square of `cutout_fill` per float32 [0, 255] image, centre uniform over
    the pixels, box [centre - size // 2, centre + size // 2) clipped at the border (as the
    original's `Cutout`, `utils/augment.py:266-319`)."""
    batch, height, width = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
    centre = tf.random.stateless_uniform([2, batch], seed, minval=0, maxval=2 ** 30,
                                         dtype=tf.int32)
    mask = box_mask(height, width, centre[0] % height, centre[1] % width, size, size)
    return images * (1.0 - mask) + cutout_fill(images.shape[-1]) * mask


def cutmix(images: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor):
    """(images, labels_b, lam): with probability 0.5 a box of a permuted batch is pasted in
    and lam = 1 - box area / image area, else lam = 1 (loss = lam CE(a) + (1 - lam) CE(b))."""
    batch, height, width = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
    draws = tf.random.stateless_uniform([4], seed)
    permutation = tf.argsort(tf.random.stateless_uniform([batch], seed + 1))
    cut = tf.sqrt(1.0 - draws[0])                         # lam ~ Beta(1, 1) = U(0, 1)
    box_h = tf.cast(tf.cast(height, tf.float32) * cut, tf.int32)
    box_w = tf.cast(tf.cast(width, tf.float32) * cut, tf.int32)
    centre_y = tf.cast(draws[1] * tf.cast(height, tf.float32), tf.int32)
    centre_x = tf.cast(draws[2] * tf.cast(width, tf.float32), tf.int32)
    mask = box_mask(height, width, centre_y[None], centre_x[None], box_h, box_w)
    mask *= tf.cast(draws[3] < CUTMIX_PROBABILITY, tf.float32)
    mixed = images * (1.0 - mask) + tf.gather(images, permutation) * mask
    lam = 1.0 - tf.reduce_sum(mask) / tf.cast(height * width, tf.float32)
    return mixed, tf.gather(labels, permutation), lam


def train_views(images: tf.Tensor, seed: tf.Tensor, transforms: Sequence[str]) -> tf.Tensor:
    """uint8 -> float32 [0, 255]: random crop, flip, then 'cutout', 'randaug', 'autoaug' if
    listed, in that order (CutMix is applied by the train step, which mixes the labels too)."""
    images = tf.cast(images, tf.float32)
    images = random_hflip(random_crop(images, seed), seed + 7)
    if "cutout" in transforms:
        images = cutout(images, seed + 13)
    if "randaug" in transforms:
        images = policies.RandAugment()(images, seed + 17)
    if "autoaug" in transforms:
        images = policies.auto_augment(images, seed + 19)
    return images
