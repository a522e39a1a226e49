"""Rainbow Memory's method: lr per epoch (each `sched_name`), CutMix, the vote uncertainty by
hand (the perturbations and Cutout: test_rainbow_memory_perturb.py), the head reset and class
mask per task, the memory update through the buffer policy, bad bindings."""

import dataclasses

import gin
import numpy as np
import pytest
import tensorflow as tf

from continual.methods.rainbow_memory import RainbowMemory, augment, perturb
from continual.replay.buffers import EpisodicBuffer


class Table:
    """Row i: an 8x8 image of value 20 * (i % 10), label i % 4."""

    num_classes = 4

    def gather(self, ids):
        ids = tf.convert_to_tensor(ids, tf.int64)
        values = tf.cast(20 * (ids % 10), tf.uint8)
        return tf.tile(tf.reshape(values, [-1, 1, 1, 1]), [1, 8, 8, 3]), tf.cast(ids % 4,
                                                                                   tf.int32)

    def labels_of(self, ids):
        return (np.asarray(ids) % 4).astype(np.int32)


@dataclasses.dataclass(frozen=True)
class Experience:
    index: int
    train_ids: tuple
    seen_classes: tuple


def _method(policy="rainbow", capacity=8, **bindings) -> RainbowMemory:
    gin.bind_parameter("build_classifier.name", "mlp")
    gin.bind_parameter("mlp_backbone.hidden_units", (16,))
    gin.bind_parameter("TorchSGD.learning_rate", 0.05)
    gin.bind_parameter("TorchSGD.momentum", 0.9)
    method = RainbowMemory(**bindings)
    buffer = EpisodicBuffer(capacity=capacity, policy=policy, num_classes=4)
    method.build((8, 8, 3), 4, buffer, seed=1)
    return method


def test_learning_rate_per_phase_and_epoch():
    method = _method()
    assert method.learning_rate("online", 0) == pytest.approx(0.005)   # warm-up pass
    # memory epochs: 0.1 lr, lr, then warm restarts T_0 1, T_mult 2 from epoch 2:
    # epoch 2 restarts at lr; epoch 3 is half-way down cycle 2: (lr + 0.01 lr) / 2.
    got = [method.learning_rate("memory", e) for e in range(4)]
    assert got == pytest.approx([0.005, 0.05, 0.05, 0.02525])


def test_multistep_schedule_follows_rms_imagenet_epochs():
    """RM's ImageNet run (sched_name 'multistep'): epoch 0 at 0.1 lr, epoch 1 sets lr, then
    MultiStepLR([30, 60, 80, 90], 0.1) stepped from epoch 2, so the lr drops after epochs 30,
    60, 80 and 90 (its scheduler has taken e - 1 steps at epoch e)."""
    method = _method(sched_name="multistep")
    epochs = [0, 1, 2, 30, 31, 60, 61, 80, 81, 90, 91, 99]
    got = [method.learning_rate("memory", e) for e in epochs]
    assert got == pytest.approx([0.005, 0.05, 0.05, 0.05, 0.005, 0.005, 5e-4, 5e-4, 5e-5, 5e-5,
                                 5e-6, 5e-6])
    assert method.learning_rate("online", 0) == pytest.approx(0.005)


@pytest.mark.parametrize("bindings, expected", [
    ({"sched_name": "multistep", "milestones": [2, 4], "gamma": 0.5},
     [0.005, 0.05, 0.05, 0.025, 0.025, 0.0125]),
    ({"sched_name": "anneal"},                                   # x 1 / 1.1 per epoch
     [0.005, 0.05, 0.05 / 1.1, 0.05 / 1.21, 0.05 / 1.331, 0.05 / 1.4641]),
])
def test_other_schedules_per_epoch(bindings, expected):
    method = _method(**bindings)
    assert [method.learning_rate("offline", e) for e in range(6)] == pytest.approx(expected)


