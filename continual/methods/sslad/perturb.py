"""Perturbations for the memory sweep's uncertainty votes (the original's `RMSampler` with
`vr_randaug`).

The original's `RMSampler` builds each of its votes from pip `randaugment==1.0.2`'s
`RandAugment()` with the package's defaults: two op slots, each drawing one of its 15 ops
(Invert, Cutout, Sharpness, AutoContrast, Posterize, ShearX, TranslateX, TranslateY, ShearY,
Rotate, Equalize, Contrast, Color, Solarize, Brightness) uniformly, at a level drawn from 1..9,
applied with probability 0.5. That policy is `continual.data.autoaugment.policies.RandAugment`
(shared with Rainbow Memory, which calls the same package), run here with the package's
defaults whatever `RandAugment.*` binds. Each image draws its own ops; every draw is stateless,
keyed by the seed, so a resumed sweep votes exactly as an uninterrupted one.
"""

from __future__ import annotations

import tensorflow as tf

from continual.data.autoaugment import policies

OPS = policies.OPS


@tf.function(reduce_retracing=True)
def perturb(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """uint8 [B, H, W, C] -> uint8: each image through pip RandAugment's two random ops.

    The shared ops work on 8-bit values (float32 in [0, 255]), as PIL does, so the uint8
    batch goes in and comes out as it is; no [0, 1] conversion is needed."""
    return policies.RandAugment(**policies.PIP_RANDAUGMENT)(images, tf.cast(seed, tf.int64))
