"""JointFromScratch: each experience starts from the initial weights with a cleared optimiser,
so evaluation k of a cumulative_joint run is a model trained on tasks 0..k only."""

import gin
import numpy as np
import tensorflow as tf

from continual.methods.base import StreamBatch
from continual.methods.rainbow_memory.joint_reference import JointFromScratch
from tests.methods.test_rainbow_memory import Experience, Table


def test_every_experience_starts_from_the_initial_weights():
    gin.bind_parameter("build_classifier.name", "mlp")
    gin.bind_parameter("mlp_backbone.hidden_units", (16,))
    gin.bind_parameter("TorchSGD.learning_rate", 0.1)
    gin.bind_parameter("TorchSGD.momentum", 0.9)
    method = JointFromScratch(epochs=2)
    method.build((8, 8, 3), 4, None, seed=5)
    initial = [w.numpy().copy() for w in method.model.weights]
    images, labels = Table().gather(np.arange(8))
    method.train_step(StreamBatch(images=images, labels=labels, ids=tf.range(8, dtype=tf.int64)),
                      tf.constant(0, tf.int64))
    assert not np.allclose(initial[0], method.model.weights[0].numpy())
    assert any(np.any(m.numpy()) for m in method.optimizer.momentums)
    method.begin_experience(Experience(1, tuple(range(16)), (0, 1, 2, 3)), Table())
    for weight, value in zip(method.model.weights, initial, strict=True):
        np.testing.assert_array_equal(weight.numpy(), value)
    assert not any(np.any(m.numpy()) for m in method.optimizer.momentums)
    assert int(method.optimizer.iterations) == 0 and [p.epochs for p in method.phases(None)] == [2]
