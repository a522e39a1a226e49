"""RM's Blurry-M streams: majors, disjoint minor parts, every train row streamed once."""

import collections

import pytest

from continual.data.scenarios import blurry, class_incremental

TASKS = [(0, 1), (2, 3), (4, 5)]


def _origins(experience, rows_per_class):
    """How many of the experience's rows come from each task's classes."""
    task_of = {c: t for t, task in enumerate(TASKS) for c in task}
    return collections.Counter(task_of[row // rows_per_class] for row in experience.train_ids)


@pytest.mark.parametrize("percent, kept, minor_per_task", [
    # 20 rows per task. Blurry30: pool = 20 * 30 // 100 = 6, cut into 2 parts of 3;
    # a task streams 20 - 6 = 14 own rows + 3 from each other task = 20.
    (30, 14, 3),
    # Blurry10: pool = 20 * 10 // 100 = 2, parts of 1: 18 own + 1 + 1.
    (10, 18, 1),
])
def test_majors_and_minors_per_task(six_classes_ten_each, percent, kept, minor_per_task):
    scenario = blurry(*six_classes_ten_each, 0, num_tasks=3, blurry_percent=percent,
                      shuffle_classes=False)
    for t, experience in enumerate(scenario.experiences):
        expected = {j: minor_per_task for j in range(3) if j != t} | {t: kept}
        assert _origins(experience, 10) == expected
        assert experience.eval_ids == tuple(range(12))
    streamed = [row for e in scenario.experiences for row in e.train_ids]
    assert sorted(streamed) == list(range(60))      # every train row exactly once
    assert scenario.task_test_ids == ((0, 1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11))


def test_pool_remainder_stays_with_its_task(six_classes):
    # 10 rows per task; Blurry30 pool = 10 * 30 // 100 = 3 -> 2 parts of 1, 1 row left over
    # that stays in its task: 8 own + 1 + 1 = 10 per task, 30 rows streamed once.
    scenario = blurry(*six_classes, 0, num_tasks=3, blurry_percent=30, shuffle_classes=False)
    for t, experience in enumerate(scenario.experiences):
        assert _origins(experience, 5) == {j: 1 for j in range(3) if j != t} | {t: 8}
    assert sorted(r for e in scenario.experiences for r in e.train_ids) == list(range(30))


def test_seen_classes_follow_the_streamed_labels(six_classes_ten_each):
    scenario = blurry(*six_classes_ten_each, 4, num_tasks=3, blurry_percent=30,
                      class_order=[0, 1, 2, 3, 4, 5])
    seen = set()
    for experience in scenario.experiences:
        labels = {row // 10 for row in experience.train_ids}
        assert experience.classes == tuple(sorted(labels - seen))
        seen |= labels
        assert experience.seen_classes == tuple(sorted(seen))
    # Task 0 gets 3 rows from each other task, so at least one class of each besides its own 2.
    assert len(scenario.experiences[0].seen_classes) >= 4


def test_blurry0_keeps_the_disjoint_tasks_but_evaluates_on_all(six_classes):
    train, test = six_classes
    scenario = blurry(train, test, 2, num_tasks=3, blurry_percent=0)
    disjoint = class_incremental(train, test, 2, num_tasks=3)
    for ours, theirs in zip(scenario.experiences, disjoint.experiences, strict=True):
        assert set(ours.train_ids) == set(theirs.train_ids)
        assert ours.eval_ids == tuple(range(12))
    assert scenario.task_test_ids == disjoint.task_test_ids


def test_seeded(six_classes_ten_each):
    a, b = (blurry(*six_classes_ten_each, 5, num_tasks=3, blurry_percent=30) for _ in range(2))
    c = blurry(*six_classes_ten_each, 6, num_tasks=3, blurry_percent=30)
    assert a == b
    assert a.experiences != c.experiences


@pytest.mark.parametrize("kwargs, message", [
    ({"num_tasks": 3, "blurry_percent": 100}, "blurry.blurry_percent must be an integer "
     "percentage in 0..99 (10 for Blurry10, 30 for Blurry30), got 100"),
    ({"num_tasks": 3, "blurry_percent": 12.5}, "got 12.5"),
    ({"num_tasks": 1}, "blurry.num_tasks = 1 leaves no other task to take the minor samples"),
    ({"num_tasks": 4}, "blurry.num_tasks = 4 does not divide the data's 6 classes"),
])
def test_bad_arguments_are_named(six_classes, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        blurry(*six_classes, 0, **kwargs)
