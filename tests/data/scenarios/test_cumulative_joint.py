"""The joint references per task count: experience k streams every train row of the base
stream's tasks 0..k and is evaluated on the rows of the base's evaluation k."""

import functools

import pytest

from continual.data.scenarios import blurry, class_incremental
from continual.data.scenarios.cumulative_joint import cumulative_joint


@pytest.mark.parametrize("base", [
    functools.partial(class_incremental, num_tasks=3, shuffle_classes=False),
    functools.partial(blurry, num_tasks=3, blurry_percent=10, shuffle_classes=False),
])
def test_experience_k_holds_tasks_zero_to_k(six_classes_ten_each, base):
    stream = base(*six_classes_ten_each, 4)
    joint = cumulative_joint(*six_classes_ten_each, 4, scenario=base)
    assert joint.name == "cumulative_joint" and joint.params["base"] == stream.name
    assert joint.task_test_ids == stream.task_test_ids
    for k, (mine, theirs) in enumerate(zip(joint.experiences, stream.experiences, strict=True)):
        union = sorted(row for e in stream.experiences[: k + 1] for row in e.train_ids)
        assert sorted(mine.train_ids) == union and len(set(mine.train_ids)) == len(union)
        assert mine.eval_ids == theirs.eval_ids and mine.seen_classes == theirs.seen_classes
    assert len(joint.experiences[2].train_ids) == 60                # every row by task 2
    again = cumulative_joint(*six_classes_ten_each, 4, scenario=base)
    assert again.experiences == joint.experiences                    # seeded shuffle


def test_a_base_stream_is_required(six_classes):
    with pytest.raises(ValueError, match="cumulative_joint.scenario must name the stream"):
        cumulative_joint(*six_classes, 0)
