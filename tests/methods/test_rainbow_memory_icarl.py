"""iCaRL: the nearest-mean-of-exemplars classifier, class means and the CE + distillation loss
by hand; the teacher frozen at the task start; means written at the task end."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from continual.methods.rainbow_memory.icarl import (
    ICaRL,
    class_means,
    icarl_loss,
    nearest_mean_logits,
)
from continual.replay.buffers import EpisodicBuffer
from tests.methods.test_rainbow_memory import Experience, Table


def test_nearest_mean_logits_by_hand():
    """f = (3, 4) -> (0.6, 0.8); squared distances to (1, 0) and (0, 1): 0.8 and 0.4."""
    means = tf.constant([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    logits = nearest_mean_logits(tf.constant([[3.0, 4.0]]), means, tf.constant([1.0, 1.0, 0.0]))
    np.testing.assert_allclose(logits.numpy()[0, :2], [-0.8, -0.4], rtol=1e-6)
    assert logits.numpy()[0, 2] <= -1e8 and int(tf.argmax(logits[0])) == 1


def test_class_means_normalise_features_then_the_mean():
    features = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    means, present = class_means(features, np.array([0, 0, 2]), num_classes=3)
    np.testing.assert_allclose(means, [[0.5 ** 0.5] * 2, [0, 0], [0.5 ** 0.5] * 2], rtol=1e-6)
    assert present.tolist() == [1.0, 0.0, 1.0]


def test_icarl_loss_by_hand():
    """Learned: class 0. Row 0 (label 1, new): CE of logits (0, 0) = log 2. Row 1 (label 0,
    learned): BCE of sigmoid(0) = 0.5 against q_0 = 1 over class 0 only: log 2. Total 2 log 2."""
    logits = tf.constant([[0.0, 0.0], [0.0, 5.0]])
    loss = icarl_loss(logits, tf.constant([1, 0]), tf.constant([[0.3, 0.3], [1.0, 0.2]]),
                      tf.constant([1.0, 0.0]))
    assert float(loss) == pytest.approx(2 * np.log(2), rel=1e-5)
    # nothing learned yet: plain CE over both rows
    loss = icarl_loss(logits, tf.constant([1, 0]), tf.zeros([2, 2]), tf.zeros([2]))
    expected = (np.log(2) + np.log(1 + np.exp(5.0))) / 2
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def _icarl():
    gin.bind_parameter("build_classifier.name", "mlp")
    gin.bind_parameter("mlp_backbone.hidden_units", (16,))
    gin.bind_parameter("TorchSGD.learning_rate", 0.05)
    method = ICaRL()
    method.build((8, 8, 3), 4, EpisodicBuffer(capacity=8, policy="herding", num_classes=4),
                 seed=1)
    return method


def test_teacher_at_task_start_then_nme_after_the_task():
    method, table = _icarl(), Table()
    task = Experience(0, tuple(range(20)), (0, 1, 2))
    method.begin_experience(task, table)
    method.model.weights[0].assign(method.model.weights[0] + 1.0)   # training moves the model
    np.testing.assert_array_equal(method.teacher.weights[0].numpy() + 1.0,
                                  method.model.weights[0].numpy())
    method.update_memory(task, table)
    method.end_experience(task, table)
    assert method.has_mean.numpy().tolist() == [1.0, 1.0, 1.0, 0.0]   # class 3 not stored
    assert method.learned.numpy().tolist() == [1.0, 1.0, 1.0, 0.0]
    logits = method.predict(table.gather(np.arange(4))[0]).numpy()
    assert (logits[:, 3] <= -1e8).all() and (logits[:, :3] <= 0).all()


def test_cutmix_and_online_policies_are_refused():
    with pytest.raises(ValueError, match="ICaRL.transforms"):
        ICaRL(transforms=["cutmix"])
    gin.bind_parameter("build_classifier.name", "mlp")
    with pytest.raises(ValueError, match="EpisodicBuffer.policy"):
        ICaRL().build((8, 8, 3), 4, EpisodicBuffer(capacity=8, policy="reservoir",
                                                   num_classes=4), 1)
