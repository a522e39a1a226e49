"""Kaizen's method on tiny shapes: the flags choose the loss terms, the teacher is a frozen copy
whose BN uses batch statistics (as the original's), the optimiser restarts per task, bad bindings
are refused with the binding's name."""

import dataclasses
import functools

import gin
import numpy as np
import pytest
import tensorflow as tf

import continual.optim.lars  # noqa: F401  (registers LARS with gin)
from continual.methods.base import StreamBatch
from continual.methods.kaizen import Kaizen

SMALL = {"epochs": 2, "warmup_epochs": 0, "projection_dim": 8, "projector_hidden": 16,
         "predictor_hidden": 16, "distill_hidden": 16, "classifier_hidden": 8}


class Task:
    def __init__(self, index):
        self.index, self.train_ids = index, tuple(range(8))


def built(**overrides) -> Kaizen:
    method = Kaizen(**{**SMALL, **overrides})
    method.batch_size = 4
    method.build((8, 8, 3), 4, None, 0)
    return method


def batch(seed=0) -> StreamBatch:
    images = np.random.default_rng(seed).integers(0, 255, (4, 8, 8, 3), dtype=np.uint8)
    return StreamBatch(images=tf.constant(images), labels=tf.constant([0, 1, 2, 3]),
                       ids=tf.range(4, dtype=tf.int64), epoch=0, phase="offline")


def values(variables) -> list[np.ndarray]:
    return [v.numpy().copy() for v in variables]


def moving_means(model) -> list[np.ndarray]:
    return [v.numpy().copy() for v in model.non_trainable_variables if "moving_mean" in v.path]


@dataclasses.dataclass(frozen=True)
class TwoTasks:
    """One built method, one step on task 0 and one on task 1, with what the tests read."""

    first: frozenset        # the loss terms of the task-0 step
    second: frozenset       # of the task-1 step
    teacher_at_begin: list  # the teacher's trainable weights once task 1 began
    student_at_begin: list  # the student encoder's
    teacher_means_at_begin: list
    teacher_after: list     # the same three after the task-1 step
    student_after: list
    teacher_means_after: list


@functools.cache
def two_tasks(flags: tuple) -> TwoTasks:
    """Run once per flags (building and tracing a Kaizen costs seconds) and shared: the flags
    test and the teacher test read the same default run."""
    method = built(**dict(flags))
    method.begin_experience(Task(0), None)
    first = method.train_step(batch(), tf.constant(0, tf.int64))
    method.begin_experience(Task(1), None)
    teacher = method.teacher["encoder"]
    at_begin = (values(teacher.trainable_variables), values(method.encoder.trainable_variables),
                moving_means(teacher))
    second = method.train_step(batch(1), tf.constant(1, tf.int64))
    return TwoTasks(frozenset(first), frozenset(second), *at_begin,
                    values(teacher.trainable_variables),
                    values(method.encoder.trainable_variables), moving_means(teacher))


@pytest.mark.parametrize("flags, terms", [
    ((), {"feature_distill", "classifier_distill"}),                              # Kaizen
    ((("ssl_method", "simclr"),), {"feature_distill", "classifier_distill"}),     # contrastive
    ((("distill_classifier", False), ("replay", False)), {"feature_distill"}),    # CaSSLe
    ((("distill_features", False), ("distill_classifier", False), ("replay", False)), set()),
])
def test_flags_choose_the_distillation_terms_from_the_second_task(flags, terms):
    run = two_tasks(flags)
    assert not {"feature_distill", "classifier_distill"} & run.first      # task 0: none
    assert {"feature_distill", "classifier_distill"} & run.second == terms
    assert {"ssl", "classifier", "probe"} <= run.second


def test_teacher_is_a_frozen_copy_whose_bn_follows_the_batch():
    run = two_tasks(())  # the flags test's default run (the cache keys on the argument)
    for mine, student in zip(run.teacher_at_begin, run.student_at_begin, strict=True):
        np.testing.assert_array_equal(mine, student)
    for before, after in zip(run.teacher_at_begin, run.teacher_after, strict=True):
        np.testing.assert_array_equal(before, after)                       # never trained
    assert any(not np.allclose(b, a) for b, a in
               zip(run.teacher_means_at_begin, run.teacher_means_after, strict=True))
    assert any(not np.allclose(b, a) for b, a in
               zip(run.student_at_begin, run.student_after, strict=True))


def test_each_task_restarts_the_optimiser_and_its_schedule():
    method = built()
    method.begin_experience(Task(0), None)
    for step in range(3):
        method.train_step(batch(step), tf.constant(step, tf.int64))
    assert int(method.optimizer.task_iterations()) == 3
    method.begin_experience(Task(1), None)
    assert int(method.optimizer.task_iterations()) == 0
    assert int(method.task_steps) == 2 * 2  # epochs x ceil(8 rows / batch 4)
    lrs = method.optimizer.learning_rates(0).numpy()   # warm-up 0: epoch 0 at the base lr
    np.testing.assert_allclose(lrs, [1.0, 0.1, 0.1, 1.0], rtol=1e-6)


@pytest.mark.parametrize("binding, message", [
    ({"tau_base": 1.0, "tau_final": 0.99}, "Kaizen.tau_base"),
    ({"tau_final": 1.5}, "Kaizen.tau_final"),
    ({"classifier_distill_weight": -1.0}, "Kaizen.classifier_distill_weight"),
    ({"warmup_epochs": 2}, "Kaizen.warmup_epochs"),
    ({"ssl_method": "swav"}, "Kaizen.ssl_method"),
])
def test_bad_settings_name_their_binding(binding, message):
    with pytest.raises(ValueError, match=message):
        Kaizen(**{**SMALL, **binding})


def test_lars_learning_rate_binding_is_refused_for_kaizen_sets_it_per_group():
    gin.bind_parameter("LARS.learning_rate", 0.5)
    with pytest.raises(ValueError, match="Kaizen.learning_rate"):
        Kaizen(**SMALL)


class _Rows:
    """A stand-in for the ImageTable: records how many rows the online probe gathers."""

    def __init__(self):
        self.gathered = []

    def gather(self, ids):
        self.gathered.append(len(ids))
        return tf.zeros([len(ids), 8, 8, 3], tf.uint8), tf.zeros([len(ids)], tf.int32)


class _Experience:
    def __init__(self, index, rows):
        self.index, self.train_ids = index, tuple(range(rows))


def test_a_task_epoch_drops_its_last_partial_batch_as_the_originals_loaders():
    """A CIFAR-100 task (10 000 rows) at batch 256: 39 steps an epoch (drop_last), not 40 with
    a last batch of 16; the tau schedule counts 2 x 39 steps, and the online probe reads
    ceil(10 000 / 39) = 257 seen rows a step."""
    method = built()
    method.batch_size = 256
    assert method.phases(None)[0].batches_per_epoch(10_000, 256) == 39
    task = _Experience(0, 10_000)
    method._experiences = (task,)
    method.begin_experience(task, None)
    assert int(method.task_steps) == 2 * 39
    source = _Rows()
    method._probe_batch(StreamBatch(images=None, labels=None, ids=None, source=source))
    assert source.gathered == [257]


def test_a_task_smaller_than_a_batch_is_refused_before_training():
    class Scenario:
        experiences = [_Experience(0, 300), _Experience(1, 200)]

    class Loop:
        stream_batch_size, replay_batch_size = 256, 32

    with pytest.raises(ValueError, match="task 1 has 200 training rows, fewer than one batch"):
        built().check_stream(Scenario, Loop)
