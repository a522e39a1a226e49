"""Time-ordered streams cut where a metadata value changes (SSLAD / CLAD-C).

The train records are sorted by `time` (stable: ties keep manifest order) and streamed in that
order, unshuffled. A new experience starts wherever the attribute (`domain` by default) changes
along the time line, so alternating day / night periods give one experience per contiguous
period, like SSLAD's six date x period experiences. Evaluation is pooled: every test record after
every experience (SSLAD's AMCA reads one evaluation set); R[i, j] reads the test records whose
attribute equals experience j's value when the test set carries the attribute, else all.
"""

from __future__ import annotations

import gin
import numpy as np

from continual.data.manifest import Manifest
from continual.data.records import METADATA
from continual.data.scenarios.experience import Scenario, as_ids, chain_experiences
from continual.data.scenarios.inputs import (
    metadata_column,
    positive_int,
    scenario_data,
)

NAME = "by_attribute"


def _periods(values: np.ndarray) -> list[np.ndarray]:
    """Positions of `values` split into maximal runs of one value."""
    starts = np.flatnonzero(np.diff(values)) + 1
    return np.split(np.arange(len(values)), starts)


def _task_test_rows(test: Manifest, period_values: list[int], all_ids: np.ndarray,
                    attribute: str) -> tuple:
    test_values = metadata_column(test, attribute, f"{NAME} test set", required=False)
    if test_values is None:
        return tuple(as_ids(all_ids) for _ in period_values)
    return tuple(as_ids(np.flatnonzero(test_values == value)) for value in period_values)


@gin.configurable(denylist=["train", "test", "seed"])
def by_attribute(train: Manifest, test: Manifest, seed: int, *, attribute: str = "domain",
                 max_experiences: int | None = None) -> Scenario:
    """One experience per contiguous run of `attribute` along the train records' time order.

    Args:
      attribute: record metadata whose changes start experiences ('domain' or 'group').
      max_experiences: keep only the first this many experiences (a shorter stream).
    The stream has no randomness; `seed` only enters the params.
    """
    if attribute not in METADATA or attribute == "time":
        raise ValueError(f"{NAME}.attribute must be one of {[m for m in METADATA if m != 'time']}"
                         f", got {attribute!r}")
    data = scenario_data(train, test, seed, NAME)
    times = metadata_column(train, "time", NAME, required=True)
    values = metadata_column(train, attribute, NAME, required=True)
    order = np.argsort(times, kind="stable")
    periods = [order[positions] for positions in _periods(values[order])]
    if max_experiences is not None:
        periods = periods[:positive_int(max_experiences, f"{NAME}.max_experiences")]
    period_values = [int(values[rows[0]]) for rows in periods]
    evals = [data.all_test_ids] * len(periods)
    params = {"attribute": attribute, "max_experiences": max_experiences, **data.identity()}
    return Scenario(
        name=NAME, params=params,
        experiences=chain_experiences(periods, [data.train_labels[rows] for rows in periods],
                                      evals, period_values),
        task_test_ids=_task_test_rows(test, period_values, data.all_test_ids, attribute),
        num_classes=train.num_classes)
