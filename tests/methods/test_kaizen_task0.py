"""Task 0 of Kaizen, CaSSLe and no-distill is one and the same state (so the stream plan may
train it once), and the online probe reads every seen task's rows once per epoch."""

import numpy as np
import tensorflow as tf

import continual.optim.lars  # noqa: F401  (registers LARS with gin)
from continual.methods.kaizen import Kaizen
from continual.methods.kaizen.probe import probe_rows
from continual.replay.buffers.buffer import EpisodicBuffer
from tests.methods.test_kaizen import SMALL, Task, batch

# Kaizen and no-distill with other weights: every left-out binding changed (CaSSLe lies between)
FLAGS = {
    "kaizen": {},
    "no_distill": {"replay": False, "distill_features": False, "distill_classifier": False,
                   "feature_distill_weight": 0.5, "classifier_distill_weight": 0.0,
                   "distill_temperature": 0.5, "distiller": "contrastive"},
}


def state_after_task_0(tmp_path, name: str) -> dict[str, np.ndarray]:
    """Every saved variable after two steps of task 0, by checkpoint name."""
    method = Kaizen(**{**SMALL, **FLAGS[name]})
    method.batch_size = 4
    buffer = EpisodicBuffer(capacity=8, policy="proportion_per_class", num_classes=4)
    method.build((8, 8, 3), 4, buffer, 0)
    method.begin_experience(Task(0), None)
    for step in range(2):
        method.train_step(batch(step), tf.constant(step, tf.int64))
    path = tf.train.Checkpoint(**method.trackables()).write(str(tmp_path / name / "state"))
    reader = tf.train.load_checkpoint(path)
    return {key: reader.get_tensor(key) for key in sorted(reader.get_variable_to_shape_map())
            if "_CHECKPOINTABLE_OBJECT_GRAPH" not in key}


def test_the_state_after_task_0_does_not_depend_on_the_replay_and_distillation_flags(tmp_path):
    states = {name: state_after_task_0(tmp_path, name) for name in FLAGS}
    kaizen = states.pop("kaizen")
    assert any("distill_predictor" in key for key in kaizen)   # built (and saved) by all three
    for name, state in states.items():
        assert state.keys() == kaizen.keys(), name
        for key, value in kaizen.items():
            np.testing.assert_array_equal(state[key], value, err_msg=f"{name}: {key}")


class Experience:
    def __init__(self, ids):
        self.train_ids = tuple(ids)


def test_the_online_probe_reads_every_seen_row_once_per_epoch():
    experiences = [Experience(range(0, 10)), Experience(range(10, 20)), Experience(range(20, 30))]
    # task 2 trains 3 batches an epoch; 30 seen rows -> 10 a probe batch
    epoch_0 = [probe_rows(experiences, 2, 3, step, seed=1) for step in range(3)]
    assert [len(rows) for rows in epoch_0] == [10, 10, 10]
    assert sorted(np.concatenate(epoch_0).tolist()) == list(range(30))
    epoch_1 = [probe_rows(experiences, 2, 3, step, seed=1) for step in range(3, 6)]
    assert sorted(np.concatenate(epoch_1).tolist()) == list(range(30))
    assert not np.array_equal(np.concatenate(epoch_0), np.concatenate(epoch_1))  # reshuffled
    np.testing.assert_array_equal(probe_rows(experiences, 2, 3, 4, seed=1), epoch_1[1])
    first_task = probe_rows(experiences, 0, 3, 0, seed=1)    # task 0: its own rows only
    assert len(first_task) == 4 and set(first_task.tolist()) <= set(range(10))
