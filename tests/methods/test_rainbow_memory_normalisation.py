"""Rainbow Memory's cards normalise with the data set's mean / std, as the original's
`get_statistics` (issue 22 item 7); the demos, on generated images, keep 0.5 / 0.25."""

import numpy as np
import pytest
import tensorflow as tf

import suite  # noqa: F401  (registers every configurable the files bind)
from continual.data.views import standardize
from continual.gin_files import parse_gin

CARDS = "config/ports/rainbow_memory/"
STATISTICS = [  # card(s), RM's mean, RM's std, channels
    ("RM.gin", (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010), 3),
    ("ICARL.gin", (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010), 3),
    ("RM_CIFAR100.gin", (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761), 3),
    ("RM_MNIST.gin", (0.1307,), (0.3081,), 1),
    ("RM_IMAGENET.gin", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 3),
    ("RM.gin demo.gin", (0.5,) * 3, (0.25,) * 3, 3),   # the demo's files come after RM's
    ("BIC.gin baselines_demo.gin", (0.5,) * 3, (0.25,) * 3, 3),
]


@pytest.mark.parametrize("card, mean, std, channels", STATISTICS)
def test_each_card_standardises_with_its_data_sets_statistics(card, mean, std, channels):
    parse_gin([CARDS + name for name in card.split()], [])
    black = standardize(tf.zeros([1, 1, 1, channels], tf.uint8)).numpy().reshape(-1)
    white = standardize(tf.fill([1, 1, 1, channels], tf.constant(255, tf.uint8)))
    np.testing.assert_allclose(black, -np.asarray(mean) / np.asarray(std), rtol=1e-5)
    np.testing.assert_allclose(white.numpy().reshape(-1),
                               (1 - np.asarray(mean)) / np.asarray(std), rtol=1e-5)
