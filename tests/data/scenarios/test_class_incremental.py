"""Class-incremental (disjoint) and joint scenarios on 6 classes x (5 train, 2 test)."""

import re

import pytest

from continual.data.scenarios import class_incremental, joint
from tests.data.scenarios.sets import write_set


def test_explicit_order_gives_disjoint_tasks_and_growing_eval(six_classes):
    train, test = six_classes
    scenario = class_incremental(train, test, 0, num_tasks=3, class_order=[5, 3, 1, 0, 2, 4],
                                 shuffle_within_task=False)
    first, second, third = scenario.experiences
    # Task 0 = classes 5, 3: train rows 15-19 (class 3) and 25-29 (class 5), manifest order.
    assert first.train_ids == (*range(15, 20), *range(25, 30))
    assert (first.classes, first.seen_classes) == ((3, 5), (3, 5))
    assert first.eval_ids == (6, 7, 10, 11)
    assert second.train_ids == tuple(range(10)) and second.classes == (0, 1)
    assert second.seen_classes == (0, 1, 3, 5)
    assert second.eval_ids == (0, 1, 2, 3, 6, 7, 10, 11)
    assert third.classes == (2, 4) and third.eval_ids == tuple(range(12))
    assert scenario.task_test_ids == ((6, 7, 10, 11), (0, 1, 2, 3), (4, 5, 8, 9))
    assert scenario.params["class_order"] == [5, 3, 1, 0, 2, 4]
    assert scenario.describe()["experiences"][1] == {
        "index": 1, "train_rows": 10, "classes": [0, 1], "seen_classes": 4, "eval_rows": 8}


def test_shuffles_are_seeded(six_classes):
    train, test = six_classes
    same = [class_incremental(train, test, 7, num_tasks=3) for _ in range(2)]
    assert same[0] == same[1]
    other = class_incremental(train, test, 8, num_tasks=3)
    assert other.params["class_order"] != same[0].params["class_order"]
    first = same[0].experiences[0]
    # Shuffled within the task: the same rows, not in manifest order.
    assert sorted(first.train_ids) != list(first.train_ids)
    rows = {r for c in first.classes for r in range(5 * c, 5 * c + 5)}
    assert set(first.train_ids) == rows


def test_unshuffled_order_and_unequal_tasks(six_classes):
    train, test = six_classes
    scenario = class_incremental(train, test, 0, num_tasks=3, shuffle_classes=False,
                                 classes_per_task=[1, 2, 3])
    assert [e.classes for e in scenario.experiences] == [(0,), (1, 2), (3, 4, 5)]
    assert [len(e.train_ids) for e in scenario.experiences] == [5, 10, 15]


@pytest.mark.parametrize("kwargs, message", [
    ({"class_order": [0, 1, 2, 3, 4, 4, 7]},
     "class_incremental.class_order must be a permutation of the train set's 6 classes "
     "[0, 1, 2, 3, 4, 5]: missing [5], extra [7], duplicated [4]"),
    ({"num_tasks": 4}, "class_incremental.num_tasks = 4 does not divide the data's 6 classes"),
    ({"num_tasks": 3, "classes_per_task": [3, 3]},
     "class_incremental.classes_per_task has 2 entries but class_incremental.num_tasks is 3"),
    ({"num_tasks": 2, "classes_per_task": [3, 2]},
     "class_incremental.classes_per_task = [3, 2] sums to 5, but the data has 6 classes"),
])
def test_bad_class_partitions_are_named(six_classes, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        class_incremental(*six_classes, 0, **kwargs)


def test_classes_are_those_present_in_the_train_set(tmp_path, six_classes):
    train = write_set(tmp_path, "train", [0, 2, 4, 0, 2, 4])
    with pytest.raises(ValueError, match=r"classes \[0, 2, 4\]: missing \[4\], extra \[1\]"):
        class_incremental(train, six_classes[1], 0, num_tasks=3, class_order=[0, 1, 2])


def test_joint_trains_once_and_keeps_the_class_incremental_tasks(six_classes):
    train, test = six_classes
    scenario = joint(train, test, 3, num_tasks=3)
    (experience,) = scenario.experiences
    assert sorted(experience.train_ids) == list(range(30))
    assert experience.train_ids != tuple(range(30))
    assert experience.seen_classes == experience.classes == tuple(range(6))
    assert experience.eval_ids == tuple(range(12))
    disjoint = class_incremental(train, test, 3, num_tasks=3)
    assert scenario.task_test_ids == disjoint.task_test_ids
    assert scenario.params["class_order"] == disjoint.params["class_order"]
    with pytest.raises(ValueError, match=r"^joint\.num_tasks = 4 does not divide"):
        joint(train, test, 3, num_tasks=4)


def test_class_order_must_be_a_list_of_ids(six_classes):
    with pytest.raises(TypeError, match="class_incremental.class_order must be a list of class "
                                        "ids, got '012345'"):
        class_incremental(*six_classes, 0, num_tasks=3, class_order="012345")
