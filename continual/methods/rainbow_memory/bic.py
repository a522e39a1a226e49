"""BiC (Wu et al., CVPR 2019) as a baseline of RM (RM's `methods/bic.py`).

The original's baseline loop (one shuffled pass over stream ∪ memory at batch 16, memory
update, memory-only epochs at batch 16; `batch_size`) with a herding memory of
K' = K - validation_size items (bind
`EpisodicBuffer.capacity` to K') and a validation set of `validation_size` stream rows, the
same share for each exposed class, re-balanced at each task start from (old validation rows ∪
the task's stream). Validation rows are never trained on and never enter the memory.
- Stage 1 (training): L = lam * KD + (1 - lam) * CE, lam = |learned| / |exposed| (learned: the
  classes of earlier tasks), KD = -sum_{c learned} softmax(z_old / T)_c log_softmax(z / T)_c
  over the learned classes, z_old from the network as it was at the task start (T = 2).
- Stage 2 (task end, tasks with new classes after the first): a bias layer a z + b (init 1, 0)
  on the logits of the task's new classes, trained with Adam (lr 1e-3, batch 100) for
  `bias_epochs` epochs on the validation rows, the model frozen (its logits computed once).
  Every task's (a, b) stays applied to its classes in prediction.
In a blurry stream every class is exposed at task 0, so lam = 1 afterwards and no task brings
new classes. RM's code then still corrects one block: its `bias_forward` splits the logits into
blocks of `n_cls_a_task` and always applies `bias_layer_list[n_split - 1]` to the last block
(CIFAR-10: logits 8-9, the last task's major classes); that layer is trained only when the
task index reaches n_split - 1, the last task. So here, on a blurry stream, stage 2 runs once,
at the last task, on the last task's major classes (`blurry_block`, from the scenario's class
order). Fixes: the teacher and stage 2 run once per task (RM's `main.py` runs a
baseline's `train()` twice per task in online mode); the reported accuracy is the
post-correction one, as RM's (its `best_acc` is set once, after bias correction).
Deviations: the validation rows are chosen at the task start (RM takes them from the stream
as it splits its loaders). RM's BiC also inherits its `Finetune.before_task` with the
`prototype` manager, which wraps the model at every task in a new network: the previous one
with its head replaced by Linear(d, 2048), then BN1d(2048)-ReLU and a fresh head of the exposed
classes, so the network grows by one Linear-BN-ReLU per task and each task's head starts
fresh. That is kept out: it changes BiC's architecture per task (parameters that grow with the
task count), and our checkpointed model has one fixed set of variables; BiC here keeps the
classifier's linear head across tasks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import gin
import keras
import numpy as np
import tensorflow as tf

from continual import planning
from continual.bindings import passed_arguments
from continual.data.views import standardize
from continual.methods import data_parallel
from continual.methods.rainbow_memory import augment, schedule
from continual.methods.rainbow_memory.method import MASKED, RainbowMemory
from continual.models.classifiers import build_classifier
from continual.replay.buffers.policies.boundary import BoundarySelection
from continual.replay.buffers.policies.rainbow import per_class_budget

NO_ID = -1


def bias_corrected(logits, alpha, beta) -> tf.Tensor:
    """alpha_c * z_c + beta_c per class (alpha 1, beta 0 for classes never corrected)."""
    return logits * alpha[None] + beta[None]


def distillation(logits, teacher_logits, learned, temperature: float) -> tf.Tensor:
    """Batch mean of -sum_{c learned} softmax(t / T)_c log_softmax(z / T)_c over learned c."""
    keep = learned[None] > 0
    student = tf.nn.log_softmax(tf.where(keep, logits / temperature, MASKED), axis=-1)
    teacher = tf.nn.softmax(tf.where(keep, teacher_logits / temperature, MASKED), axis=-1)
    return -data_parallel.global_mean(tf.reduce_sum(tf.where(keep, teacher * student, 0.0),
                                                    axis=-1))


def balanced_validation(old_ids, old_labels, ids, labels, classes, size: int, seed: int,
                        task: int) -> np.ndarray:
    """`size // len(classes)` rows per class: its old validation rows first, then a seeded
    random choice of the task's rows of that class."""
    budget = per_class_budget(size, np.asarray(classes))
    keys = tf.random.stateless_uniform([len(ids)], [seed * 7 + 1, task], dtype=tf.float64)
    order = np.argsort(keys.numpy(), kind="stable")
    picked = []
    for label in classes:
        kept = old_ids[old_labels == label][:budget]
        fresh = ids[order][labels[order] == label][: budget - kept.size]
        picked += [kept, fresh]
    return np.concatenate([np.empty(0, np.int64), *picked]).astype(np.int64)


