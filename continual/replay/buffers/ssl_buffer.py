"""The continuous-SSL replay buffer: FIFO or MinRed over ids, one shard per replica.

`StreamPlan.buffer = @ContinuousBuffer`. The method appends each stream batch (`insert`),
shrinks the buffer back to capacity once it is full (`shrink`: FIFO drops the oldest items,
MinRed the most redundant ones), samples training batches (`sample`) and writes each step's
per-item statistics back (`write_stats`), synchronously (the original's DataLoader prefetch
lagged them ~10 batches).

`shards` reproduces the original's one buffer per GPU (the paper's 4 x 16 384): capacity and the
stream batch are split evenly, each shard takes its slice of every incoming batch, removes on its
own and gives its slice of every training batch. Shards run one after another on one device;
tests/replay/test_ssl_shards_replicas.py checks that they keep what one buffer per replica keeps
under MirroredStrategy.
"""

from __future__ import annotations

import gin
import numpy as np
import tensorflow as tf

from continual.key_files import register_file_binding
from continual.replay.buffers.ssl_restore import restore_buffer
from continual.replay.buffers.ssl_shard import BufferShard

BUFFER_POLICIES = ("fifo", "minred")


def _positive_int(value, binding: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{binding} must be an integer >= 1, got {value!r}; fix the binding")
    return value


@gin.configurable(denylist=["num_classes"])
class ContinuousBuffer(tf.Module):
    """`capacity` ids kept by `policy` ('fifo' or 'minred') in `shards` equal shards;
    `restore_from`: a stage checkpoint whose buffer this one starts from (ssl_restore.py)."""

    def __init__(self, capacity: int = 16384, policy: str = "fifo", shards: int = 1, *,
                 num_classes: int, restore_from: str | None = None):
        super().__init__(name="continuous_buffer")
        self.capacity = _positive_int(capacity, "ContinuousBuffer.capacity")
        self.num_shards = _positive_int(shards, "ContinuousBuffer.shards")
        if policy not in BUFFER_POLICIES:
            raise ValueError(f"Unknown ContinuousBuffer.policy {policy!r}; set it to one of "
                             f"{list(BUFFER_POLICIES)}")
        if capacity % shards:
            raise ValueError(f"ContinuousBuffer.capacity = {capacity} is not divisible by "
                             f"ContinuousBuffer.shards = {shards}; each shard holds an equal part")
        self.policy, self.num_classes = policy, int(num_classes)
        self.restore_from = restore_from
        self.shards: list[BufferShard] = []

    def build(self, feature_dim: int, batch_size: int) -> None:
        """Allocate the shards for stream batches of `batch_size` and features of that size."""
        if batch_size % self.num_shards:
            raise ValueError(f"ExperienceLoop.stream_batch_size = {batch_size} is not divisible "
                             f"by ContinuousBuffer.shards = {self.num_shards}")
        if self.capacity < batch_size:
            raise ValueError(f"ContinuousBuffer.capacity = {self.capacity} is smaller than a "
                             f"stream batch (ExperienceLoop.stream_batch_size = {batch_size}); "
                             "raise the capacity")
        per_shard = self.capacity // self.num_shards
        self.shards = [BufferShard(per_shard, batch_size // self.num_shards, feature_dim,
                                   self.policy == "minred", name=f"shard{i}")
                       for i in range(self.num_shards)]
        if self.restore_from is not None:
            restore_buffer(self, str(self.restore_from))

    def _split(self, count: int) -> list[slice]:
        bounds = np.cumsum([0] + [len(c) for c in np.array_split(np.arange(count),
                                                                   self.num_shards)])
        return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def insert(self, ids, labels, step) -> None:
        """Append a stream batch, split across the shards in order."""
        ids, labels = tf.convert_to_tensor(ids, tf.int64), tf.convert_to_tensor(labels, tf.int32)
        for shard, part in zip(self.shards, self._split(int(ids.shape[0])), strict=True):
            shard.insert(ids[part], labels[part], tf.cast(tf.reshape(step, []), tf.int64))

    @property
    def full(self) -> bool:
        return all(int(s.size) >= s.capacity for s in self.shards)

    def shrink(self) -> np.ndarray:
        """Back to capacity by the policy; the removed ids (shard by shard)."""
        return np.concatenate([s.shrink(self.policy).numpy() for s in self.shards])

    def sample(self, batch_size: int, seed) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """(ids [batch], per-shard slots): batch_size / shards items from each shard."""
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), self.num_shards)
        per_shard = batch_size // self.num_shards
        slots = [s.sample(tf.constant(per_shard, tf.int32), seeds[i])
                 for i, s in enumerate(self.shards)]
        ids = tf.concat([tf.gather(s.ids, p) for s, p in zip(self.shards, slots, strict=True)], 0)
        return ids, slots

    @property
    def num_slots(self) -> int:
        """Slots of all shards together (capacity plus each shard's room for a batch)."""
        return sum(s.slots for s in self.shards)

    def slot_keys(self, slots: list[tf.Tensor]) -> tf.Tensor:
        """One int64 per sampled item naming its slot across the shards (shard i's slot k is
        k plus the slots of shards 0..i-1), in `sample`'s order."""
        offsets = np.cumsum([0] + [s.slots for s in self.shards])
        return tf.concat([tf.cast(p, tf.int64) + int(offsets[i]) for i, p in enumerate(slots)],
                         0)

    def write_stats(self, slots: list[tf.Tensor], features, loss, similarity) -> None:
        """Per-item statistics of a sampled batch (rows in `sample`'s order)."""
        start = 0
        for shard, part in zip(self.shards, slots, strict=True):
            stop = start + int(part.shape[0])
            shard.write_stats(part, features[start:stop], loss[start:stop],
                              similarity[start:stop])
            start = stop

    @property
    def size(self) -> tf.Tensor:
        return tf.add_n([s.size for s in self.shards]) if self.shards else tf.constant(0)

    def stored_ids(self) -> np.ndarray:
        """Ids held, shard by shard, oldest first."""
        return np.concatenate([tf.gather(s.ids, s.occupied_slots()).numpy()
                               for s in self.shards])

    def class_counts(self) -> np.ndarray:
        """Items of each class held (labels are diagnostics only: SSL never trains on them)."""
        labels = np.concatenate([tf.gather(s.labels, s.occupied_slots()).numpy()
                                 for s in self.shards])
        return np.bincount(labels, minlength=self.num_classes)


# The checkpoint's files enter the stage keys by their content, not the path (continual.key_files).
register_file_binding(ContinuousBuffer, "restore_from")
