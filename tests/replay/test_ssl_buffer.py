"""The continuous-SSL buffer: MinRed's incremental removals equal the greedy full-matrix
definition (ties included, and on real-valued features where a pair's two matmuls round
apart), FIFO drops the oldest, statistics follow the 0.5 average."""

import numpy as np
import pytest
import tensorflow as tf

from continual.replay.buffers import ssl_shard
from continual.replay.buffers.policies.minred import greedy_removals, lifespan_removals
from continual.replay.buffers.ssl_buffer import ContinuousBuffer
from continual.replay.buffers.ssl_shard import BufferShard

DIM = 16


def _exact_unit_rows(rng, count: int, distinct: int) -> np.ndarray:
    """Rows of +-1/4 in 16 dims: unit norm and every dot product exact in float32; drawn
    from `distinct` patterns so that many similarities tie."""
    pool = rng.choice([-0.25, 0.25], size=(distinct, DIM)).astype(np.float32)
    return pool[rng.integers(0, distinct, count)]


def _expected(shard: BufferShard) -> list[int]:
    """Ids the greedy definition (or the lifespan fallback) removes from the shard now."""
    slots = shard.occupied_slots().numpy()
    excess = len(slots) - shard.capacity
    seen = shard.seen.numpy()[slots]
    order = shard.order.numpy()[slots]
    ids = shard.ids.numpy()[slots]
    if seen.sum() < 2 * excess:
        rows = lifespan_removals(shard.lifespan.numpy()[slots], order, excess)
        return [int(ids[r]) for r in rows]
    candidates = np.flatnonzero(seen)
    rows = greedy_removals(shard.features.numpy()[slots][candidates], order[candidates], excess)
    return [int(ids[candidates[r]]) for r in rows]


@pytest.mark.parametrize("repair_batch", [1, 4, 64])
@pytest.mark.parametrize("distinct", [3, 1000])
def test_minred_incremental_removals_equal_the_greedy_definition(distinct, repair_batch,
                                                                  monkeypatch):
    """Whatever number of rows a repair recomputes together (1: one stale row at a time)."""
    monkeypatch.setattr(ssl_shard, "REPAIR_BATCH", repair_batch)
    rng = np.random.default_rng(distinct)
    shard = BufferShard(capacity=24, slack=8, feature_dim=DIM, track_neighbours=True)
    next_id, checked = 0, 0
    for step in range(30):
        shard.insert(tf.range(next_id, next_id + 8, dtype=tf.int64), tf.zeros([8], tf.int32),
                     step)
        next_id += 8
        occupied = shard.occupied_slots().numpy()
        for _ in range(2):  # two updates per batch, features set as a training step would
            slots = rng.choice(occupied, size=min(8, len(occupied)), replace=False)
            shard.set_features(tf.constant(slots, tf.int32),
                               tf.constant(_exact_unit_rows(rng, len(slots), distinct)))
        if int(shard.size) > shard.capacity:
            want = _expected(shard)
            got = shard.shrink("minred").numpy().tolist()
            assert got == want, step
            checked += 1
    assert checked >= 25 and int(shard.size) == 24


