"""I.i.d. streams: shuffled rows in nearly equal chunks, all classes from the start."""

import pytest

from continual.data.scenarios import iid


def test_nearly_equal_chunks_of_shuffled_rows(six_classes):
    scenario = iid(*six_classes, 0, num_tasks=4)
    experiences = scenario.experiences
    assert [len(e.train_ids) for e in experiences] == [8, 8, 7, 7]    # 30 rows in 4 chunks
    streamed = [row for e in experiences for row in e.train_ids]
    assert sorted(streamed) == list(range(30)) and streamed != list(range(30))
    assert experiences[0].classes == tuple(range(6))
    assert all(e.seen_classes == tuple(range(6)) for e in experiences)
    assert all(e.classes == () for e in experiences[1:])
    assert all(e.eval_ids == tuple(range(12)) for e in experiences)
    assert scenario.task_test_ids == (tuple(range(12)),) * 4


def test_seeded(six_classes):
    assert iid(*six_classes, 1) == iid(*six_classes, 1)
    assert iid(*six_classes, 1).experiences != iid(*six_classes, 2).experiences


def test_more_tasks_than_rows_is_named(six_classes):
    with pytest.raises(ValueError, match="iid.num_tasks = 31 exceeds the 30 records of"):
        iid(*six_classes, 0, num_tasks=31)
