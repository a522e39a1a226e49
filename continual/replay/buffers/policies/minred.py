"""MinRed removal (minimum redundancy; Purushwalkam et al., ECCV 2022,
`senthilps8/continuous_ssl_problem` mysampler.py).

When a buffer holds n_rm items too many, MinRed removes, one at a time, the item whose nearest
neighbour among the items already seen is most similar (cosine of their stored features), ties
broken by insertion order, oldest first. With fewer than 2 x n_rm seen items it removes the
n_rm items with the largest lifespan instead (oldest insertion first on ties).

`greedy_removals` is the definition as the original computes it: the full similarity matrix S,
then n_rm rounds of row maxima. The buffer (`ssl_buffer.BufferShard`) instead keeps every seen
item's nearest-neighbour similarity and slot, and after a removal or a feature change recomputes
only the rows that pointed at a changed item: O(k * N * D) per change of k items instead of
O(N^2 * D) per step. The removals are the same as the greedy definition's whenever the dot
products are computed exactly (a test holds this on exactly representable features, with ties).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

NO_NEIGHBOUR = -10.0   # the original's fill value: below every cosine similarity
INT64_MAX = np.iinfo(np.int64).max


def greedy_removals(features: np.ndarray, order: np.ndarray, n_remove: int) -> list[int]:
    """Rows of `features` (unit rows, the seen items) that MinRed removes, in removal order.

    A direct transcription of the original: S = (X X^T + 1) / 2 with diag -10; n_remove times,
    take each row's maximum, remove the row with the largest (ties: smallest `order`, i.e. the
    oldest insertion), and blank its row and column.
    """
    x = np.asarray(features, dtype=np.float32)
    order = np.asarray(order, dtype=np.int64)
    similarity = (x @ x.T + 1.0) / 2.0
    np.fill_diagonal(similarity, NO_NEIGHBOUR)
    removed = []
    for _ in range(n_remove):
        nearest = similarity.max(axis=1)
        ties = np.flatnonzero(nearest == nearest.max())
        row = int(ties[np.argmin(order[ties])])
        removed.append(row)
        similarity[row, :] = NO_NEIGHBOUR
        similarity[:, row] = NO_NEIGHBOUR
    return removed


def lifespan_removals(lifespan: np.ndarray, order: np.ndarray, n_remove: int) -> list[int]:
    """The fallback: the n_remove rows of largest lifespan, oldest insertion first on ties."""
    return [int(i) for i in np.lexsort([order, -np.asarray(lifespan)])[:n_remove]]


def row_neighbours(features: tf.Tensor, seen: tf.Tensor, rows: tf.Tensor):
    """(similarity, slot) of each row's nearest seen neighbour other than itself.

    Rows without a neighbour get NO_NEIGHBOUR and slot -1. Also returns the masked similarity
    block [len(rows), slots] for callers that update columns.
    """
    # features x rows^T, then transposed: on CPU ~3x faster than rows x features^T for few rows.
    block = tf.transpose(tf.matmul(features, tf.gather(features, rows), transpose_b=True))
    slots = tf.range(tf.shape(features)[0])
    valid = seen[None, :] & (slots[None, :] != rows[:, None])
    block = tf.where(valid, block, NO_NEIGHBOUR)
    best = tf.reduce_max(block, axis=1)
    arg = tf.cast(tf.argmax(block, axis=1, output_type=tf.int32), tf.int32)
    arg = tf.where(best > NO_NEIGHBOUR, arg, -1)
    return best, arg, block


def oldest_of(mask: tf.Tensor, order: tf.Tensor) -> tf.Tensor:
    """int32 slot of the smallest `order` among `mask` (the oldest insertion)."""
    keyed = tf.where(mask, order, tf.constant(INT64_MAX, tf.int64))
    return tf.argmin(keyed, output_type=tf.int32)


def top_ties(nn_similarity: tf.Tensor, seen: tf.Tensor) -> tf.Tensor:
    """bool mask of the seen items whose nearest-neighbour similarity is the largest."""
    scores = tf.where(seen, nn_similarity, -np.inf)
    return seen & (scores == tf.reduce_max(scores))


def largest_lifespan(lifespan: tf.Tensor, occupied: tf.Tensor, order: tf.Tensor) -> tf.Tensor:
    """int32 slot of the fallback removal: largest lifespan, oldest insertion on ties."""
    keyed = tf.where(occupied, lifespan, tf.constant(-1, tf.int64))
    return oldest_of(occupied & (keyed == tf.reduce_max(keyed)), order)
