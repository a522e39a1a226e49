"""Worker of tests/replay/test_ssl_shards_replicas.py: ContinuousBuffer(shards=2) against one
buffer per replica under MirroredStrategy over two logical CPUs.

    python tests/replay/ssl_shards_worker.py

Needs a fresh interpreter (logical devices are fixed when TensorFlow initialises). The stream
is distributed by the strategy (`experimental_distribute_dataset`: each replica gets its half
of every global batch); inside `strategy.run` each replica inserts its half into its own
one-shard MinRed buffer on its own device, shrinks it, samples from it with its share of the
step seed and writes statistics of features computed from the ids. The same stream goes
through one ContinuousBuffer with 2 shards on one device. Prints one JSON line: per replica,
the ids its buffer kept, and the sharded buffer's ids per shard.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for imports

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

CAPACITY, BATCH, DIM, STEPS, UPDATES = 16, 8, 4, 8, 3


def features_of(ids: tf.Tensor) -> tf.Tensor:
    """A fixed unit feature per id (as a model's would be), from a few patterns so that
    neighbours tie."""
    table = tf.constant(np.random.default_rng(0).normal(size=(5, DIM)), tf.float32)
    return tf.math.l2_normalize(tf.gather(table, ids % 5), axis=1)


def _seed(step: int, update: int) -> tf.Tensor:
    return tf.constant([7, step * UPDATES + update], tf.int64)


def train_step(buffers, ids, labels, step, replica: int) -> None:
    """What one replica does with its part of a stream batch: insert, shrink once full, then
    UPDATES sampled batches with their statistics written back."""
    shard = buffers[replica].shards[0]
    shard.insert(ids, labels, tf.constant(step, tf.int64))
    if int(shard.size) > shard.capacity:
        shard.shrink("minred")
    for update in range(UPDATES):
        seed = tf.random.experimental.stateless_split(_seed(step, update), 2)[replica]
        slots = shard.sample(tf.constant(BATCH // 2, tf.int32), seed)
        size = tf.shape(slots)[0]
        shard.write_stats(slots, features_of(tf.gather(shard.ids, slots)), tf.ones([size]),
                          tf.ones([size]))


def main() -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from continual.replay.buffers.ssl_buffer import ContinuousBuffer

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    devices = strategy.extended.worker_devices
    buffers = []
    for device in devices:
        with tf.device(device):
            buffer = ContinuousBuffer(CAPACITY // 2, "minred", 1, num_classes=4)
            buffer.build(DIM, BATCH // 2)
            buffers.append(buffer)
    sharded = ContinuousBuffer(CAPACITY, "minred", 2, num_classes=4)
    sharded.build(DIM, BATCH)

    stream = np.arange(STEPS * BATCH, dtype=np.int64)
    data = tf.data.Dataset.from_tensor_slices((stream, (stream % 4).astype(np.int32)))
    for step, batch in enumerate(strategy.experimental_distribute_dataset(data.batch(BATCH))):
        def replica_fn(ids, labels, step=step):
            replica = int(tf.distribute.get_replica_context().replica_id_in_sync_group)
            train_step(buffers, ids, labels, step, replica)
            return tf.constant(0)

        strategy.run(replica_fn, args=batch)
        ids, labels = (tf.concat(strategy.experimental_local_results(t), 0) for t in batch)
        sharded.insert(ids, labels, tf.constant(step, tf.int64))
        if int(sharded.size) > sharded.capacity:
            sharded.shrink()
        for update in range(UPDATES):
            picked, slots = sharded.sample(BATCH, _seed(step, update))
            size = tf.shape(picked)[0]
            sharded.write_stats(slots, features_of(picked), tf.ones([size]), tf.ones([size]))
    print(json.dumps({
        "devices": list(devices),
        "replicas": [b.stored_ids().tolist() for b in buffers],
        "shards": [tf.gather(s.ids, s.occupied_slots()).numpy().tolist()
                   for s in sharded.shards],
        "fifo_would_keep": list(range(STEPS * BATCH - CAPACITY, STEPS * BATCH)),
    }))


if __name__ == "__main__":
    main()