@gin.configurable
class BiC(RainbowMemory):
    """Args: RM's loop settings (with sched_name, milestones, gamma: its lr schedule, 'cos'
    by default), transforms (none by default; 'cutout' allowed), validation_size
    (round(0.1 K): 50 for K = 500), bias_epochs (RM: n_epoch), bias_lr, bias_batch_size,
    temperature."""

    name = "bic"
    data_parallel = True
    reports_final_evaluation = True  # RM's BiC sets best_acc once, after bias correction

    def __init__(self, *, validation_size: int = 50, bias_epochs: int = 256,
                 bias_lr: float = 1e-3, bias_batch_size: int = 100, temperature: float = 2.0,
                 stream: str = "online", memory_epochs: int = 256, offline_epochs: int = 256,
                 warm_start_factor: float = 0.1, eta_min_factor: float = 0.01, transforms=(),
                 sched_name: str = "cos", milestones: Sequence[int] = schedule.RM_MILESTONES,
                 gamma: float | None = None, batch_size: int = 16):
        self.validation_size = planning.check_int("BiC.validation_size", validation_size, 1)
        self.bias_epochs = planning.check_int("BiC.bias_epochs", bias_epochs, 1)
        self.bias_lr = planning.check_float("BiC.bias_lr", bias_lr)
        self.bias_batch_size = planning.check_int("BiC.bias_batch_size", bias_batch_size, 1)
        self.temperature = planning.check_float("BiC.temperature", temperature)
        super().__init__(**passed_arguments(type(self).__name__, "RainbowMemory", {
            "stream": stream, "memory_epochs": memory_epochs, "offline_epochs": offline_epochs,
            "warm_start_factor": warm_start_factor, "eta_min_factor": eta_min_factor,
            "transforms": transforms, "batch_size": batch_size,
            **schedule.baseline_schedule(type(self).__name__, sched_name, milestones, gamma)},
            fixed={"uncertainty_metric": "vr"}))
        if "cutmix" in self.transforms:
            raise ValueError("BiC.transforms: 'cutmix' is not supported by this BiC port; "
                             "remove it (RM's baselines ran without augmentation)")

    def build(self, input_shape, num_classes, buffer, seed) -> None:
        super().build(input_shape, num_classes, buffer, seed)
        self.teacher = build_classifier(input_shape=tuple(input_shape),
                                        num_classes=num_classes, seed=seed)
        state = tf.Module(name="bic_state")
        state.learned = tf.Variable(tf.zeros([num_classes]), trainable=False, name="learned")
        state.alpha = tf.Variable(tf.ones([num_classes]), trainable=False, name="alpha")
        state.beta = tf.Variable(tf.zeros([num_classes]), trainable=False, name="beta")
        state.validation = tf.Variable(tf.fill([self.validation_size], tf.constant(
            NO_ID, tf.int64)), trainable=False, name="validation_ids")
        self.state = state
        self._logits = tf.function(self._corrected_logits, reduce_retracing=True)
        self.blurry_block, self.last_task = None, None

    def _check_policy(self, buffer) -> None:
        if not isinstance(buffer.policy, BoundarySelection):
            raise ValueError(f"BiC: EpisodicBuffer.policy = {buffer.policy.name!r} is not a "
                             "task-end memory manager; use 'herding' (BiC's exemplars)")

    def trackables(self) -> dict:
        return {**super().trackables(), "teacher": self.teacher, "bic": self.state}

    def check_stream(self, scenario, loop) -> None:
        super().check_stream(scenario, loop)
        classes = max(len(e.seen_classes) for e in scenario.experiences)
        if self.validation_size < classes:
            raise ValueError(f"BiC.validation_size = {self.validation_size} leaves no "
                             f"validation row for some of the {classes} classes; raise it")
        self.blurry_block, self.last_task = blurry_block(scenario), len(scenario.experiences) - 1

    # ---------------------------------------------------------------- stage 1
    def _corrected_logits(self, images, training):
        logits = tf.cast(self.model(standardize(images), training=training), tf.float32)
        logits = bias_corrected(logits, self.state.alpha, self.state.beta)
        return tf.where(self.exposed[None] > 0, logits, MASKED)

    def train_step(self, batch, step) -> dict:
        images, labels = batch.images, batch.labels
        ids = tf.cast(batch.ids, tf.int64)
        if batch.replay_images is not None:
            images = tf.concat([images, batch.replay_images], 0)
            labels = tf.concat([labels, batch.replay_labels], 0)
            ids = tf.concat([ids, tf.fill(tf.shape(batch.replay_labels), tf.constant(
                NO_ID - 1, tf.int64))], 0)
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        lr = tf.constant(self.learning_rate(batch.phase, batch.epoch), tf.float32)
        return self._bic_step(images, labels, ids, lr, seed)

    @tf.function(reduce_retracing=True)
    def _bic_step(self, images, labels, ids, lr, seed):
        trained = tf.cast(~tf.reduce_any(ids[:, None] == self.state.validation[None], 1),
                          tf.float32)
        teacher = bias_corrected(tf.cast(self.teacher(standardize(images), training=False),
                                         tf.float32), self.state.alpha, self.state.beta)
        views = augment.train_views(images, seed, self.transforms)
        learned = self.state.learned
        lam = tf.reduce_sum(learned) / tf.maximum(tf.reduce_sum(self.exposed), 1.0)
        self.optimizer.learning_rate = lr
        outputs = data_parallel.run_split(self.strategy, self._bic_replica_step,
                                          (views, labels, trained, teacher), (lam,))
        return {**outputs, "lr": lr}

    def _bic_replica_step(self, views, labels, trained, teacher, lam):
        def loss():
            logits = self._corrected_logits(views, True)
            ce = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            ce = data_parallel.global_ratio(tf.reduce_sum(ce * trained), tf.reduce_sum(trained))
            kd = distillation(logits, teacher, self.state.learned, self.temperature)
            return lam * kd + (1.0 - lam) * ce

        return {"loss": self.minimise(loss)}

    # ---------------------------------------------------------------- hooks
    def begin_experience(self, experience, table) -> None:
        """Expose, keep the head, reset the optimiser, freeze the teacher, re-balance the
        validation rows."""
        self.expose(experience)
        self.reset_optimizer()
        for target, value in zip(self.teacher.weights, self.model.weights, strict=True):
            target.assign(value)
        old = self.state.validation.numpy()
        old = old[old != NO_ID]
        ids = np.setdiff1d(np.asarray(experience.train_ids, np.int64), old)
        chosen = balanced_validation(old, table.labels_of(old), ids, table.labels_of(ids),
                                     np.flatnonzero(self.exposed.numpy() > 0),
                                     self.validation_size, self.seed, experience.index)
        padded = np.full(self.validation_size, NO_ID, np.int64)
        padded[: chosen.size] = chosen
        self.state.validation.assign(padded)

    def update_memory(self, experience, table) -> None:
        """Herding over memory ∪ the task's rows that are not validation rows."""
        held = set(self.state.validation.numpy().tolist())
        kept = tuple(int(i) for i in experience.train_ids if int(i) not in held)
        super().update_memory(dataclasses.replace(experience, train_ids=kept), table)

    def end_experience(self, experience, table) -> None:
        """Stage 2 for the task's new classes (not at task 0), then mark them learned."""
        super().end_experience(experience, table)
        new = (self.exposed.numpy() > 0) & (self.state.learned.numpy() == 0)
        if experience.index > 0 and new.any():
            self.correct_bias(new, table, experience.index)
        elif self.blurry_block is not None and 0 < experience.index == self.last_task:
            block = np.isin(np.arange(self.num_classes), self.blurry_block)
            self.correct_bias(block, table, experience.index)
        self.state.learned.assign(self.exposed.read_value())

    def correct_bias(self, new: np.ndarray, table, task: int) -> tuple[float, float]:
        """Fit (a, b) on the validation rows' frozen logits; write them to the new classes."""
        ids = self.state.validation.numpy()
        ids = ids[ids != NO_ID]
        logits = tf.concat([self._logits(table.gather(ids[s:s + 256])[0], False)
                            for s in range(0, len(ids), 256)], 0)
        a, b = fit_bias(logits, tf.constant(table.labels_of(ids)), tf.constant(new),
                        epochs=self.bias_epochs, lr=self.bias_lr,
                        batch_size=self.bias_batch_size, seed=self.seed * 31 + task)
        self.state.alpha.assign(np.where(new, a, self.state.alpha.numpy()))
        self.state.beta.assign(np.where(new, b, self.state.beta.numpy()))
        return a, b


