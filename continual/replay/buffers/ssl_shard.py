"""One shard of a continuous-SSL buffer: ids and per-item statistics in preallocated slots.

The buffer of the continuous-SSL paper (Purushwalkam et al., ECCV 2022) holds dataset ids, not
images: a replayed item is re-read and re-augmented. A shard has `capacity + slack` slots (a stream
batch is appended before the buffer shrinks back to `capacity`). Per slot: id, label (for
diagnostics only), insertion order (the stream position; ties go to the oldest, as the original's
insertion-ordered list), insertion step, lifespan (stream batches since insertion), `seen`, the
feature normalize(z1 + z2), loss, view similarity and times seen. With `track_neighbours` (MinRed)
each seen slot also keeps its two nearest seen neighbours' similarities and slots: a removal of the
nearest promotes the second, and rows that lose both or point at a changed feature are recomputed
together in one matmul (see `policies/minred.py`).

Every field is a tf.Variable, so the shard checkpoints with the model; a resumed run continues
with the same contents and the same next removals.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from continual.replay.buffers.policies import minred

EMA = 0.5   # the original's gamma: new statistic = 0.5 old + 0.5 measured
# Rows one MinRed repair recomputes at most (besides the stale rows it needs): on a CPU a pass
# of 64 rows over a 16 384 x 512 feature matrix costs a few one-row passes.
REPAIR_BATCH = 64
STATS = ("loss", "similarity", "times_seen")


def _variable(value, name: str) -> tf.Variable:
    return tf.Variable(value, trainable=False, name=name)


class BufferShard(tf.Module):
    """`capacity` items (plus `slack` slots for an incoming batch) of one replica."""

    def __init__(self, capacity: int, slack: int, feature_dim: int, track_neighbours: bool,
                 name: str = "shard"):
        super().__init__(name=name)
        self.capacity, self.slots = int(capacity), int(capacity) + int(slack)
        self.track_neighbours = bool(track_neighbours)
        n = self.slots
        self.ids = _variable(tf.fill([n], tf.constant(-1, tf.int64)), "ids")
        self.labels = _variable(tf.fill([n], -1), "labels")
        self.order = _variable(tf.fill([n], tf.constant(-1, tf.int64)), "order")
        self.inserted_at = _variable(tf.fill([n], tf.constant(-1, tf.int64)), "inserted_at")
        self.lifespan = _variable(tf.zeros([n], tf.int64), "lifespan")
        self.seen = _variable(tf.zeros([n], tf.bool), "seen")
        self.features = _variable(tf.zeros([n, feature_dim]), "features")
        self.stats = {stat: _variable(tf.zeros([n]), stat) for stat in STATS}
        self.nn_similarity = _variable(tf.fill([n], minred.NO_NEIGHBOUR), "nn_similarity")
        self.nn_slot = _variable(tf.fill([n], -1), "nn_slot")
        self.second_similarity = _variable(tf.fill([n], minred.NO_NEIGHBOUR), "second_similarity")
        self.second_slot = _variable(tf.fill([n], -1), "second_slot")
        # False where the second neighbour is not known (it was removed, or promoted to first).
        self.second_known = _variable(tf.zeros([n], tf.bool), "second_known")
        # Seen items that lost both known neighbours during a shrink: their nn_similarity is an
        # upper bound until recomputed (lazily, see _next_redundant).
        self.stale = _variable(tf.zeros([n], tf.bool), "stale")
        self.inserted = _variable(tf.constant(0, tf.int64), "inserted")

    # -- reads ---------------------------------------------------------------------------
    def occupied(self) -> tf.Tensor:
        return self.order >= 0

    @property
    def size(self) -> tf.Tensor:
        return tf.reduce_sum(tf.cast(self.occupied(), tf.int32))

    def occupied_slots(self) -> tf.Tensor:
        """int32 occupied slots in insertion order (oldest first)."""
        slots = tf.cast(tf.where(self.occupied())[:, 0], tf.int32)
        return tf.gather(slots, tf.argsort(tf.gather(self.order, slots), stable=True))

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([2], tf.int64)])
    def sample(self, batch_size, seed) -> tf.Tensor:
        """min(batch_size, size) distinct occupied slots, uniformly (stateless in `seed`)."""
        slots = self.occupied_slots()
        keys = tf.random.stateless_uniform(tf.shape(slots), seed=seed)
        picked = tf.math.top_k(keys, tf.minimum(batch_size, tf.size(slots))).indices
        return tf.gather(slots, picked)

    # -- writes --------------------------------------------------------------------------
    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64),
                                  tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int64)])
    def insert(self, ids, labels, step) -> None:
        """Append a stream batch (unseen, lifespan 0); then every item's lifespan += 1."""
        count = tf.size(ids)
        free = tf.cast(tf.where(~self.occupied())[:, 0], tf.int32)
        tf.debugging.assert_less_equal(count, tf.size(free), "buffer shard has no room: shrink "
                                       "it to capacity before inserting the next batch")
        slots = tf.reshape(free[:count], [-1, 1])
        order = self.inserted + tf.range(tf.cast(count, tf.int64))
        self.ids.scatter_nd_update(slots, tf.cast(ids, tf.int64))
        self.labels.scatter_nd_update(slots, tf.cast(labels, tf.int32))
        self.order.scatter_nd_update(slots, order)
        self.inserted_at.scatter_nd_update(slots, tf.fill([count], tf.cast(step, tf.int64)))
        self._reset(slots)
        self.lifespan.assign_add(tf.cast(self.occupied(), tf.int64))
        self.inserted.assign_add(tf.cast(count, tf.int64))

    def _reset(self, slots) -> None:
        """Statistics of `slots` back to unseen. Features stay: an unseen slot's feature is
        never read, and a scatter into the large feature matrix while a read of it is alive
        copies the whole matrix."""
        count = tf.shape(slots)[:1]
        self.lifespan.scatter_nd_update(slots, tf.zeros(count, tf.int64))
        self.seen.scatter_nd_update(slots, tf.zeros(count, tf.bool))
        for stat in self.stats.values():
            stat.scatter_nd_update(slots, tf.zeros(count))
        self.nn_similarity.scatter_nd_update(slots, tf.fill(count, minred.NO_NEIGHBOUR))
        self.nn_slot.scatter_nd_update(slots, tf.fill(count, -1))
        self.second_similarity.scatter_nd_update(slots, tf.fill(count, minred.NO_NEIGHBOUR))
        self.second_slot.scatter_nd_update(slots, tf.fill(count, -1))
        self.second_known.scatter_nd_update(slots, tf.zeros(count, tf.bool))
        self.stale.scatter_nd_update(slots, tf.zeros(count, tf.bool))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def remove(self, slots) -> None:
        """Empty `slots`; neighbours that pointed at them are recomputed (MinRed)."""
        self._evict(slots)
        self._settle()

    def _evict(self, slots) -> None:
        """Empty `slots`; seen items that pointed at them take their second neighbour or
        become stale."""
        slots = tf.reshape(tf.cast(slots, tf.int32), [-1, 1])
        count = tf.shape(slots)[:1]
        self.ids.scatter_nd_update(slots, tf.fill(count, tf.constant(-1, tf.int64)))
        self.labels.scatter_nd_update(slots, tf.fill(count, -1))
        self.order.scatter_nd_update(slots, tf.fill(count, tf.constant(-1, tf.int64)))
        self.inserted_at.scatter_nd_update(slots, tf.fill(count, tf.constant(-1, tf.int64)))
        self._reset(slots)
        if self.track_neighbours:
            self._forget_neighbours(tf.reshape(slots, [-1]))

    def _forget_neighbours(self, removed) -> None:
        """A row whose nearest neighbour was removed takes its known second one (exact: the
        second nearest of all is the nearest of the rest); without one it becomes stale."""
        first_gone = self.seen & _pointing_at(self.nn_slot, removed)
        second_gone = _pointing_at(self.second_slot, removed)
        promote = first_gone & ~self.stale & self.second_known & ~second_gone
        self.nn_similarity.assign(tf.where(promote, self.second_similarity, self.nn_similarity))
        self.nn_slot.assign(tf.where(promote, self.second_slot, self.nn_slot))
        self.second_known.assign(self.second_known & ~first_gone & ~second_gone)
        self.stale.assign(self.stale | (first_gone & ~promote))

    def _incomplete(self) -> tf.Tensor:
        """Seen rows whose table needs a recompute: stale, or second neighbour unknown."""
        return self.stale | (self.seen & ~self.second_known)

    def _settle(self) -> None:
        """Recompute every incomplete row (one pass over the features for all of them)."""
        if self.track_neighbours:
            self._recompute(tf.cast(tf.where(self._incomplete())[:, 0], tf.int32))

    def _recompute(self, rows) -> None:
        best, arg, _ = minred.row_neighbours(self.features, self.seen, rows)
        self._write_neighbours(rows, best, arg)

    def _write_neighbours(self, rows, best, arg) -> None:
        """Exact two nearest neighbours ([k, 2] each) of `rows`: known, not stale."""
        rows = rows[:, None]
        self.nn_similarity.scatter_nd_update(rows, best[:, 0])
        self.nn_slot.scatter_nd_update(rows, arg[:, 0])
        self.second_similarity.scatter_nd_update(rows, best[:, 1])
        self.second_slot.scatter_nd_update(rows, arg[:, 1])
        self.second_known.scatter_nd_update(rows, tf.ones(tf.shape(rows)[:1], tf.bool))
        self.stale.scatter_nd_update(rows, tf.zeros(tf.shape(rows)[:1], tf.bool))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32),
                                  tf.TensorSpec([None, None], tf.float32)])
    def set_features(self, slots, features) -> None:
        """Store unit `features` at `slots`, mark them seen, repair nearest neighbours."""
        slots = tf.cast(slots, tf.int32)
        self.features.scatter_nd_update(slots[:, None], features)
        self.seen.scatter_nd_update(slots[:, None], tf.ones(tf.shape(slots), tf.bool))
        if self.track_neighbours:
            self._refresh(slots)

    def _refresh(self, changed) -> None:
        """Neighbours after the features of `changed` moved: their rows, the rows that pointed
        at them or were incomplete (one matmul), and every other row merges its two with the
        two closest changed items."""
        best, arg, block = minred.row_neighbours(self.features, self.seen, changed)
        self._write_neighbours(changed, best, arg)
        in_changed = tf.scatter_nd(changed[:, None], tf.ones(tf.shape(changed), tf.bool),
                                   [self.slots])
        others = self.seen & ~in_changed
        redo = others & (self._incomplete() | _pointing_at(self.nn_slot, changed)
                         | _pointing_at(self.second_slot, changed))
        padded = tf.concat([block, tf.fill([1, self.slots], minred.NO_NEIGHBOUR)], 0)
        column_best, column_row = tf.math.top_k(tf.transpose(padded), 2)
        column_slot = tf.gather(tf.concat([changed, [-1]], 0), column_row)
        column_slot = tf.where(column_best > minred.NO_NEIGHBOUR, column_slot, -1)
        best, slot = minred.closest_two(
            tf.concat([self.nn_similarity[:, None], self.second_similarity[:, None],
                       column_best], 1),
            tf.concat([self.nn_slot[:, None], self.second_slot[:, None], column_slot], 1))
        merged = others & ~redo
        for variable, value in ((self.nn_similarity, best[:, 0]), (self.nn_slot, slot[:, 0]),
                                (self.second_similarity, best[:, 1]),
                                (self.second_slot, slot[:, 1])):
            variable.assign(tf.where(merged, value, variable))
        self._recompute(tf.cast(tf.where(redo)[:, 0], tf.int32))

    def write_stats(self, slots, features, loss, similarity) -> None:
        """Synchronous statistics after a step (not the original's ~10-batch lag): the first
        measurement is stored, later ones averaged with gamma 0.5; features renormalised; times
        seen += 1."""
        slots = tf.cast(slots, tf.int32)
        seen = tf.gather(self.seen, slots)[:, None]
        old = tf.gather(self.features, slots)
        mixed = tf.where(seen, EMA * old + (1.0 - EMA) * features, features)
        for name, value in (("loss", loss), ("similarity", similarity)):
            previous = tf.gather(self.stats[name], slots)
            value = tf.cast(value, tf.float32)
            self.stats[name].scatter_nd_update(
                slots[:, None], tf.where(seen[:, 0], EMA * previous + (1 - EMA) * value, value))
        self.stats["times_seen"].scatter_nd_add(slots[:, None], tf.ones(tf.shape(slots)))
        self.set_features(slots, tf.math.l2_normalize(mixed, axis=1))

    # -- shrinking -------------------------------------------------------------------------
    def shrink(self, policy: str) -> tf.Tensor:
        """Remove items until `capacity` remain; returns the removed ids in removal order."""
        excess = int(self.size) - self.capacity
        if excess <= 0:
            return tf.zeros([0], tf.int64)
        if policy == "fifo":
            slots = self.occupied_slots()[:excess]
            ids = tf.gather(self.ids, slots)
            self.remove(tf.cast(slots, tf.int32))
            return ids
        return self._shrink_minred(tf.constant(excess))

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32)])
    def _shrink_minred(self, excess) -> tf.Tensor:
        fallback = tf.reduce_sum(tf.cast(self.seen, tf.int32)) < 2 * excess
        removed = tf.TensorArray(tf.int64, size=excess)
        for i in tf.range(excess):
            if fallback:
                slot = minred.largest_lifespan(self.lifespan, self.occupied(), self.order)
            else:
                slot = self._next_redundant()
            removed = removed.write(i, self.ids[slot])
            self._evict(tf.reshape(slot, [1]))
        self._settle()
        return removed.stack()

    def _next_redundant(self) -> tf.Tensor:
        """The greedy choice, exact with lazy repairs: a stale row's value only bounds its true
        one from above, so stale rows among the current maxima are recomputed until the maxima
        hold none; then the oldest of them and their nearest neighbours goes (the older member
        of the closest pair, as the original's list order, even where the pair's two matmuls
        round apart).

        A repair recomputes, in the same matmul, the incomplete rows most likely to need one
        next (`_repair_rows`): one pass over the feature matrix costs about as much for one row
        as for dozens, and an exact row with both neighbours known survives the next removal
        of its nearest by promotion."""
        ties = minred.top_ties(self.nn_similarity, self.seen)
        while tf.reduce_any(ties & self.stale):
            self._recompute(self._repair_rows(ties & self.stale))
            ties = minred.top_ties(self.nn_similarity, self.seen)
        return minred.oldest_of(minred.with_partners(ties, self.nn_slot), self.order)

    def _repair_rows(self, needed) -> tf.Tensor:
        """int32 rows to recompute: `needed` (stale rows at the maximum) and, up to
        REPAIR_BATCH rows in all, the incomplete rows of largest nearest-neighbour
        similarity (the candidates of the next removals). Recomputing a row only makes its
        table exact, so the removals do not depend on how many are batched."""
        incomplete = self._incomplete() & ~needed
        scores = tf.where(incomplete, self.nn_similarity, -np.inf)
        extra = tf.minimum(REPAIR_BATCH - tf.reduce_sum(tf.cast(needed, tf.int32)),
                           tf.reduce_sum(tf.cast(incomplete, tf.int32)))
        best = tf.math.top_k(scores, tf.maximum(extra, 0)).indices
        return tf.concat([tf.cast(tf.where(needed)[:, 0], tf.int32), best], 0)


def _pointing_at(neighbour_slots: tf.Tensor, slots: tf.Tensor) -> tf.Tensor:
    """bool per row: its neighbour slot is one of `slots`."""
    return tf.reduce_any(neighbour_slots[:, None] == tf.reshape(slots, [1, -1]), 1)
