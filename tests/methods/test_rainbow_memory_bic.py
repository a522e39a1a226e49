"""BiC: the bias correction, the distillation and the balanced validation rows by hand; the
bias layer fitted on held-out rows; validation rows kept out of training and memory."""

import dataclasses

import gin
import numpy as np
import pytest
import tensorflow as tf

from continual.methods.base import StreamBatch
from continual.methods.rainbow_memory.bic import (
    BiC,
    balanced_validation,
    bias_corrected,
    distillation,
    fit_bias,
)
from continual.replay.buffers import EpisodicBuffer
from tests.methods.test_rainbow_memory import Table


@dataclasses.dataclass(frozen=True)
class Experience:
    index: int
    train_ids: tuple
    seen_classes: tuple


def test_bias_correction_by_hand():
    logits = tf.constant([[2.0, 4.0]])
    out = bias_corrected(logits, tf.constant([1.0, 0.5]), tf.constant([0.0, -1.0]))
    np.testing.assert_allclose(out.numpy(), [[2.0, 1.0]])


def test_distillation_by_hand():
    """Learned classes {0, 1} of 3. Teacher (0, 0, 9) -> softmax over {0, 1} at T = 2: (0.5,
    0.5); student (0, 2 ln 3, -5) / 2 -> log_softmax over {0, 1}: (-ln 4, -ln 4 / 3)."""
    teacher = tf.constant([[0.0, 0.0, 9.0]])
    student = tf.constant([[0.0, 2 * np.log(3.0), -5.0]])
    kd = distillation(student, teacher, tf.constant([1.0, 1.0, 0.0]), 2.0)
    expected = -(0.5 * -np.log(4.0) + 0.5 * np.log(3.0 / 4.0))
    assert float(kd) == pytest.approx(expected, rel=1e-5)


def test_validation_rows_are_balanced_old_rows_first():
    """Size 4, classes {0, 1}: 2 per class; class 0 keeps its old row 100 and takes one new."""
    chosen = balanced_validation(np.array([100, 101, 102]), np.array([0, 1, 1]),
                                 np.array([1, 2, 3, 4, 5]), np.array([0, 0, 1, 0, 1]),
                                 [0, 1], size=4, seed=0, task=1)
    assert chosen.size == 4 and chosen[0] == 100 and set(chosen[2:]) == {101, 102}
    assert chosen[1] in (1, 2, 4)


def test_fitted_bias_shrinks_an_inflated_new_class():
    """Class 1 (new) gets +3 on every row; half the rows are class 0: the fit lowers b."""
    logits = tf.constant([[1.0, 4.0]] * 10 + [[0.0, 4.0]] * 10)
    labels = tf.constant([0] * 10 + [1] * 10)
    a, b = fit_bias(logits, labels, tf.constant([False, True]), epochs=150, lr=0.05,
                    batch_size=100, seed=0)
    corrected = np.where([False, True], a * logits.numpy() + b, logits.numpy())
    assert (corrected.argmax(1)[:10] == 0).mean() > 0.5 and b < 0


def _bic():
    gin.bind_parameter("build_classifier.name", "mlp")
    gin.bind_parameter("mlp_backbone.hidden_units", (16,))
    gin.bind_parameter("TorchSGD.learning_rate", 0.05)
    method = BiC(validation_size=4, bias_epochs=2)
    method.build((8, 8, 3), 4, EpisodicBuffer(capacity=8, policy="herding", num_classes=4),
                 seed=1)
    return method


def test_validation_rows_stay_out_of_training_and_memory():
    method, table = _bic(), Table()
    task = Experience(0, tuple(range(20)), (0, 1))
    method.begin_experience(task, table)
    held = method.state.validation.numpy()
    assert sorted(table.labels_of(held).tolist()) == [0, 0, 1, 1]
    method.update_memory(task, table)
    assert not set(method.buffer.stored_ids().tolist()) & set(held.tolist())
    images, labels = table.gather(held)
    before = [w.numpy().copy() for w in method.model.trainable_weights]
    batch = StreamBatch(images=images, labels=labels, ids=tf.constant(held))
    method.train_step(batch, tf.constant(0, tf.int64))   # validation rows only: zero CE
    for weight, value in zip(method.model.trainable_weights, before, strict=True):
        np.testing.assert_allclose(weight.numpy(), value, atol=1e-7)
    method.end_experience(task, table)
    assert method.state.learned.numpy().tolist() == [1.0, 1.0, 0.0, 0.0]
    later = Experience(1, tuple(range(20, 40)), (0, 1, 2, 3))
    method.begin_experience(later, table)
    method.end_experience(later, table)                  # stage 2 on classes 2 and 3 only
    alpha = method.state.alpha.numpy()
    assert alpha[:2].tolist() == [1.0, 1.0] and alpha[2] == alpha[3] != 1.0


@pytest.mark.parametrize("bindings, message", [
    ({"validation_size": 0}, "BiC.validation_size"), ({"bias_lr": 0.0}, "BiC.bias_lr"),
    ({"transforms": ["cutmix"]}, "BiC.transforms"),
])
def test_bad_bindings_name_the_binding(bindings, message):
    with pytest.raises(ValueError, match=message):
        BiC(**bindings)
