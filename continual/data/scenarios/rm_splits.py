"""Rainbow Memory's shipped task splits, read for parity (RM's `collections/`).

`collections/<dataset>/<dataset>_train_<exp>_rand<s>_cls<n>_task<t>.json` lists task t's train
samples as `{klass, file_name, label}` (label = the class's position in RM's task order), and
`<dataset>_test_rand<s>_cls<n>_task<t>.json` the test samples of task t's classes. A
`file_name`'s last two parts are the record id `<class>/<file>` of a set converted with
`python -m continual.data.image_folder`: `train/<class>/<file>` (CIFAR, MNIST) and
`imagenet/data/val/<wnid>/<file>` (ImageNet, whose val/ the converter reads as test/) alike.
The stream keeps each JSON's order. Evaluation after
task t reads every task's test rows (blurry) or those of tasks 0..t (disjoint), as RM's
`main.py` does; R[i, j] reads task j's test file.
"""

from __future__ import annotations

import json
from pathlib import Path

import gin
import numpy as np

from continual.data.manifest import Manifest
from continual.data.scenarios.experience import Scenario, as_ids, chain_experiences
from continual.data.scenarios.inputs import scenario_data

# What `clovaai/rainbow-memory` ships in `collections/` (read at cccc8b0):
# dataset -> experiment -> seeds.
SHIPPED = {"cifar10": {"blurry10": (1, 2, 3), "blurry30": (1, 2, 3), "disjoint": (1, 2, 3)},
           "cifar100": {"blurry10": (1, 2, 3), "disjoint": (1,)},
           "mnist": {"blurry10": (1, 2, 3)},
           "imagenet": {"blurry10": (1,)}}


def split_path(folder: Path, dataset: str, role: str, rand_seed: int, classes_per_task: int,
               task: int) -> Path:
    """The JSON of one task: role 'train_<exp>' or 'test'."""
    return folder / dataset / f"{dataset}_{role}_rand{rand_seed}_cls{classes_per_task}" \
        f"_task{task}.json"


def _missing(path: Path, folder: Path, dataset: str) -> ValueError:
    shipped = "; ".join(f"{d}: " + ", ".join(f"{e} seeds {list(s)}" for e, s in exps.items())
                        for d, exps in SHIPPED.items())
    found = sorted(p.name for p in (folder / dataset).glob("*_task0.json")) \
        if (folder / dataset).is_dir() else []
    return ValueError(f"rm_split_files: {path} does not exist; the original ships {shipped}. "
                      f"Task-0 files in {folder / dataset}: {found or 'none'}. Fix "
                      "rm_split_files.collections_dir / dataset / exp / rand_seed")


def _read(path: Path, folder: Path, dataset: str) -> list[dict]:
    if not path.is_file():
        raise _missing(path, folder, dataset)
    return json.loads(path.read_text())


def record_id(file_name: str) -> str:
    """The record id `<class>/<file>` of an RM `file_name`: its last two path parts."""
    return "/".join(file_name.split("/")[-2:])


def _rows(entries: list[dict], index: dict[str, int], labels: np.ndarray, path: Path,
          class_of: dict[int, int]) -> np.ndarray:
    """Record rows of the entries; fills class_of[RM label] = manifest label, checked."""
    rows = []
    for entry in entries:
        record = record_id(str(entry["file_name"]))
        if record not in index:
            raise ValueError(f"{path}: {entry['file_name']!r} is not in the record set "
                             f"(no record id {record!r}); convert the dataset with "
                             "continual.data.image_folder, or fix StreamPlan.data_dir")
        row = index[record]
        rm_label, ours = int(entry["label"]), int(labels[row])
        if class_of.setdefault(rm_label, ours) != ours:
            raise ValueError(f"{path}: label {rm_label} names two classes of the record set")
        rows.append(row)
    return np.asarray(rows, np.int64)


def _check_task_order(streams_labels: list[np.ndarray], per_task: int, path: Path) -> None:
    """Task t's major classes must be RM labels t*n .. (t+1)*n - 1 (labels 0..C-1)."""
    for task, labels in enumerate(streams_labels):
        values, counts = np.unique(labels, return_counts=True)
        major = sorted(values[np.argsort(-counts, kind="stable")][:per_task].tolist())
        if major != list(range(task * per_task, (task + 1) * per_task)):
            raise ValueError(f"{path}: task {task}'s main labels are {major}, not "
                             f"{task * per_task}..{(task + 1) * per_task - 1}: the labels are "
                             "not 0..C-1 in task order")


@gin.configurable(denylist=["train", "test", "seed"])
def rm_split_files(train: Manifest, test: Manifest, seed: int, *,
                   collections_dir: str = "collections", dataset: str = "cifar10",
                   exp: str = "blurry10", classes_per_task: int = 2, num_tasks: int = 5,
                   rand_seed: int | None = None) -> Scenario:
    """RM's split `exp` ('blurry10', 'blurry30', 'disjoint') of seed `rand_seed` (default: the
    experiment seed) read from `collections_dir`."""
    data = scenario_data(train, test, seed, "rm_split_files")
    folder, rand = Path(collections_dir), seed if rand_seed is None else int(rand_seed)
    train_index = {name: row for row, name in enumerate(train.record_ids())}
    test_index = {name: row for row, name in enumerate(test.record_ids())}
    class_of: dict[int, int] = {}
    streams, rm_labels, tests = [], [], []
    for task in range(num_tasks):
        path = split_path(folder, dataset, f"train_{exp}", rand, classes_per_task, task)
        entries = _read(path, folder, dataset)
        streams.append(_rows(entries, train_index, data.train_labels, path, class_of))
        rm_labels.append(np.asarray([int(e["label"]) for e in entries]))
        test_path = split_path(folder, dataset, "test", rand, classes_per_task, task)
        tests.append(_rows(_read(test_path, folder, dataset), test_index, data.test_labels,
                           test_path, class_of))
    _check_task_order(rm_labels, classes_per_task, path)
    disjoint = exp == "disjoint"
    evals = [np.concatenate(tests[: t + 1] if disjoint else tests) for t in range(num_tasks)]
    new_classes = [data.train_labels[rows] for rows in streams]
    params = {"collections_dir": str(folder), "dataset": dataset, "exp": exp,
              "classes_per_task": classes_per_task, "num_tasks": num_tasks, "rand_seed": rand,
              "class_order": [class_of[k] for k in sorted(class_of)], **data.identity()}
    return Scenario(name="rm_split_files", params=params,
                    experiences=chain_experiences(streams, new_classes, evals),
                    task_test_ids=tuple(as_ids(np.sort(t)) for t in tests),
                    num_classes=train.num_classes)
