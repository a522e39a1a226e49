"""Video-like streams from the record set's `group` metadata (the paper's Kinetics
runs: 64 frames of one video per group).

A group is one video (or one object's run of frames in the generated set). The groups are
visited once each in seeded random order, and each visit reads `reads_per_group` records of
that group in a row, so a stream batch holds frames of one or two videos: strong temporal
correlation. How a visit picks its frames (`sampling`):

- 'consecutive': frames in `time` order (then manifest order) from a seeded random start,
  wrapping round to the group's first frame when the group is shorter than the visit;
- 'random': a fresh random frame of the group for every read (with replacement), as the
  original's `seq_sampling=random`, which the README runs use.

Buffer reads: the original (`imagelistdataset.py`) resolves a stored id to a random frame again at
each buffer read. Here a stored id is the frame drawn when the stream presented it, re-augmented at
each read, unless `SimSiamStream.redraw_frame_per_read = True` (MINRED_VIDEO.gin), which reads a
fresh random frame of the slot's group at every buffer read (`continual/data/video_frames.py`). The
visits are cut into `num_tasks` experiences of nearly equal numbers of visits (evaluation points);
every evaluation reads all test records.
"""

from __future__ import annotations

import gin
import numpy as np

from continual.data.manifest import Manifest
from continual.data.scenarios.experience import Scenario, as_ids, chain_experiences
from continual.data.scenarios.inputs import (
    metadata_column,
    positive_int,
    scenario_data,
    scenario_rng,
)

NAME = "video_runs"
SAMPLINGS = ("consecutive", "random")


def _group_frames(groups: np.ndarray, times: np.ndarray | None) -> list[np.ndarray]:
    """Rows of each group (ascending group id), ordered by time then by row."""
    rows = np.arange(len(groups))
    keys = [rows] + ([times] if times is not None else []) + [groups]
    ordered = rows[np.lexsort(keys)]
    starts = np.flatnonzero(np.diff(groups[ordered], prepend=-1))
    return np.split(ordered, starts[1:])


def _visit(frames: np.ndarray, reads: int, sampling: str, rng: np.random.Generator) -> np.ndarray:
    if sampling == "random":
        return frames[rng.integers(0, len(frames), size=reads)]
    start = int(rng.integers(0, len(frames)))
    return frames[(start + np.arange(reads)) % len(frames)]


@gin.configurable(denylist=["train", "test", "seed"])
def video_runs(train: Manifest, test: Manifest, seed: int, *, num_tasks: int = 4,
               reads_per_group: int = 8, sampling: str = "random") -> Scenario:
    """Each `group` visited once, in seeded order, for `reads_per_group` reads in a row.

    Args:
      num_tasks: experiences (evaluation points), nearly equal numbers of group visits.
      reads_per_group: records read per visit (the original: 64 frames per video).
      sampling: 'consecutive' or 'random' (see the module docstring).
    """
    data = scenario_data(train, test, seed, NAME)
    num_tasks = positive_int(num_tasks, f"{NAME}.num_tasks")
    reads = positive_int(reads_per_group, f"{NAME}.reads_per_group")
    if sampling not in SAMPLINGS:
        raise ValueError(f"{NAME}.sampling = {sampling!r} is unknown; use one of {SAMPLINGS}")
    groups = metadata_column(train, "group", f"{NAME} (record metadata 'group')", required=True)
    times = metadata_column(train, "time", NAME, required=False)
    videos = _group_frames(groups, times)
    if num_tasks > len(videos):
        raise ValueError(f"{NAME}.num_tasks = {num_tasks} exceeds the {len(videos)} groups of "
                         f"{train.path}; use at most that many tasks")
    rng = scenario_rng(data.seed, NAME)
    order = rng.permutation(len(videos))
    visits = [_visit(videos[g], reads, sampling, rng) for g in order]
    streams = [np.concatenate([visits[v] for v in part])
               for part in np.array_split(np.arange(len(visits)), num_tasks)]
    new_classes = [np.unique(data.train_labels[s]) for s in streams]
    params = {"num_tasks": num_tasks, "reads_per_group": reads, "sampling": sampling,
              "num_groups": len(videos), **data.identity()}
    return Scenario(name=NAME, params=params,
                    experiences=chain_experiences(streams, new_classes,
                                                  [data.all_test_ids] * num_tasks),
                    task_test_ids=(as_ids(data.all_test_ids),) * num_tasks,
                    num_classes=train.num_classes)
