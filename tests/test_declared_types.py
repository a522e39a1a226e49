"""Bound values are checked against the types their configurables declare (issue 24, item 2).

A configurable gets the check by declaring its arguments' types; values whose hint is not a
plain one, gin references and macros are left to the code that uses them.
"""

from __future__ import annotations

import gin
import pytest

from continual.declared_types import BindingTypeError, check_bound_types


@gin.configurable
def declared_settings(count: int = 1, rate: float = 0.5, flag: bool = True, name: str = "a",
                      limit: int | None = None, sizes: tuple[int, ...] = (1, 2),
                      anything=None, helper=None):
    return count, rate, flag, name, limit, sizes, anything, helper


@gin.configurable
def declared_helper():
    return 1


@pytest.fixture(autouse=True)
def clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


@pytest.mark.parametrize("binding, words", [
    ("declared_settings.count = 20.5", "count = 20.5 (float): the argument is declared as an "
                                       "integer"),
    ("declared_settings.count = '100'", "count = '100' (str)"),
    ("declared_settings.count = True", "count = True (bool)"),
    ("declared_settings.rate = 'fast'", "declared as a number"),
    ("declared_settings.flag = 'no'", "flag = 'no' (str): the argument is declared as True or "
                                      "False"),
    ("declared_settings.name = 3", "declared as a string"),
    ("declared_settings.limit = 2.5", "declared as an integer or None"),
    ("declared_settings.sizes = [1, 'two']", "declared as a list of integers"),
    ("declared_settings.sizes = 3", "declared as a list of integers"),
])
def test_a_value_of_another_type_is_refused_naming_the_binding(binding, words):
    gin.parse_config([binding])
    with pytest.raises(BindingTypeError, match="declared_settings.") as raised:
        check_bound_types()
    assert words in str(raised.value) and "fix the gin binding" in str(raised.value)


def test_values_of_the_declared_types_references_and_undeclared_arguments_pass():
    gin.parse_config(["declared_settings.count = 3", "declared_settings.rate = 2",
                      "declared_settings.flag = False", "declared_settings.name = 'b'",
                      "declared_settings.limit = None", "declared_settings.sizes = [4, 5]",
                      "declared_settings.anything = 'whatever'",
                      "declared_settings.helper = @declared_helper"])
    check_bound_types()
    assert declared_settings()[1] == 2 and declared_settings()[7] is declared_helper
