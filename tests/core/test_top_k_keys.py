"""StreamPlan.top_k: a new evaluation output, so it changes only the evaluation keys (the
trained states are shared), keys without it stay as they were, and a k above the classes is
refused when the plan is made, naming the binding."""

from pathlib import Path

import pytest

from continual.data.synthetic_stream import generate_stream_set
from tests.core.test_stream_keys import plan_keys


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("top_k")
    generate_stream_set(out, num_classes=10, size=12, train_per_class=6, test_per_class=2)
    return out


def test_top_k_changes_only_the_evaluation_keys(data_dir):
    base = plan_keys(data_dir)
    assert plan_keys(data_dir, "StreamPlan.top_k = None") == base
    with_k = plan_keys(data_dir, "StreamPlan.top_k = 5")
    assert set(with_k) == set(base)
    for name, key in base.items():
        assert (with_k[name] != key) == name.startswith("eval"), name


@pytest.mark.parametrize("value, error", [("11", ValueError), ("0", ValueError),
                                          ("2.5", TypeError)])
def test_bad_top_k_names_the_binding(data_dir, value, error):
    with pytest.raises(error, match="StreamPlan.top_k"):
        plan_keys(data_dir, f"StreamPlan.top_k = {value}")
