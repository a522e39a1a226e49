"""Time-ordered streams cut at attribute changes (SSLAD-like day / night periods)."""

import pytest

from continual.data.scenarios import by_attribute
from tests.data.scenarios.sets import write_set

# Row:      0  1  2  3  4  5  6  7
LABELS = [2, 0, 1, 2, 3, 0, 4, 5]
TIMES = [5, 0, 1, 6, 2, 3, 3, 7]
DOMAINS = [1, 0, 0, 1, 1, 0, 0, 0]
# By time: rows 1 2 | 4 | 5 6 | 0 3 | 7 with domains 0 0 | 1 | 0 0 | 1 1 | 0 (rows 5 and 6 tie
# at time 3 and keep manifest order).


@pytest.fixture
def stream_sets(tmp_path):
    train = write_set(tmp_path, "train", LABELS, times=TIMES, domains=DOMAINS)
    test = write_set(tmp_path, "test", [0, 1, 2, 3], domains=[0, 1, 1, 0])
    return train, test


def test_one_experience_per_contiguous_period(stream_sets):
    scenario = by_attribute(*stream_sets, 0)
    experiences = scenario.experiences
    assert [e.train_ids for e in experiences] == [(1, 2), (4,), (5, 6), (0, 3), (7,)]
    assert [e.attribute_value for e in experiences] == [0, 1, 0, 1, 0]
    assert [e.classes for e in experiences] == [(0, 1), (3,), (4,), (2,), (5,)]
    assert experiences[2].seen_classes == (0, 1, 3, 4)
    assert all(e.eval_ids == (0, 1, 2, 3) for e in experiences)
    # Test rows by domain: 0 -> rows 0, 3; 1 -> rows 1, 2.
    assert scenario.task_test_ids == ((0, 3), (1, 2), (0, 3), (1, 2), (0, 3))


def test_test_set_without_the_attribute_evaluates_every_task_on_all(stream_sets, tmp_path):
    test = write_set(tmp_path / "plain", "test", [0, 1, 2])
    scenario = by_attribute(stream_sets[0], test, 0, max_experiences=2)
    assert [e.train_ids for e in scenario.experiences] == [(1, 2), (4,)]
    assert scenario.task_test_ids == ((0, 1, 2), (0, 1, 2))


def test_missing_metadata_names_the_file_and_the_fix(stream_sets, tmp_path):
    train = write_set(tmp_path / "no_time", "train", LABELS, domains=DOMAINS)
    with pytest.raises(ValueError) as error:
        by_attribute(train, stream_sets[1], 0)
    message = str(error.value)
    assert str(train.path) in message
    assert "no 'time' metadata on 8 of 8 records (first: 'train000')" in message
    assert "python -m continual.data.synthetic_stream" in message


def test_unknown_attribute_is_named(stream_sets):
    with pytest.raises(ValueError, match=r"by_attribute\.attribute must be one of "
                                         r"\['domain', 'group'\], got 'weather'"):
        by_attribute(*stream_sets, 0, attribute="weather")