def test_begin_experience_resets_the_head_and_masks_unseen_classes():
    method = _method()
    old = [w.numpy().copy() for w in method.model.head.weights]
    method.begin_experience(Experience(0, (0, 1), (0, 2)), Table())
    assert not np.allclose(old[0], method.model.head.weights[0].numpy())
    logits = method.predict(Table().gather([0, 1, 2])[0]).numpy()
    assert (logits[:, [1, 3]] <= -1e8).all() and (logits[:, [0, 2]] > -1e8).all()
    method.begin_experience(Experience(1, (3,), (0, 1, 2, 3)), Table())
    assert (method.predict(Table().gather([0])[0]).numpy() > -1e8).all()
    assert all(not np.any(m.numpy()) for m in method.optimizer.momentums)


def test_memory_update_keeps_the_per_class_budget():
    method, table = _method(capacity=8), Table()
    first = Experience(0, tuple(range(20)), (0, 1, 2, 3))
    method.begin_experience(first, table)
    method.update_memory(first, table)
    assert np.bincount(table.labels_of(method.buffer.stored_ids())).tolist() == [2, 2, 2, 2]
    second = Experience(1, tuple(range(20, 40)), (0, 1, 2, 3))
    method.update_memory(second, table)                   # uncertainty votes over 28 items
    stored = method.buffer.stored_ids()
    assert len(stored) == 8 and np.bincount(table.labels_of(stored)).tolist() == [2, 2, 2, 2]


def test_a_train_step_runs_with_cutmix_and_cutout():
    method, table = _method(transforms=["cutout", "cutmix"]), Table()
    method.begin_experience(Experience(0, tuple(range(8)), (0, 1, 2, 3)), table)
    from continual.methods.base import StreamBatch
    images, labels = table.gather(np.arange(8))
    batch = StreamBatch(images=images, labels=labels, ids=tf.range(8, dtype=tf.int64))
    out = method.train_step(batch, tf.constant(0, tf.int64))
    assert np.isfinite(float(out["loss"])) and float(out["lr"]) == pytest.approx(0.005)


@pytest.mark.parametrize("bindings, message", [
    ({"transforms": ["randaug", "autoaug", "randaug"]}, "repeats a name"),
    ({"transforms": ["mixup"]}, "unknown transform"),
    ({"transforms": "cutmix"}, "list of names"),
    ({"uncertainty_metric": "loss"}, "not an uncertainty metric"),
    ({"stream": "batch"}, "RainbowMemory.stream"),
    ({"sched_name": "step"}, r"RainbowMemory.sched_name = 'step' is not one of \('cos', "),
    ({"milestones": [60, 30]}, "RainbowMemory.milestones"),
    ({"gamma": 0.0}, "RainbowMemory.gamma"),
])
def test_bad_bindings_name_the_binding(bindings, message):
    with pytest.raises(ValueError, match=message):
        RainbowMemory(**bindings)


def test_an_online_policy_other_than_reservoir_is_refused():
    with pytest.raises(ValueError, match="EpisodicBuffer.policy"):
        _method(policy="fifo")


def test_cutmix_lambda_is_one_minus_the_pasted_area():
    images = tf.zeros([4, 10, 10, 3])
    images = tf.concat([images[:2], tf.ones([2, 10, 10, 3])], 0)
    for step in range(6):
        mixed, _, lam = augment.cutmix(images, tf.range(4), tf.constant([0, step], tf.int64))
        changed = tf.reduce_sum(tf.cast(tf.reduce_any(mixed[..., :1] != images[..., :1],
                                                      axis=0), tf.float32))
        assert 0.0 <= float(lam) <= 1.0
        assert float(changed) <= (1.0 - float(lam)) * 100 + 1e-6  # only inside the box


def test_vote_uncertainty():
    votes = tf.constant([[0, 1], [0, 2], [0, 1], [1, 3]])   # T = 4 votes for 2 samples
    np.testing.assert_allclose(perturb.vote_uncertainty(votes).numpy(), [0.25, 0.5])
