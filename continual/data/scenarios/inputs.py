"""Checked inputs of a scenario: labels of both record sets, the seed, metadata columns, RNGs.

Every scenario reads labels and metadata from the manifests only (no shard is opened), and
draws its randomness from `scenario_rng(seed, purpose)`: one numpy generator per purpose, so
the class order of a seed is the same in `class_incremental`, `blurry`, `joint` and
`class_sequential_runs`, and a change to one scenario's draws never moves another's.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from continual.data.classification import record_labels, require_classification
from continual.data.manifest import Manifest

# Fixed tags keying the generator of each purpose; never renumber (keys would change).
RNG_PURPOSES = {"class_order": 1, "class_incremental": 2, "blurry": 3,
                "class_sequential_runs": 4, "iid": 5, "joint": 6, "video_runs": 7}


@dataclasses.dataclass(frozen=True)
class ScenarioData:
    """Both record sets of a scenario with their labels (int64, manifest order) and the seed."""

    train: Manifest
    test: Manifest
    train_labels: np.ndarray
    test_labels: np.ndarray
    seed: int

    @property
    def classes(self) -> tuple[int, ...]:
        """The data's classes: those with at least one train record, sorted."""
        return tuple(int(c) for c in np.unique(self.train_labels))

    @property
    def all_test_ids(self) -> np.ndarray:
        return np.arange(len(self.test_labels), dtype=np.int64)

    def identity(self) -> dict:
        """The seed and both sets' content hashes: the data part of a scenario's params."""
        return {"seed": self.seed, "train_set": self.train.content_hash,
                "test_set": self.test.content_hash}


def scenario_data(train: Manifest, test: Manifest, seed: int, name: str) -> ScenarioData:
    """Check that both sets are non-empty classification sets over one label space."""
    check_seed(seed, name)
    require_classification(train, f"{name} train set")
    require_classification(test, f"{name} test set")
    if train.num_classes != test.num_classes:
        raise ValueError(f"{name}: the train set {train.path} has {train.num_classes} classes but "
                         f"the test set {test.path} has {test.num_classes}; use a train and a test "
                         "set written by the same converter")
    for role, manifest in (("train", train), ("test", test)):
        if manifest.num_records == 0:
            raise ValueError(f"{name}: the {role} set {manifest.path} has no records; rebuild it")
    return ScenarioData(train, test, record_labels(train), record_labels(test), int(seed))


def check_seed(seed: int, name: str) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"{name}: the seed must be an integer >= 0, got {seed!r}")


def positive_int(value: int, binding: str) -> int:
    """`value` if it is an int >= 1; else an error naming the binding."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{binding} must be an integer >= 1, got {value!r}")
    return int(value)


def scenario_rng(seed: int, purpose: str) -> np.random.Generator:
    """The generator of one purpose (a key of RNG_PURPOSES) under `seed`."""
    return np.random.default_rng([int(seed), RNG_PURPOSES[purpose]])


def rows_with_labels(labels: np.ndarray, classes) -> np.ndarray:
    """Indices (ascending) of the rows whose label is one of `classes`."""
    return np.flatnonzero(np.isin(labels, np.asarray(list(classes), dtype=np.int64)))


def metadata_column(manifest: Manifest, name: str, binding: str, *,
                    required: bool) -> np.ndarray | None:
    """Metadata `name` of every record (int64, manifest order).

    None when no record has it and it is optional. Records that lack it while others have it,
    or any lack when it is required, are an error naming the file and the first such record.
    """
    values = manifest.record_metadata(name)
    missing = [row for row, value in enumerate(values) if value is None]
    if not missing:
        return np.asarray(values, dtype=np.int64)
    if not required and len(missing) == len(values):
        return None
    first = manifest.record_ids()[missing[0]]
    need = "needs it on every record" if required else "needs it on every record or on none"
    raise ValueError(
        f"{binding}: {manifest.path} has no '{name}' metadata on {len(missing)} of {len(values)} "
        f"records (first: {first!r}); {binding} {need}. Write the set with "
        "`python -m continual.data.synthetic_stream` (which writes time, domain and group) or "
        "a converter that sets them")
