"""Video slots read as a fresh random frame of their group: only the group's frames, a new draw
for a new seed, the same draw for the same (seed, key) whatever else the batch holds."""

import numpy as np
import pytest
import tensorflow as tf

from continual.data.video_frames import VideoFrames
from tests.data.scenarios.sets import per_class, write_set

# 3 groups of unequal sizes, rows interleaved: group 7 = rows 0, 3, 6, 9; group 2 = rows 1, 4;
# group 5 = rows 2, 5, 7, 8, 10, 11.
GROUPS = np.array([7, 2, 5, 7, 2, 5, 7, 5, 5, 7, 5, 5])
MEMBERS = {g: set(np.flatnonzero(GROUPS == g)) for g in (2, 5, 7)}


def _draw(frames, rows, keys, step, seed=11):
    return frames.draw(tf.constant(rows, tf.int64), tf.constant(keys, tf.int64),
                       tf.constant([seed, step], tf.int64), num_keys=64).numpy()


def test_draws_only_frames_of_the_rows_group_and_reaches_all_of_them():
    frames = VideoFrames(GROUPS)
    assert (frames.num_rows, frames.num_groups) == (12, 3)
    rows = np.arange(12).repeat(4)                     # each row read by 4 slots
    keys = np.arange(48)
    drawn = {r: set() for r in range(12)}
    for step in range(20):
        for row, frame in zip(rows, _draw(frames, rows, keys, step), strict=True):
            assert frame in MEMBERS[GROUPS[row]], (row, frame)
            drawn[row].add(int(frame))
    assert all(drawn[r] == MEMBERS[GROUPS[r]] for r in range(12))   # every frame reachable


def test_same_seed_and_step_repeat_another_step_changes_and_a_key_ignores_its_batch():
    frames = VideoFrames(GROUPS)
    rows, keys = np.array([0, 2, 5, 6, 8, 11]), np.array([3, 9, 17, 20, 40, 63])
    first = _draw(frames, rows, keys, step=4)
    np.testing.assert_array_equal(first, _draw(frames, rows, keys, step=4))
    assert not np.array_equal(first, _draw(frames, rows, keys, step=5))
    assert not np.array_equal(first, _draw(frames, rows, keys, step=4, seed=12))
    # slot 20 (row 6) sampled alone, or at another batch position, reads the same frame
    assert _draw(frames, [6], [20], step=4)[0] == first[3]
    np.testing.assert_array_equal(_draw(frames, rows[::-1], keys[::-1], step=4), first[::-1])


def test_a_group_of_one_frame_always_reads_that_frame():
    frames = VideoFrames([4, 9, 9])
    assert list(_draw(frames, [0, 0, 0], [1, 2, 3], step=0)) == [0, 0, 0]


def test_a_set_without_group_metadata_is_refused_naming_the_binding(tmp_path):
    plain = write_set(tmp_path, "train", per_class(2, 2), num_classes=2)
    with pytest.raises(ValueError, match="SimSiamStream.redraw_frame_per_read: .* no 'group'"):
        VideoFrames.from_manifest(plain, "SimSiamStream.redraw_frame_per_read")
    grouped = write_set(tmp_path / "g", "train", per_class(2, 2), num_classes=2,
                        groups=[0, 1, 0, 1])
    assert VideoFrames.from_manifest(grouped, "x").num_groups == 2
