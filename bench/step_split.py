"""Where a stream step's wall time goes: input, buffer, train step and the rest.

`SplitTimer` wraps, on one method and its image table, the calls the experience loop makes:
`table.gather` (input: stream and replay rows), `buffer.sample` and `method.after_step`
(buffer), `method.train_step` (step; its outputs are read, so asynchronous devices finish).
Time is exclusive: a gather inside an after-step hook counts as input, not buffer. Timing
starts once `warmup` train steps and their after-step hooks have finished (a step that
traces is not timed); rest = wall
time since then minus the three. `run_bounded` drives the loop's own batch order and batch
assembly (`continual.loop`) for a bounded number of steps of a method's first training phase,
so a card whose experience lasts 500 epochs still runs a few steps. Bench code: it patches the
objects it is given.
"""

from __future__ import annotations

import collections
import time

import tensorflow as tf

from bench.op_profile import op_shares
from continual.loop.batches import phase_batches
from continual.loop.experience import LoopState, _make_batch, _phase_ids

PARTS = ("input", "buffer", "step")


class SplitTimer:
    """Exclusive seconds per part of the calls made after the first `warmup` train steps."""

    def __init__(self, method, table, warmup: int = 1):
        self.seconds = collections.Counter()
        self.warmup, self.calls, self.images = warmup, 0, 0
        self.started = self.stopped = None
        self._children: list[float] = []
        table.gather = self._timed(table.gather, "input")
        buffer = getattr(method, "buffer", None)
        if buffer is not None and hasattr(buffer, "sample"):
            buffer.sample = self._timed(buffer.sample, "buffer")
        step = self._timed(method.train_step, "step", sync=True)
        after_step = self._timed(method.after_step, "buffer")

        def counted_step(batch, *args, **kwargs):
            outputs = step(batch, *args, **kwargs)
            if self.active:
                replayed = 0 if batch.replay_images is None else batch.replay_images.shape[0]
                self.images += int(batch.images.shape[0]) + int(replayed)
            return outputs

        def counted_after_step(*args, **kwargs):
            after_step(*args, **kwargs)
            self.calls += 1
            if self.calls == self.warmup:  # the warm-up steps' hooks (which trace) are done
                self.started = time.perf_counter()

        method.train_step, method.after_step = counted_step, counted_after_step

    @property
    def active(self) -> bool:
        return self.started is not None and self.stopped is None

    def _timed(self, function, part: str, sync: bool = False):
        def timed(*args, **kwargs):
            self._children.append(0.0)
            start = time.perf_counter()
            outputs = function(*args, **kwargs)
            if sync:
                for value in tf.nest.flatten(outputs):
                    if hasattr(value, "numpy"):
                        value.numpy()
            elapsed = time.perf_counter() - start
            nested = self._children.pop()
            if self._children:
                self._children[-1] += elapsed
            if self.active:
                self.seconds[part] += elapsed - nested
            return outputs
        return timed

    def stop(self) -> None:
        self.stopped = time.perf_counter()

    def result(self) -> dict:
        """images/s and ms per timed step of input, buffer, step and rest."""
        if self.started is None:
            raise ValueError(f"no step timed: fewer than {self.warmup} warm-up steps ran")
        wall = (self.stopped or time.perf_counter()) - self.started
        steps = max(self.calls - self.warmup, 1)
        split = {f"{part}_ms": 1000 * self.seconds[part] / steps for part in PARTS}
        split["rest_ms"] = 1000 * (wall - sum(self.seconds.values())) / steps
        return {"images_per_sec": self.images / wall if wall > 0 else None, "steps": steps,
                **split}


def run_bounded(method, experience, table, settings, *, steps: int, warmup: int,
                profile_steps: int = 2, seed: int = 0) -> dict:
    """`warmup` + `steps` batches (then `profile_steps` profiled ones) of the method's first
    phase that trains on the experience, as the loop assembles them; the split and op shares."""
    timer = SplitTimer(method, table, warmup)
    state = LoopState()
    method.begin_experience(experience, table)
    index, phase = next((i, p) for i, p in enumerate(method.phases(experience))
                        if p.kind != "memory")
    batches = phase_batches(phase, index, _phase_ids(method, phase, experience),
                            settings.stream_batch_size, seed, experience.index)
    needed = warmup + steps + profile_steps
    if len(batches) < needed:
        raise ValueError(f"the experience has {len(batches)} batches; {needed} are needed")

    def train(rows) -> None:
        for epoch, ids in rows:
            batch = _make_batch(method, phase, table, ids, settings, seed, state)
            batch.epoch, batch.phase = epoch, phase.kind
            outputs = method.train_step(batch, state.global_step)
            method.after_step(batch, state.global_step, outputs)
            state.global_step.assign_add(1)

    train(batches[:warmup + steps])
    timer.stop()
    shares = op_shares(lambda: train(batches[warmup + steps:needed])) if profile_steps else {}
    return {**timer.result(), "op_shares": shares}
