"""Mixing the new step's stream with the replay stream (the original's
`data_loader.interleave_datasets`).

RECALL's rule (`data_loader.interleave_datasets`): the sample sequence is `ratio_new` new
samples, then `ratio_old` replay samples, repeated, cut into batches of `batch_size`. With the
shipped 4 : 4 : 4 whole batches alternate new / replay. Mode "mixed" instead puts both sources
in every batch. The sequence is built element-wise from the two unbatched streams, so
`stream_positions` can say exactly how far each stream has advanced before any batch, and a
resumed run restarts each stream there (`train_stream(start=...)`) and the pattern at
`mix_streams(start_batch=...)`.
"""

from __future__ import annotations

import math

import tensorflow as tf

from continual.bindings import supplied_configurable

MODES = ("alternate", "mixed")


def _check(batch_size: int, ratio_new: int, ratio_old: int, mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mix_streams.mode = {mode!r} is unknown; use one of {MODES}")
    if batch_size < 1:
        raise ValueError(f"mix_streams.batch_size = {batch_size}; expected >= 1")
    for binding, value in (("ratio_new", ratio_new), ("ratio_old", ratio_old)):
        if value < 0:
            raise ValueError(f"mix_streams.{binding} = {value} is negative; expected >= 0")
    if ratio_new == 0 and ratio_old == 0:
        raise ValueError("mix_streams.ratio_new and mix_streams.ratio_old are both 0: no data "
                         "would be drawn; set at least one of them > 0")


def source_pattern(batch_size: int, ratio_new: int, ratio_old: int, mode: str) -> list[int]:
    """One period of the source sequence: 0 = new sample, 1 = replay sample."""
    _check(batch_size, ratio_new, ratio_old, mode)
    if mode == "alternate":
        return [0] * ratio_new + [1] * ratio_old
    # Half-up rounding of the new share of a batch (Python's round() would round half to even).
    new_per_batch = math.floor(batch_size * ratio_new / (ratio_new + ratio_old) + 0.5)
    return [0] * new_per_batch + [1] * (batch_size - new_per_batch)


@supplied_configurable(new=None, replay=None, start_batch=None,
                       batch_size="TrainManager.batch_size",
                       ratio_new="TrainManager.interleave_ratio_new",
                       ratio_old="TrainManager.interleave_ratio_old")
def mix_streams(new: tf.data.Dataset, replay: tf.data.Dataset | None, *, batch_size: int = 4,
                ratio_new: int = 4, ratio_old: int = 4, mode: str = "alternate",
                start_batch: int = 0) -> tf.data.Dataset:
    """Batches drawn from the unbatched, infinite `new` and `replay` streams by `mode`.

    `ratio_old = 0` or no replay stream: new data only (fine-tuning). `ratio_new = 0`: replay
    only. To resume at batch b, start each stream at `stream_positions(b, ...)` and pass
    `start_batch=b`, which starts the new/replay pattern where batch b falls in it.
    """
    _check(batch_size, ratio_new, ratio_old, mode)
    if start_batch < 0:
        raise ValueError(f"mix_streams start_batch = {start_batch}; expected >= 0")
    if replay is None and ratio_new == 0:
        raise ValueError("mix_streams.ratio_new = 0 asks for replay data only, but there is no "
                         "replay stream (no replay source); set mix_streams.ratio_new > 0")
    if replay is None or ratio_old == 0:
        mixed = new
    elif ratio_new == 0:
        mixed = replay
    else:
        pattern = source_pattern(batch_size, ratio_new, ratio_old, mode)
        offset = start_batch * batch_size % len(pattern)
        pattern = pattern[offset:] + pattern[:offset]
        choice = tf.data.Dataset.from_tensor_slices(tf.constant(pattern, tf.int64)).repeat()
        mixed = tf.data.Dataset.choose_from_datasets([new, replay], choice)
    return mixed.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def stream_positions(batch_index: int, *, batch_size: int, ratio_new: int, ratio_old: int,
                     mode: str, has_replay: bool = True) -> tuple[int, int]:
    """(new, replay) samples that `mix_streams` consumed before batch `batch_index`.

    Resume by starting the new stream at the first and the replay stream at the second
    (`train_stream(start=...)`). Pass `has_replay=False` when `mix_streams` got no replay stream.
    """
    _check(batch_size, ratio_new, ratio_old, mode)
    if batch_index < 0:
        raise ValueError(f"batch_index = {batch_index}; expected >= 0")
    total = batch_index * batch_size
    if not has_replay or ratio_old == 0:
        return total, 0
    if ratio_new == 0:
        return 0, total
    pattern = source_pattern(batch_size, ratio_new, ratio_old, mode)
    periods, rest = divmod(total, len(pattern))
    new_count = periods * pattern.count(0) + pattern[:rest].count(0)
    return new_count, total - new_count
