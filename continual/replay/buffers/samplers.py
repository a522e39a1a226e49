"""Samplers: which occupied slots a replay batch reads, by name.

`sample(storage, batch_size, seed)` returns int32 slots, distinct, all occupied. When the memory
holds fewer than `batch_size` items the batch is all of them (shorter than asked; empty memory:
empty). `seed` is a stateless seed pair, e.g. [experiment seed, global step], so a resumed run
draws the same batches. Both samplers cost O(capacity), whatever the number of tasks.
"""

from __future__ import annotations

import tensorflow as tf

from continual.replay.buffers.storage import BufferStorage


@tf.function(reduce_retracing=True)
def uniform_slots(size, batch_size, seed) -> tf.Tensor:
    """min(batch_size, size) distinct slots of [0, size), uniformly at random."""
    keys = tf.random.stateless_uniform([size], seed=seed)
    return tf.math.top_k(keys, tf.minimum(batch_size, size)).indices


@tf.function(reduce_retracing=True)
def class_balanced_slots(labels, num_classes, batch_size, seed) -> tf.Tensor:
    """Round-robin over the classes present in a seeded order, random order within a class.

    Turn t takes the t-th item (in a seeded order) of every class that still has one, classes in
    the seeded class order; the batch is the first batch_size items of that sequence.
    """
    size = tf.size(labels)
    keys = tf.random.stateless_uniform([num_classes + size], seed=seed)
    class_turn = tf.math.invert_permutation(tf.argsort(keys[:num_classes], stable=True))
    shuffled = tf.argsort(keys[num_classes:], stable=True)
    by_class = tf.gather(shuffled, tf.argsort(tf.gather(labels, shuffled), stable=True))
    grouped = tf.gather(labels, by_class)
    counts = tf.math.bincount(labels, minlength=num_classes, maxlength=num_classes)
    rank = tf.range(size) - tf.gather(tf.cumsum(counts, exclusive=True), grouped)
    order = tf.argsort(rank * num_classes + tf.gather(class_turn, grouped), stable=True)
    return tf.gather(by_class, order[: tf.minimum(batch_size, size)])


@tf.function(reduce_retracing=True)
def cycled_slots(size, batch_size, seed) -> tf.Tensor:
    """Passes over the memory in full batches, each pass a fresh seeded permutation.

    `seed` = [experiment seed, position] (the loop passes the global step as the position):
    pass = position // (size // batch), reshuffled by (seed, pass); the rows of a pass that do
    not fill a last batch wait for a later pass (a torch loader with shuffle and drop_last,
    cycled). min(batch_size, size) slots.
    """
    batch = tf.minimum(batch_size, size)
    per_pass = tf.cast(tf.maximum(size // tf.maximum(batch, 1), 1), tf.int64)
    position = seed[1]
    keys = tf.random.stateless_uniform([size], seed=tf.stack([seed[0], position // per_pass]))
    start = tf.cast(position % per_pass, tf.int32) * batch
    return tf.argsort(keys, stable=True)[start:start + batch]


class UniformSampler:
    """Uniform without replacement among the occupied slots."""

    def sample(self, storage: BufferStorage, batch_size: int, seed) -> tf.Tensor:
        return uniform_slots(storage.size, tf.constant(batch_size), _seed_pair(seed))


class ClassBalancedSampler:
    """Classes present drawn round-robin in a seeded order; within a class without replacement."""

    def sample(self, storage: BufferStorage, batch_size: int, seed) -> tf.Tensor:
        labels = storage.labels[: storage.size]
        return class_balanced_slots(labels, tf.constant(storage.num_classes),
                                    tf.constant(batch_size), _seed_pair(seed))


class CycleSampler:
    """Kaizen's replay loader: shuffled passes over the memory, cycled beside the task's data."""

    def sample(self, storage: BufferStorage, batch_size: int, seed) -> tf.Tensor:
        return cycled_slots(storage.size, tf.constant(batch_size), _seed_pair(seed))


def _seed_pair(seed) -> tf.Tensor:
    return tf.cast(tf.reshape(seed, [2]), tf.int64)


SAMPLERS = {"class_balanced": ClassBalancedSampler, "cycle": CycleSampler,
            "uniform": UniformSampler}


def make_sampler(name: str, *, binding: str = "EpisodicBuffer.sampler"):
    """The sampler registered as `name`."""
    if name not in SAMPLERS:
        raise ValueError(f"Unknown {binding} {name!r}; set {binding} to one of {sorted(SAMPLERS)}")
    return SAMPLERS[name]()
