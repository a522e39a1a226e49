"""The SSLAD sweep's votes perturb with pip randaugment 1.0.2's RandAugment (the original's
`RMSampler`): its 15 ops, Sharpness and Equalize among them, at the package's defaults whatever
`RandAugment.*` binds for training; repeatable per seed, uint8 in and out."""

import gin
import numpy as np
import tensorflow as tf

from continual.data.autoaugment import policies
from continual.methods.sslad import perturb

IMAGES = tf.constant(np.random.default_rng(0).integers(0, 256, (64, 8, 8, 3)), tf.uint8)
SEED = tf.constant([5, 7], tf.int64)
# The sweep calls the tf.function; its Python body is the same computation without the
# seconds of tracing 2 x 15 ops.
vote_view = perturb.perturb.python_function


def test_the_sweep_draws_from_the_packages_15_ops():
    assert perturb.OPS == policies.OPS and len(perturb.OPS) == 15
    assert {"Sharpness", "Equalize"} <= set(perturb.OPS)


def test_votes_use_the_package_defaults_whatever_training_binds():
    gin.parse_config(["RandAugment.num_ops = 1", "RandAugment.probability = 0.0"])
    got = vote_view(IMAGES, SEED)
    want = policies.RandAugment(num_ops=2, magnitude=None, probability=0.5)(IMAGES, SEED)
    assert got.dtype == tf.uint8 and got.shape == IMAGES.shape
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    changed = np.any(got.numpy() != IMAGES.numpy(), axis=(1, 2, 3))
    assert 0.5 < changed.mean() < 1.0  # P(at least one of two ops applied) = 0.75


def test_a_seed_repeats_its_votes_and_another_seed_differs():
    first, again = vote_view(IMAGES, SEED), vote_view(IMAGES, SEED)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    other = vote_view(IMAGES, SEED + [0, 1])
    assert np.any(first.numpy() != other.numpy())
