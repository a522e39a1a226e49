"""Video slots: a stored id stands for its video (record `group`), read as a fresh random frame.

In the continuous-SSL paper's Kinetics runs (`seq_sampling=random`, `imagelistdataset.py`) the
buffer holds videos: every read of a slot decodes a new random frame of its video, so a replayed
item is a different frame at each read and the slot's statistics (MinRed's feature, an exponential
average) average over frames. `VideoFrames` maps a record row to a uniformly drawn row of the same
group, keyed statelessly by (seed, read key): a rerun, or a run resumed from a checkpoint, reads the
same frames.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from continual.data.manifest import Manifest
from continual.data.scenarios.inputs import metadata_column


class VideoFrames:
    """For every row of a record set, the rows of its group (ascending), on the CPU."""

    def __init__(self, groups) -> None:
        groups = np.asarray(groups, dtype=np.int64)
        _, group_of_row, sizes = np.unique(groups, return_inverse=True, return_counts=True)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        with tf.device("/CPU:0"):
            self._rows = tf.constant(np.argsort(group_of_row, kind="stable"), tf.int64)
            self._start = tf.constant(starts[group_of_row], tf.int64)   # per row
            self._size = tf.constant(sizes[group_of_row], tf.int64)     # per row
        self.num_rows, self.num_groups = len(groups), len(sizes)

    @classmethod
    def from_manifest(cls, manifest: Manifest, binding: str) -> VideoFrames:
        """The groups of `manifest`; a set lacking 'group' on any record is an error naming
        `binding` (the setting that asked for video frames)."""
        return cls(metadata_column(manifest, "group", binding, required=True))

    def draw(self, rows, keys, seed, num_keys: int) -> tf.Tensor:
        """A random row of the group of each of `rows` (int64 [B]).

        `keys` (int64 [B], each in [0, num_keys)) names what is read, e.g. a buffer slot; the
        draw for a key depends only on (seed, key), not on the other keys of the batch, so a
        slot reads the same frame for the same seed whichever batch it is sampled in.
        """
        with tf.device("/CPU:0"):
            rows = tf.convert_to_tensor(rows, tf.int64)
            draws = tf.random.stateless_uniform([num_keys], seed, minval=None, maxval=None,
                                                dtype=tf.int64)
            picked = tf.gather(draws, tf.convert_to_tensor(keys, tf.int64))
            offset = tf.math.floormod(picked, tf.gather(self._size, rows))
            return tf.gather(self._rows, tf.gather(self._start, rows) + offset)


def require_random_video_stream(scenario, binding: str) -> None:
    """Refuse a stream that is not read as videos of random frames (`@video_runs` with
    `sampling = 'random'`, which also guarantees 'group' on every record): a frame redrawn at
    each buffer read is the buffer half of that setting."""
    sampling = scenario.params.get("sampling") if scenario.name == "video_runs" else None
    if sampling != "random":
        got = (f"video_runs.sampling = {sampling!r}" if scenario.name == "video_runs"
               else f"StreamPlan.scenario = @{scenario.name}")
        raise ValueError(f"{binding} = True reads a fresh random frame of each buffer slot's "
                         "video (record 'group') and needs StreamPlan.scenario = @video_runs "
                         f"with video_runs.sampling = 'random'; got {got}. Set those, or "
                         f"{binding} = False")