def blurry_block(scenario) -> tuple[int, ...] | None:
    """The last task's major classes of a blurry scenario (RM's last logit block), from its
    class order and task sizes; None for any other scenario."""
    params = scenario.params
    if scenario.name != "blurry" or "class_order" not in params:
        return None
    sizes = params["classes_per_task"]
    return tuple(int(c) for c in params["class_order"][sum(sizes[:-1]):])


def fit_bias(logits, labels, new, *, epochs: int, lr: float, batch_size: int,
             seed: int) -> tuple[float, float]:
    """Adam on CE of where(new, a z + b, z) over (logits, labels); returns (a, b)."""
    a, b = tf.Variable(1.0), tf.Variable(0.0)
    optimizer = keras.optimizers.Adam(learning_rate=lr)
    optimizer.build([a, b])
    step = tf.function(lambda rows: _bias_step(tf.gather(logits, rows), tf.gather(labels, rows),
                                               new, a, b, optimizer), reduce_retracing=True)
    count = int(labels.shape[0])
    for epoch in range(epochs):
        order = np.random.default_rng([seed, epoch]).permutation(count)
        for start in range(0, count, batch_size):
            step(tf.constant(order[start:start + batch_size]))
    return float(a.numpy()), float(b.numpy())


def _bias_step(logits, labels, new, a, b, optimizer) -> None:
    with tf.GradientTape() as tape:
        corrected = tf.where(new[None], a * logits + b, logits)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=corrected))
    optimizer.apply_gradients(zip(tape.gradient(loss, [a, b]), [a, b], strict=True))
