"""EpisodicBuffer: preallocated storage x a policy (what enters) x a sampler (what is replayed).

One `tf.Module`: `tf.train.Checkpoint(buffer=episodic_buffer)` saves the storage and the
policy's state with the model, so a run killed mid-stream resumes with the same buffer and the
same next decisions. The loop calls `begin_experience`, `observe` after every step,
`end_experience`, and `sample` for each replay batch; a replay batch holds record ids, which the
input pipeline gathers from the encoded records.
"""

from __future__ import annotations

from collections.abc import Sequence

import gin
import numpy as np
import tensorflow as tf

from continual.replay.buffers.policies import make_policy
from continual.replay.buffers.samplers import make_sampler
from continual.replay.buffers.storage import BufferStorage


@gin.configurable(denylist=["num_classes"])
class EpisodicBuffer(tf.Module):
    """A replay memory of `capacity` items over `num_classes` classes.

    `policy`: a name from `policies.POLICIES` (its own arguments are bound on its class, e.g.
    `FixedPerClassPolicy.n_per_class`); `sampler`: a name from `samplers.SAMPLERS`.
    `logits_dim` / `feature_dim` keep per-item logits / features; `stats` names per-item floats.
    """

    def __init__(self, capacity: int = 500, policy: str = "reservoir", sampler: str = "uniform",
                 *, num_classes: int, logits_dim: int | None = None,
                 feature_dim: int | None = None, stats: Sequence[str] = ()):
        super().__init__(name="episodic_buffer")
        if capacity < 1 or capacity < num_classes:
            raise ValueError(f"EpisodicBuffer.capacity = {capacity} is smaller than the number "
                             f"of classes ({num_classes}) or than 1; raise EpisodicBuffer.capacity")
        self.storage = BufferStorage(capacity, num_classes=num_classes, logits_dim=logits_dim,
                                     feature_dim=feature_dim, stats=tuple(stats))
        self.policy = make_policy(policy, num_classes=num_classes)
        self.sampler = make_sampler(sampler)
        self.capacity = int(capacity)

    def check_replay_batch(self, batch_size: int, binding: str = "replay_batch_size") -> None:
        """Raise if a replay batch of `batch_size` could never be filled from this memory."""
        if self.capacity < batch_size:
            raise ValueError(f"{binding} = {batch_size} is larger than EpisodicBuffer.capacity "
                             f"= {self.capacity}; lower {binding} or raise EpisodicBuffer.capacity")

    def observe(self, ids, labels, step, seed: int, logits=None, features=None) -> None:
        """Offer a stream batch after a training step (online policies decide here)."""
        self.policy.observe(self.storage, ids, labels, step, seed, logits, features)

    def begin_experience(self, ids, labels, seed: int, *, step: int = 0, logits=None,
                         features=None) -> None:
        """Before an experience: all its ids and labels in stream order."""
        self.policy.begin_experience(self.storage, ids, labels, seed, step=step, logits=logits,
                                     features=features)

    def end_experience(self, ids, labels, seed: int, *, step: int = 0, logits=None,
                       features=None) -> None:
        """After an experience: all its ids and labels in stream order."""
        self.policy.end_experience(self.storage, ids, labels, seed, step=step, logits=logits,
                                   features=features)

    def sample(self, batch_size: int, seed) -> dict[str, tf.Tensor]:
        """A replay batch: slots, ids, labels, inserted_at [, logits, features, stats].

        Fewer than batch_size rows while the memory holds fewer items (see samplers).
        """
        slots = self.sampler.sample(self.storage, batch_size, seed)
        return {"slots": slots, **self.storage.gather(slots)}

    @property
    def size(self) -> tf.Tensor:
        """int32 scalar: items in memory."""
        return self.storage.size.read_value()

    def stored_ids(self) -> np.ndarray:
        """int64 [size]: the record ids in memory, in slot order (e.g. for memory-only epochs)."""
        return self.storage.ids[: self.storage.size].numpy()

    def class_counts(self) -> tf.Tensor:
        """int32 [num_classes]: items of each class in memory."""
        return self.storage.class_counts()
