"""Shared record sets: 6 classes with 5 train and 2 test records each, class by class.

Train rows 5c..5c+4 and test rows 2c, 2c+1 hold class c.
"""

import pytest

from tests.data.scenarios.sets import per_class, write_set


@pytest.fixture(scope="package")
def six_classes(tmp_path_factory):
    directory = tmp_path_factory.mktemp("six_classes")
    return write_set(directory, "train", per_class(6, 5)), write_set(directory, "test",
                                                                     per_class(6, 2))


@pytest.fixture(scope="package")
def six_classes_ten_each(tmp_path_factory):
    """10 train records per class (rows 10c..10c+9), 2 test records per class."""
    directory = tmp_path_factory.mktemp("six_classes_ten_each")
    return write_set(directory, "train", per_class(6, 10)), write_set(directory, "test",
                                                                      per_class(6, 2))
