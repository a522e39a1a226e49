"""MinRed buffer cost per stream step: our incremental bookkeeping vs the original's algorithm.

One step at capacity N (default 16 384, one shard) with D-d features (512): insert a batch of
B ids (64), write the features of B buffer items (one training step's synchronous statistics)
and shrink back to N by MinRed (B removals). `BufferShard` keeps each item's two nearest
neighbours and recomputes, in one matmul, only the rows a feature write or a removal leaves
without a known nearest (or second) neighbour. The original
(`mysampler.py`, transcribed directly here in TensorFlow, on the same device) builds the full
similarity matrix S = (X X^T + 1) / 2 of the seen items every step, then B times takes every
row's maximum and blanks the removed row and column. Prints median ms per step and the ratio.
Asserts nothing; numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run standalone from anywhere

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from continual.replay.buffers.policies.minred import NO_NEIGHBOUR  # noqa: E402
from continual.replay.buffers.ssl_shard import BufferShard  # noqa: E402

FILL_CHUNK = 1024


def unit_rows(rng: np.random.Generator, count: int, dim: int) -> tf.Tensor:
    rows = rng.normal(size=(count, dim)).astype(np.float32)
    return tf.constant(rows / np.linalg.norm(rows, axis=1, keepdims=True))


def full_shard(capacity: int, batch: int, dim: int, rng) -> BufferShard:
    """A shard at capacity, every item seen (features set in chunks)."""
    shard = BufferShard(capacity, batch, dim, track_neighbours=True)
    for start in range(0, capacity, FILL_CHUNK):
        count = min(FILL_CHUNK, capacity - start)
        shard.insert(tf.range(start, start + count, dtype=tf.int64), tf.zeros([count], tf.int32),
                     tf.constant(0, tf.int64))
        shard.set_features(tf.range(start, start + count, dtype=tf.int32),
                           unit_rows(rng, count, dim))
    return shard


def incremental_step(shard: BufferShard, step: int, batch: int, dim: int, rng) -> None:
    start = shard.capacity + step * batch
    shard.insert(tf.range(start, start + batch, dtype=tf.int64), tf.zeros([batch], tf.int32),
                 tf.constant(step, tf.int64))
    shard.shrink("minred").numpy()
    slots = shard.sample(tf.constant(batch, tf.int32), tf.constant([0, step], tf.int64))
    shard.set_features(slots, unit_rows(rng, batch, dim))


class OriginalMinRed(tf.Module):
    """The original's `resize_buffer` (greedy over the full matrix), transcribed: S in one
    preallocated variable, rows and columns blanked in place as torch does."""

    def __init__(self, count: int):
        super().__init__()
        self.similarity = tf.Variable(tf.zeros([count, count]))

    @tf.function
    def removals(self, features, n_remove):
        count = tf.shape(features)[0]
        self.similarity.assign((tf.matmul(features, features, transpose_b=True) + 1.0) / 2.0)
        self.similarity.scatter_nd_update(tf.stack([tf.range(count)] * 2, 1),
                                          tf.fill([count], NO_NEIGHBOUR))
        removed = tf.TensorArray(tf.int32, size=n_remove)
        for i in tf.range(n_remove):
            row = tf.argmax(tf.reduce_max(self.similarity, axis=1), output_type=tf.int32)
            removed = removed.write(i, row)
            self.similarity[row, :].assign(tf.fill([count], NO_NEIGHBOUR))
            self.similarity[:, row].assign(tf.fill([count], NO_NEIGHBOUR))
        return removed.stack()


def original_step(original: OriginalMinRed, features: np.ndarray, batch: int, rng) -> None:
    """New features of B items (the step's statistics), then the greedy removal of B."""
    features[rng.choice(len(features), batch, replace=False)] = unit_rows(rng, batch,
                                                                          features.shape[1])
    original.removals(tf.constant(features), tf.constant(batch)).numpy()


def median_ms(call, count: int, warmup: int = 1) -> float:
    times = []
    for i in range(warmup + count):
        started = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times[warmup:])


def minred_rows(capacity: int, dim: int, batch: int, steps: int, original_steps: int) -> str:
    """The markdown table: ours, the original, the ratio."""
    rng = np.random.default_rng(0)
    shard = full_shard(capacity, batch, dim, rng)
    ours = median_ms(lambda i: incremental_step(shard, i, batch, dim, rng), steps)
    features = unit_rows(rng, capacity + batch, dim).numpy()
    original = OriginalMinRed(capacity + batch)
    theirs = median_ms(lambda i: original_step(original, features, batch, rng), original_steps)
    return ("| capacity | dim | insert / remove | MinRed ms / step (ours) | original ms / step "
            "| ratio |\n|---|---|---|---|---|---|\n"
            f"| {capacity:,} | {dim} | {batch} | {ours:.1f} | {theirs:.1f} | "
            f"{theirs / ours:.1f}x |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--capacity", type=int, default=16384)
    parser.add_argument("--feature_dim", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="timed steps of ours")
    parser.add_argument("--original_steps", type=int, default=2, help="timed original steps")
    args = parser.parse_args(argv)
    print(minred_rows(args.capacity, args.feature_dim, args.batch, args.steps,
                      args.original_steps))


if __name__ == "__main__":
    main()
