"""BiC's stage 2 through the experience loop on a tiny disjoint stream (classes {0, 1}, {2},
{3}): the bias layer is fitted once per task that brings new classes, on the held-out rows,
only for those classes' logits; earlier classes keep their (alpha, beta)."""

import dataclasses
from types import SimpleNamespace

import gin
import numpy as np
import tensorflow as tf

from continual.data.views import standardize
from continual.loop.experience import ExperienceLoop, LoopState, run_experience
from continual.methods.rainbow_memory.bic import BiC, bias_corrected, fit_bias
from continual.methods.rainbow_memory.method import MASKED
from continual.replay.buffers import EpisodicBuffer
from tests.methods.test_rainbow_memory import Table

TASK_CLASSES = ((0, 1), (2,), (3,))


@dataclasses.dataclass(frozen=True)
class Experience:
    index: int
    train_ids: tuple
    classes: tuple
    seen_classes: tuple
    eval_ids: tuple = ()


def disjoint_stream() -> list[Experience]:
    seen, stream = (), []
    for index, classes in enumerate(TASK_CLASSES):
        seen = tuple(sorted(seen + classes))
        rows = tuple(i for i in range(48) if i % 4 in classes)
        stream.append(Experience(index, rows, classes, seen))
    return stream


class RecordingBiC(BiC):
    """BiC that notes each stage-2 call: task, corrected classes, held-out rows, (a, b) before."""

    def correct_bias(self, new, table, task):
        self.calls.append({"task": task, "new": np.flatnonzero(new).tolist(),
                           "rows": self.state.validation.numpy().copy(),
                           "alpha": self.state.alpha.numpy().copy(),
                           "beta": self.state.beta.numpy().copy()})
        return super().correct_bias(new, table, task)


def _bic() -> RecordingBiC:
    gin.bind_parameter("build_classifier.name", "mlp")
    gin.bind_parameter("mlp_backbone.hidden_units", (16,))
    gin.bind_parameter("TorchSGD.learning_rate", 0.05)
    method = RecordingBiC(validation_size=4, bias_epochs=5, bias_lr=0.05, memory_epochs=1)
    method.build((8, 8, 3), 4, EpisodicBuffer(capacity=8, policy="herding", num_classes=4),
                 seed=3)
    method.calls = []
    return method


def _refit(method, call, table) -> tuple[float, float]:
    """Stage 2 redone by hand: the frozen model's logits of the held-out rows, under the
    (alpha, beta) in force before the call, fitted with the method's settings."""
    rows = call["rows"][call["rows"] >= 0]
    images, _ = table.gather(rows)
    raw = tf.cast(method.model(standardize(images), training=False), tf.float32)
    logits = bias_corrected(raw, tf.constant(call["alpha"]), tf.constant(call["beta"]))
    logits = tf.where(method.exposed[None] > 0, logits, MASKED)
    new = np.isin(np.arange(4), call["new"])
    return fit_bias(logits, tf.constant(table.labels_of(rows)), tf.constant(new),
                    epochs=5, lr=0.05, batch_size=100, seed=3 * 31 + call["task"])


def test_stage_two_runs_once_per_task_with_new_classes_on_the_held_out_rows(tmp_path):
    method, table = _bic(), Table()
    loop = ExperienceLoop(stream_batch_size=8, replay_batch_size=4, checkpoint_every=100)
    after = []
    for experience in disjoint_stream():
        run_experience(method, experience, table, loop, 7, tmp_path / f"exp{experience.index}",
                       LoopState())
        held = method.state.validation.numpy()
        assert not set(held.tolist()) & set(method.buffer.stored_ids().tolist())
        if experience.index:
            a, b = _refit(method, method.calls[-1], table)
            new = list(experience.classes)
            np.testing.assert_allclose(method.state.alpha.numpy()[new], a, rtol=1e-5)
            np.testing.assert_allclose(method.state.beta.numpy()[new], b, atol=1e-6)
        after.append((method.state.alpha.numpy().copy(), method.state.beta.numpy().copy()))
    # once per task from task 1 on, each time on exactly the task's new classes
    assert [(c["task"], c["new"]) for c in method.calls] == [(1, [2]), (2, [3])]
    # the held-out rows of task 2: one per exposed class (4 rows // 4 classes)
    assert sorted(table.labels_of(method.calls[1]["rows"]).tolist()) == [0, 1, 2, 3]
    alpha, beta = after[0]
    assert alpha.tolist() == [1.0] * 4 and beta.tolist() == [0.0] * 4        # task 0: none
    for task, (alpha, beta) in enumerate(after[1:], start=1):
        corrected = TASK_CLASSES[task][0]
        assert alpha[corrected] != 1.0 and beta[corrected] != 0.0         # moved from (1, 0)
        assert alpha[[0, 1]].tolist() == [1.0, 1.0] and beta[[0, 1]].tolist() == [0.0, 0.0]
    # class 2's (alpha, beta) from task 1 stay as they were through task 2
    assert after[2][0][2] == after[1][0][2] and after[2][1][2] == after[1][1][2]
    assert after[1][0][3] == 1.0 and after[1][1][3] == 0.0               # not yet seen


def blurry_stream() -> list[Experience]:
    """Every class streamed from task 0 (minor rows), majors {0, 1}, {2}, {3} by task."""
    stream = []
    for index, classes in enumerate(TASK_CLASSES):
        rows = tuple(i + 100 * index for i in range(48) if i % 4 in classes or i < 4)
        stream.append(Experience(index, rows, (0, 1, 2, 3) if index == 0 else (), (0, 1, 2, 3)))
    return stream


def test_blurry_stream_corrects_the_last_tasks_block_once_at_the_last_task(tmp_path):
    """RM's BiC: `bias_layer_list[n_split - 1]` always acts on the last logit block (the last
    task's majors) and is fitted when the task index reaches it: the last task."""
    method, table = _bic(), Table()
    stream = blurry_stream()
    scenario = SimpleNamespace(name="blurry", experiences=stream, params={
        "class_order": [0, 1, 2, 3], "classes_per_task": [2, 1, 1]})
    method.check_stream(scenario, ExperienceLoop())
    loop = ExperienceLoop(stream_batch_size=8, replay_batch_size=4, checkpoint_every=100)
    for experience in stream:
        run_experience(method, experience, table, loop, 7, tmp_path / f"exp{experience.index}",
                       LoopState())
    assert [(c["task"], c["new"]) for c in method.calls] == [(2, [3])]
    alpha = method.state.alpha.numpy()
    assert alpha[:3].tolist() == [1.0, 1.0, 1.0] and alpha[3] != 1.0
