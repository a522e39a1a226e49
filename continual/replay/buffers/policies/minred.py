"""MinRed removal (minimum redundancy; Purushwalkam et al., ECCV 2022,
`senthilps8/continuous_ssl_problem` mysampler.py).

When a buffer holds n_rm items too many, MinRed removes, one at a time, the older member of the
closest pair among the items already seen (cosine of their stored features; the original's
list order puts the older item first). With fewer than 2 x n_rm seen items it removes
the n_rm items with the largest lifespan instead (oldest insertion first on ties).

`greedy_removals` is the definition: the full similarity matrix S, each pair computed once (so S
is symmetric by construction and both members of the closest pair hold the same row maximum),
then n_rm rounds of row maxima, ties to the oldest. The buffer (`ssl_buffer.BufferShard`) instead
keeps every seen item's two nearest neighbours and, after a removal or a feature change,
recomputes only the rows that lost both or pointed at a changed item, all of them in one matmul:
O(k * N * D) per change of k items instead of O(N^2 * D) per step. There a pair's similarity is
computed in two matmuls of different shapes, which may differ in the last bit, so the choice
takes the oldest among the rows at the maximum *and their nearest neighbours*: the older member
of the closest pair whatever the rounding. With each pair computed once this is the greedy
definition exactly (a neighbour at the maximum is itself at the maximum); tests hold the
removals equal on exactly representable features with ties and on Gaussian features.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

NO_NEIGHBOUR = -10.0   # the original's fill value: below every cosine similarity
INT64_MAX = np.iinfo(np.int64).max


def greedy_removals(features: np.ndarray, order: np.ndarray, n_remove: int) -> list[int]:
    """Rows of `features` (unit rows, the seen items) that MinRed removes, in removal order.

    The original's algorithm with each pair's similarity computed once: S = (X X^T + 1) / 2 from
    its upper triangle (float64), diag -10; n_remove times, take each row's maximum, remove the
    row with the largest (ties: smallest `order`, i.e. the oldest insertion), and blank its row
    and column.
    """
    x = np.asarray(features, dtype=np.float64)
    order = np.asarray(order, dtype=np.int64)
    upper = np.triu((x @ x.T + 1.0) / 2.0, 1)
    similarity = upper + upper.T
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
    """(similarity, slot) of each row's two nearest seen neighbours other than itself, [k, 2]
    each, nearest first (equal similarities: the lower slot first).

    A missing neighbour gets NO_NEIGHBOUR and slot -1. Also returns the masked similarity
    block [len(rows), slots] for callers that update columns.
    """
    # features x rows^T, then transposed: on CPU ~3x faster than rows x features^T for few rows.
    block = tf.transpose(tf.matmul(features, tf.gather(features, rows), transpose_b=True))
    slots = tf.range(tf.shape(features)[0])
    valid = seen[None, :] & (slots[None, :] != rows[:, None])
    block = tf.where(valid, block, NO_NEIGHBOUR)
    best, arg = tf.math.top_k(block, 2)
    return best, tf.where(best > NO_NEIGHBOUR, arg, -1), block


def closest_two(similarity: tf.Tensor, slots: tf.Tensor):
    """Per row of candidate `similarity` [n, c] naming `slots` [n, c] (c >= 2): the two largest
    (similarity, slot) pairs, [n, 2] each, earlier columns first on equal similarity."""
    best, column = tf.math.top_k(similarity, 2)
    return best, tf.gather(slots, column, batch_dims=1)


def oldest_of(mask: tf.Tensor, order: tf.Tensor) -> tf.Tensor:
    """int32 slot of the smallest `order` among `mask` (the oldest insertion)."""
    keyed = tf.where(mask, order, tf.constant(INT64_MAX, tf.int64))
    return tf.argmin(keyed, output_type=tf.int32)


def top_ties(nn_similarity: tf.Tensor, seen: tf.Tensor) -> tf.Tensor:
    """bool mask of the seen items whose nearest-neighbour similarity is the largest."""
    scores = tf.where(seen, nn_similarity, -np.inf)
    return seen & (scores == tf.reduce_max(scores))


def with_partners(ties: tf.Tensor, nn_slot: tf.Tensor) -> tf.Tensor:
    """`ties` plus the nearest neighbour of each: both members of every closest pair."""
    partners = tf.boolean_mask(nn_slot, ties & (nn_slot >= 0))
    marked = tf.scatter_nd(partners[:, None], tf.ones(tf.shape(partners), tf.int32),
                           tf.shape(ties))
    return ties | (marked > 0)


def largest_lifespan(lifespan: tf.Tensor, occupied: tf.Tensor, order: tf.Tensor) -> tf.Tensor:
    """int32 slot of the fallback removal: largest lifespan, oldest insertion on ties."""
    keyed = tf.where(occupied, lifespan, tf.constant(-1, tf.int64))
    return oldest_of(occupied & (keyed == tf.reduce_max(keyed)), order)
