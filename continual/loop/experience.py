"""The experience loop: one experience of a stream method, resumable at any batch.

Order, written once here: begin-experience hook; then per phase its batches (a stream batch,
plus a replay batch sampled from the buffer when the method replays; the train step; the
after-step hook); the end-of-phase hook; finally the end-of-experience hook. A
`tf.train.CheckpointManager` in the experience's folder saves the method's trackables (weights,
optimisers, buffer, policy state) with the position (phase, batch), the global step and how far
the hooks have run, so a kill anywhere and a rerun give the same result as no kill.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import gin
import numpy as np
import tensorflow as tf

from continual.data.image_table import read_ahead
from continual.divergence import check_finite_outputs
from continual.loop.batches import phase_batches
from continual.loop.progress import PhaseProgress, scalar_outputs
from continual.methods.base import StreamBatch, StreamMethod
from continual.models.checkpoints import resume

log = logging.getLogger(__name__)


@gin.configurable
@dataclasses.dataclass(frozen=True)
class ExperienceLoop:
    """Batch sizes and checkpoint cadence of the loop (gin: `ExperienceLoop.*`)."""

    stream_batch_size: int = 10
    replay_batch_size: int = 10
    checkpoint_every: int = 100

    def __post_init__(self):
        for name in ("stream_batch_size", "replay_batch_size", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ExperienceLoop.{name} must be an integer >= 1, got {value!r}; "
                                 "fix the gin binding")


class LoopState(tf.Module):
    """Where the loop is: global step, phase, batch within the phase, hooks done."""

    def __init__(self):
        super().__init__(name="loop_state")
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.phase = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.batch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.begun = tf.Variable(False, trainable=False)
        self.images_seen = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.train_seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False)


def make_checkpoint(method: StreamMethod, state: LoopState) -> tf.train.Checkpoint:
    return tf.train.Checkpoint(loop=state, **method.trackables())


def run_experience(method: StreamMethod, experience, table, settings: ExperienceLoop,
                   seed: int, folder: Path, state: LoopState, log_scalars=None,
                   after_epoch=None, log_every: int = 20) -> dict:
    """Train `method` on one experience; resumes from `folder/ckpt` when a run was cut short.

    `after_epoch(phase_index, phase, epoch)`, when given, runs after the last batch of each
    epoch of each phase (an online phase: one epoch), before the next checkpoint: a resumed
    run calls it again for an epoch whose end it passes again (the same weights), so it must
    be idempotent (e.g. the per-epoch test evaluation of `StreamPlan.accuracy_rule`).
    Each phase shows a progress bar; `log_scalars(global_step, values)`, when given, gets the
    train step's scalars, lr and images/s every `log_every` global steps."""
    checkpoint = make_checkpoint(method, state)
    manager = tf.train.CheckpointManager(checkpoint, str(folder / "ckpt"), max_to_keep=1)
    if resume(checkpoint, manager):
        log.info("resuming experience %d at phase %d, batch %d (global step %d)",
                 experience.index, int(state.phase), int(state.batch), int(state.global_step))
    if not bool(state.begun):
        method.begin_experience(experience, table)
        state.begun.assign(True)
        manager.save()
    phases = method.phases(experience)
    while int(state.phase) < len(phases):
        index = int(state.phase)
        progress = PhaseProgress(method, experience.index, phases[index], index, len(phases),
                                 _phase_length(method, phases[index], experience, settings),
                                 int(state.batch), log_every)
        try:
            _run_phase(method, phases[index], index, experience, table, settings, seed, state,
                       manager, log_scalars, after_epoch, progress)
        finally:
            progress.close()
        method.end_phase(phases[index], experience, table)
        state.phase.assign_add(1)
        state.batch.assign(0)
        manager.save()
    method.end_experience(experience, table)
    seconds = float(state.train_seconds)
    return {"images": int(state.images_seen), "train_seconds": seconds,
            "images_per_sec": float(state.images_seen) / seconds if seconds > 0 else None,
            "global_step": int(state.global_step), "phases": [p.kind for p in phases]}


def _phase_ids(method: StreamMethod, phase, experience) -> np.ndarray:
    if phase.kind == "memory":
        return np.sort(method.buffer.stored_ids())
    stream = np.asarray(experience.train_ids, dtype=np.int64)
    if phase.kind == "mixed":
        return np.concatenate([stream, np.sort(method.buffer.stored_ids())]).astype(np.int64)
    return stream


def _phase_length(method, phase, experience, settings) -> int:
    """How many batches the phase has (for the bar; the loop itself counts `phase_batches`)."""
    rows = len(_phase_ids(method, phase, experience))
    return phase.epochs * -(-rows // settings.stream_batch_size)


def _run_phase(method, phase, index, experience, table, settings, seed, state, manager,
               log_scalars, after_epoch, progress) -> None:
    batches = phase_batches(phase, index, _phase_ids(method, phase, experience),
                            settings.stream_batch_size, seed, experience.index)
    read_ahead(table, [ids for _, ids in batches[int(state.batch):]])
    first = True
    while int(state.batch) < len(batches):
        epoch, ids = batches[int(state.batch)]
        batch = _make_batch(method, phase, table, ids, settings, seed, state)
        batch.epoch, batch.phase = epoch, phase.kind
        start = time.perf_counter()
        skipped = _skipped_steps(method)
        outputs = method.train_step(batch, state.global_step)
        check_finite_outputs(scalar_outputs(method, outputs),
                             f"experience {experience.index}, step {int(state.global_step)}",
                             skipped=_skipped_steps(method) != skipped)
        method.after_step(batch, state.global_step, outputs)
        if not first:  # a phase's first step traces: not counted in images/s (stream + replay)
            state.train_seconds.assign_add(time.perf_counter() - start)
            replayed = 0 if batch.replay_labels is None else int(batch.replay_labels.shape[0])
            state.images_seen.assign_add(len(ids) + replayed)
        first = False
        state.global_step.assign_add(1)
        state.batch.assign_add(1)
        following = int(state.batch)
        if after_epoch and (following == len(batches) or batches[following][0] != epoch):
            after_epoch(index, phase, epoch)
        values = progress.step(int(state.global_step), epoch, outputs, state,
                               last=following == len(batches))
        if log_scalars and values is not None:
            log_scalars(int(state.global_step), values)
        if int(state.batch) % settings.checkpoint_every == 0:
            manager.save()


def _skipped_steps(method) -> int | None:
    """Steps the method's float16 loss scale has skipped so far (None: it has none)."""
    scale = getattr(method, "loss_scale", None)
    return None if scale is None else int(scale.skipped_steps.numpy())


def _make_batch(method, phase, table, ids, settings, seed, state) -> StreamBatch:
    images, labels = table.gather(ids)
    batch = StreamBatch(images=images, labels=labels, ids=tf.constant(ids, tf.int64),
                        source=table)
    buffer = getattr(method, "buffer", None)
    if (method.uses_buffer and phase.kind in ("online", "offline") and buffer is not None
            and buffer.size > 0):
        sample = buffer.sample(settings.replay_batch_size,
                               seed=tf.stack([tf.constant(seed, tf.int64), state.global_step]))
        batch.replay_images, batch.replay_labels = table.gather(sample["ids"])
        batch.replay_slots = sample["slots"]
    return batch
