"""Video-like streams: every group visited once, its reads in a row (consecutive or random
frames of that group), seeded."""

import numpy as np
import pytest

from continual.data.scenarios import video_runs
from tests.data.scenarios.sets import per_class, write_set

# Class c holds rows 4c..4c+3: group 2c = rows 4c (time 2), 4c+2 (time 1) -> in time order
# 4c+2, 4c; group 2c+1 = rows 4c+1 (time 3), 4c+3 (time 0) -> 4c+3, 4c+1.
GROUPS = [2 * (r // 4) + r % 2 for r in range(16)]
TIMES = [2, 3, 1, 0] * 4


@pytest.fixture
def video_sets(tmp_path):
    train = write_set(tmp_path, "train", per_class(4, 4), num_classes=4, groups=GROUPS,
                      times=TIMES)
    return train, write_set(tmp_path, "test", per_class(4, 1), num_classes=4)


def _in_time_order(group: int) -> tuple[int, int]:
    c = group // 2
    return (4 * c + 2, 4 * c) if group % 2 == 0 else (4 * c + 3, 4 * c + 1)


def test_consecutive_visits_each_group_once_in_time_order(video_sets):
    scenario = video_runs(*video_sets, 0, num_tasks=2, reads_per_group=3,
                          sampling="consecutive")
    assert [len(e.train_ids) for e in scenario.experiences] == [12, 12]   # 4 visits of 3 each
    stream = [r for e in scenario.experiences for r in e.train_ids]
    visits = [tuple(stream[i:i + 3]) for i in range(0, 24, 3)]
    seen = sorted(GROUPS[v[0]] for v in visits)
    assert seen == list(range(8))
    for visit in visits:   # a rotation of the group's frames in time order, wrapping round
        a, b = _in_time_order(GROUPS[visit[0]])
        assert visit in ((a, b, a), (b, a, b))
    assert scenario.experiences[0].eval_ids == tuple(range(4))
    assert scenario.task_test_ids == (tuple(range(4)),) * 2
    orders = {video_runs(*video_sets, s, num_tasks=2, reads_per_group=3,
                         sampling="consecutive").experiences[0].train_ids for s in range(4)}
    assert len(orders) > 1   # the group order depends on the seed


def test_random_sampling_reads_fresh_frames_of_the_same_group(video_sets):
    scenario = video_runs(*video_sets, 3, num_tasks=1, reads_per_group=6, sampling="random")
    stream = np.asarray(scenario.experiences[0].train_ids)
    visits = stream.reshape(8, 6)
    groups = np.asarray(GROUPS)[visits]
    assert (groups == groups[:, :1]).all()            # every read of a visit is its group's
    assert sorted(groups[:, 0]) == list(range(8))     # each group visited once
    # with 2 frames per group, 6 reads hit both frames somewhere, never one in a fixed cycle
    assert any(len(set(v)) == 2 and tuple(v[:2]) * 3 != tuple(v) for v in visits)
    again = video_runs(*video_sets, 3, num_tasks=1, reads_per_group=6, sampling="random")
    assert again.experiences == scenario.experiences  # same seed, same stream


def test_bad_bindings_are_named(tmp_path, video_sets):
    with pytest.raises(ValueError, match="video_runs.sampling = 'nearest'"):
        video_runs(*video_sets, 0, sampling="nearest")
    with pytest.raises(ValueError, match="video_runs.reads_per_group"):
        video_runs(*video_sets, 0, reads_per_group=0)
    with pytest.raises(ValueError, match="video_runs.num_tasks = 9 exceeds the 8 groups"):
        video_runs(*video_sets, 0, num_tasks=9)
    plain = write_set(tmp_path / "plain", "train", per_class(4, 2), num_classes=4)
    with pytest.raises(ValueError, match="video_runs"):
        video_runs(plain, video_sets[1], 0)