def _gaussian_unit_rows(rng, count: int, dim: int) -> np.ndarray:
    rows = rng.normal(size=(count, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _check_neighbour_table(shard: BufferShard) -> None:
    """Every seen row's nearest (and known second) similarity is its true one; a stale row's
    only bounds it from above."""
    seen = shard.seen.numpy()
    x = shard.features.numpy().astype(np.float64)
    similarity = np.where(seen[None, :] & ~np.eye(len(seen), dtype=bool), x @ x.T, -10.0)
    true = np.sort(similarity, axis=1)[:, ::-1]
    stale, known = shard.stale.numpy(), shard.second_known.numpy()
    fresh = seen & ~stale
    np.testing.assert_allclose(shard.nn_similarity.numpy()[fresh], true[fresh, 0], atol=1e-5)
    second = fresh & known
    np.testing.assert_allclose(shard.second_similarity.numpy()[second], true[second, 1],
                               atol=1e-5)
    assert np.all(shard.nn_similarity.numpy()[seen & stale] >= true[seen & stale, 0] - 1e-5)


@pytest.mark.parametrize("repair_batch", [1, 64])
@pytest.mark.parametrize("dim", [16, 128, 512])
def test_minred_removals_equal_the_greedy_definition_on_gaussian_features(dim, repair_batch,
                                                                          monkeypatch):
    """Real-valued features: the older member of the closest pair goes (the original's order)
    although the pair's similarity, computed in two matmuls, may differ in the last bit (before the
    fix the newer member went in most of these steps)."""
    monkeypatch.setattr(ssl_shard, "REPAIR_BATCH", repair_batch)
    rng = np.random.default_rng(dim)
    shard = BufferShard(capacity=48, slack=16, feature_dim=dim, track_neighbours=True)
    checked = 0
    for step in range(25):
        shard.insert(tf.range(16 * step, 16 * step + 16, dtype=tf.int64),
                     tf.zeros([16], tf.int32), step)
        occupied = shard.occupied_slots().numpy()
        for _ in range(2):
            slots = rng.choice(occupied, size=min(16, len(occupied)), replace=False)
            shard.set_features(tf.constant(slots, tf.int32),
                               tf.constant(_gaussian_unit_rows(rng, len(slots), dim)))
        _check_neighbour_table(shard)
        if int(shard.size) > shard.capacity:
            want = _expected(shard)
            assert shard.shrink("minred").numpy().tolist() == want, step
            _check_neighbour_table(shard)
            checked += 1
    assert checked >= 20 and int(shard.size) == 48


def test_a_repair_recomputes_the_needed_rows_and_the_likeliest_incomplete_ones(monkeypatch):
    monkeypatch.setattr(ssl_shard, "REPAIR_BATCH", 3)
    shard = BufferShard(capacity=6, slack=0, feature_dim=2, track_neighbours=True)
    shard.seen.assign([True] * 6)
    shard.nn_similarity.assign([0.9, 0.8, 0.7, 0.95, 0.6, 0.99])
    shard.stale.assign([True, False, False, False, True, False])
    shard.second_known.assign([False, False, False, False, False, True])  # 5 is complete
    needed = tf.constant([True, False, False, False, False, False])
    rows = shard._repair_rows(needed).numpy().tolist()
    assert rows == [0, 3, 1]   # the stale row needed, then incomplete rows by similarity


def test_minred_removes_the_older_of_two_duplicates_and_keeps_distinct_items():
    shard = BufferShard(capacity=3, slack=1, feature_dim=2, track_neighbours=True)
    shard.insert(tf.constant([10, 11, 12], tf.int64), tf.zeros([3], tf.int32), 0)
    shard.set_features(tf.constant([0, 1, 2]), tf.constant([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))
    shard.insert(tf.constant([13], tf.int64), tf.zeros([1], tf.int32), 1)
    shard.set_features(tf.constant([3]), tf.constant([[-1.0, 0.0]]))
    # 10 and 12 are identical: the pair ties, and the older one (10) goes.
    assert shard.shrink("minred").numpy().tolist() == [10]
    assert sorted(shard.ids.numpy()[shard.occupied_slots().numpy()]) == [11, 12, 13]


def test_fifo_drops_the_oldest_and_statistics_average_with_gamma_half():
    buffer = ContinuousBuffer(capacity=4, policy="fifo", shards=2, num_classes=3)
    buffer.build(feature_dim=2, batch_size=2)
    for step in range(3):
        buffer.insert([2 * step, 2 * step + 1], [0, 1], step)
        buffer.shrink()
    assert sorted(buffer.stored_ids().tolist()) == [2, 3, 4, 5]
    ids, slots = buffer.sample(4, [0, 1])
    assert sorted(ids.numpy().tolist()) == [2, 3, 4, 5]
    feats = tf.constant([[1.0, 0.0]] * 4)
    buffer.write_stats(slots, feats, tf.fill([4], 2.0), tf.fill([4], 0.5))
    buffer.write_stats(slots, tf.constant([[0.0, 1.0]] * 4), tf.fill([4], 4.0), tf.fill([4], 1.))
    shard = buffer.shards[0]
    used = slots[0].numpy()
    np.testing.assert_allclose(shard.stats["loss"].numpy()[used], 3.0)
    np.testing.assert_allclose(shard.stats["similarity"].numpy()[used], 0.75)
    np.testing.assert_allclose(shard.stats["times_seen"].numpy()[used], 2.0)
    np.testing.assert_allclose(shard.features.numpy()[used], [[0.5 ** 0.5] * 2] * len(used),
                               rtol=1e-6)
    assert buffer.class_counts().tolist() == [2, 2, 0]


@pytest.mark.parametrize("kwargs, message", [
    ({"capacity": 10, "shards": 4}, "ContinuousBuffer.shards"),
    ({"policy": "lifo"}, "ContinuousBuffer.policy"),
    ({"capacity": 0}, "ContinuousBuffer.capacity"),
])
def test_bad_buffer_bindings_name_the_binding(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ContinuousBuffer(num_classes=3, **kwargs)
