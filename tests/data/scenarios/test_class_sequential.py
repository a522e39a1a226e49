"""Class-sequential streams: classes in turn, runs of one object kept together."""

import pytest

from continual.data.scenarios import class_sequential_runs
from tests.data.scenarios.sets import per_class, write_set

# Class c holds rows 4c..4c+3 with groups 1 0 1 0 and times 2 3 1 0, so by group then time a
# class streams rows 4c+3, 4c+1 (group 0) then 4c+2, 4c (group 1).
GROUPS = [1, 0, 1, 0] * 4
TIMES = [2, 3, 1, 0] * 4


@pytest.fixture
def runs_sets(tmp_path):
    train = write_set(tmp_path, "train", per_class(4, 4), num_classes=4, groups=GROUPS,
                      times=TIMES)
    return train, write_set(tmp_path, "test", per_class(4, 1), num_classes=4)


def test_classes_in_turn_ordered_by_group_then_time(runs_sets):
    scenario = class_sequential_runs(*runs_sets, 0, num_tasks=2, class_order=[2, 0, 3, 1])
    first, second = scenario.experiences
    assert first.train_ids == (11, 9, 10, 8, 3, 1, 2, 0)
    assert second.train_ids == (15, 13, 14, 12, 7, 5, 6, 4)
    assert (first.classes, second.classes) == ((0, 2), (1, 3))
    assert first.eval_ids == second.eval_ids == (0, 1, 2, 3)
    assert scenario.task_test_ids == ((0, 2), (1, 3))


def test_without_metadata_a_class_streams_in_manifest_order(tmp_path):
    train = write_set(tmp_path, "train", per_class(4, 2), num_classes=4)
    test = write_set(tmp_path, "test", per_class(4, 1), num_classes=4)
    scenario = class_sequential_runs(train, test, 0, num_tasks=4, class_order=[3, 1, 0, 2])
    assert [e.train_ids for e in scenario.experiences] == [(6, 7), (2, 3), (0, 1), (4, 5)]


def test_runs_of_a_segment_are_shuffled_but_kept_whole(runs_sets):
    scenario = class_sequential_runs(*runs_sets, 0, num_tasks=2, class_order=[2, 0, 3, 1],
                                     run_length=2)
    stream = scenario.experiences[0].train_ids
    runs = {stream[i:i + 2] for i in range(0, len(stream), 2)}
    assert runs == {(11, 9), (10, 8), (3, 1), (2, 0)}
    orders = {class_sequential_runs(*runs_sets, seed, num_tasks=2, class_order=[2, 0, 3, 1],
                                    run_length=2).experiences[0].train_ids for seed in range(4)}
    assert len(orders) > 1                  # the run order depends on the seed


def test_partial_metadata_and_bad_run_length_are_named(tmp_path, runs_sets):
    train = write_set(tmp_path / "partial", "train", [0, 1], num_classes=4, groups=[0, None])
    with pytest.raises(ValueError, match="no 'group' metadata on 1 of 2 records"):
        class_sequential_runs(train, runs_sets[1], 0, num_tasks=2)
    with pytest.raises(ValueError, match=r"class_sequential_runs\.run_length must be an integer"):
        class_sequential_runs(*runs_sets, 0, num_tasks=2, run_length=0)
