"""What a stream method is: its models and optimisers, its phases, its train step, its hooks.

The experience loop (`continual.loop.experience`) owns the order: begin experience, then for
each phase its batches (train step, then the after-step hook), then the end-of-phase hook, then
the end-of-experience hook. Each hook runs once per experience, also across a kill and resume
(the loop checkpoints right after it). A method never calls another method's hooks.

A subclass builds its state in `build` and returns every trackable it owns from `trackables`,
so the loop's checkpoint holds weights, optimiser slots, buffer and policy state. A method
that declares `kept_between_stages` is built once per experiment in a process: each later
stage reads its saved state into it (`continual.plans.stream_stages.restored_method`), so its
step is traced once, not once per experience. It must keep everything a step or hook changes
in variables (a Python attribute set by an earlier stage would leak into the next one, where a
rerun after a kill, a fresh build, would not have it), and its compiled functions must run the
same graphs in every stage as a fresh build would.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

PHASE_KINDS = ("online", "offline", "memory", "mixed")


@dataclasses.dataclass(frozen=True)
class Phase:
    """One pass structure over an experience.

    online: one pass over the experience's stream in stream order;
    offline: `epochs` passes over the experience's data, reshuffled (stateless) each epoch;
    memory: `epochs` passes over the buffer's contents only (e.g. Rainbow Memory);
    mixed: `epochs` passes over the experience's data and the buffer's contents as one set,
      reshuffled each epoch (RM's baselines: one loader over stream ∪ memory); no separate
      replay batch, and the buffer must not change during the phase (its items are read again
      on a resume), so an online policy is offered the stream rows at the phase's end.
    `batch_size`: rows per batch (None: the loop's `stream_batch_size`); `drop_last`: drop a
    last partial batch of each epoch (a torch DataLoader's `drop_last=True`, as
    Kaizen's and RM's baselines' loaders; not for online phases).
    """

    kind: str
    epochs: int = 1
    batch_size: int | None = None
    drop_last: bool = False

    def __post_init__(self):
        if self.kind not in PHASE_KINDS:
            raise ValueError(f"phase kind {self.kind!r} is not one of {PHASE_KINDS}")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"a phase needs epochs >= 1, got {self.epochs!r}")
        if self.batch_size is not None and (isinstance(self.batch_size, bool) or not isinstance(
                self.batch_size, int) or self.batch_size < 1):
            raise ValueError(f"a phase's batch_size must be None or >= 1, got "
                             f"{self.batch_size!r}")
        if self.drop_last and self.kind == "online":
            raise ValueError("an online phase feeds the whole stream: drop_last is for offline, "
                             "memory and mixed phases")

    def batches_per_epoch(self, count: int, batch_size: int) -> int:
        """Batches one epoch of `count` rows trains on: ⌊count / batch⌋ with drop_last, else
        ⌈count / batch⌉ (the last one smaller)."""
        return count // batch_size if self.drop_last else -(-count // batch_size)


@dataclasses.dataclass
class StreamBatch:
    """What a train step receives: stream rows and, when the method replays, buffer rows."""

    images: tf.Tensor               # uint8 [B, H, W, C]
    labels: tf.Tensor               # int32 [B]
    ids: tf.Tensor                  # int64 [B] rows of the train set
    replay_images: tf.Tensor | None = None
    replay_labels: tf.Tensor | None = None
    replay_slots: tf.Tensor | None = None
    epoch: int = 0                  # epoch of the phase (online phases: always 0)
    phase: str = "online"           # kind of the phase: online, offline, memory
    source: object | None = None    # the ImageTable the rows come from (for hooks that read
                                    # other rows, e.g. a memory sweep)

    @property
    def first_sight(self) -> bool:
        """True when these stream rows are seen for the first time in the experience (the
        first epoch of a stream phase): when an online policy should be offered them. Never
        in a mixed phase (its rows include memory items; see `Phase`)."""
        return self.epoch == 0 and self.phase in ("online", "offline")


class StreamMethod:
    """Base class: a method with no buffer, no hooks and online phases."""

    name = "method"
    uses_buffer = False
    # True when the train step scales its loss under mixed_float16 (a `DynamicLossScale`,
    # continual/optim/loss_scale.py, among its trackables); the stream plan refuses float16
    # for a method that does not.
    supports_loss_scaling = False
    # True when the train step splits the global batch across the replicas of a multi-device
    # strategy (continual/methods/data_parallel.py); read from each class's own body, so a
    # subclass that changes the step declares it again. Others are refused under `mirrored`.
    data_parallel = False
    # Gin bindings ('Configurable.param') that cannot change the initial state or the first
    # experience (nor their evaluations): the stream plan leaves them out of those keys, so
    # experiments that differ only in them train the first experience once. The method must
    # then save a state whose variables and values do not depend on them (e.g. Kaizen's
    # distillation and replay flags, which act from the second task on).
    first_experience_invariant: tuple[str, ...] = ()
    # True when the stages of one experiment may share the method (see the module doc): its
    # compiled functions are traced with input signatures, or see the same shapes in the same
    # order in every stage. A `reduce_retracing` function whose input shapes change between
    # experiences would run a generalised trace where a fresh build runs a shape-specific one,
    # and float results move (Kaizen's demo rows did, kept, before its functions had
    # signatures). Read from each class's own body, as `data_parallel`: a subclass declares it
    # again.
    kept_between_stages = False

    def build(self, input_shape: tuple[int, ...], num_classes: int, buffer, seed: int) -> None:
        """Create models, optimisers (built, so their slots exist before a restore)."""
        raise NotImplementedError

    def trackables(self) -> dict:
        """Everything the loop checkpoints, by name."""
        raise NotImplementedError

    def phases(self, experience) -> list[Phase]:
        return [Phase("online")]

    def train_step(self, batch: StreamBatch, step: tf.Tensor) -> dict:
        raise NotImplementedError

    def predict(self, images: tf.Tensor) -> tf.Tensor:
        """Logits [B, num_classes] of uint8 images, in inference mode."""
        raise NotImplementedError

    def check_stream(self, scenario, loop) -> None:
        """Raise ValueError before any training when the scenario's experiences or the loop's
        settings (`ExperienceLoop`) break the method's rules; called once the method is built."""

    def key_values(self) -> dict:
        """Values that define the method beyond its gin bindings (rarely needed)."""
        return {}

    # Hooks, in the loop's fixed order; each runs once per experience.
    def begin_experience(self, experience, table) -> None:
        """Before the first batch of an experience (e.g. a memory fixed at the task start)."""

    def after_step(self, batch: StreamBatch, step: tf.Tensor, outputs: dict) -> None:
        """After each train step (e.g. an online buffer update with the stream rows)."""

    def end_phase(self, phase: Phase, experience, table) -> None:
        """After the last batch of a phase (e.g. a memory selection before memory epochs)."""

    def end_experience(self, experience, table) -> None:
        """After the last phase (e.g. a buffer update at the task boundary)."""
