"""Scenario registry and the input checks every scenario shares."""

import gin
import pytest

from continual.data.scenarios import SCENARIOS, make_scenario
from tests.data.scenarios.sets import per_class, write_set


def test_unknown_name_lists_the_scenarios(six_classes):
    with pytest.raises(ValueError, match=r"unknown scenario 'disjoin'; choose one of "
                                         r"\['blurry', 'by_attribute', 'class_incremental', "
                                         r"'class_sequential_runs', 'iid', 'joint', "
                                         r"'video_runs'\]"):
        make_scenario("disjoin", *six_classes, 0)


def test_arguments_come_from_gin(six_classes):
    gin.bind_parameter("blurry.num_tasks", 3)
    gin.bind_parameter("blurry.blurry_percent", 30)
    scenario = make_scenario("blurry", *six_classes, 0)
    assert scenario.name == "blurry"
    assert (scenario.params["num_tasks"], scenario.params["blurry_percent"]) == (3, 30)
    assert scenario.params["train_set"] == six_classes[0].content_hash


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_label_spaces_must_match(tmp_path, six_classes, name):
    test = write_set(tmp_path, "test", per_class(4, 1), num_classes=4)
    with pytest.raises(ValueError, match=f"{name}: the train set .* has 6 classes but the test "
                                         "set .* has 4"):
        make_scenario(name, six_classes[0], test, 0)


def test_seed_must_be_a_non_negative_integer(six_classes):
    with pytest.raises(ValueError, match="iid: the seed must be an integer >= 0, got -1"):
        make_scenario("iid", *six_classes, -1)
