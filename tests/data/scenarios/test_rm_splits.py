"""Rainbow Memory's shipped split files: read in JSON order onto record rows, evaluated as RM
does (blurry: every test row; disjoint: the seen tasks'), and refused with the shipped list
when a file is missing, names an unknown record, or breaks the task order of the labels."""

import json
from pathlib import Path

import numpy as np
import pytest

from continual.data.classification import ClassificationSample, write_classification_set
from continual.data.scenarios.rm_splits import rm_split_files
from continual.data.shards import open_record_set

CLASSES = ["cat", "dog", "frog", "ship"]          # manifest labels 0..3
RM_LABEL = {"ship": 0, "cat": 1, "dog": 2, "frog": 3}  # RM's task order: [ship, cat] [dog, frog]


def _record_set(root: Path) -> tuple:
    image = np.zeros((4, 4, 3), np.uint8)
    for split in ("train", "test"):
        samples = [ClassificationSample(image, c, f"{name}/{i}.png")
                   for c, name in enumerate(CLASSES) for i in range(3)]
        write_classification_set(root / "set", split, samples, num_classes=4, class_names=CLASSES)
    return open_record_set(root / "set", "train"), open_record_set(root / "set", "test")


def _entries(split: str, items: list[tuple[str, int]]) -> list[dict]:
    return [{"klass": k, "file_name": f"{split}/{k}/{i}.png", "label": RM_LABEL[k]}
            for k, i in items]


def _write(root: Path, exp: str, tasks: list[list[tuple[str, int]]]) -> Path:
    folder = root / "collections" / "toy"
    folder.mkdir(parents=True, exist_ok=True)
    tests = [[(k, i) for k in ("ship", "cat") for i in range(3)],
             [(k, i) for k in ("dog", "frog") for i in range(3)]]
    for t, (train, test) in enumerate(zip(tasks, tests, strict=True)):
        (folder / f"toy_train_{exp}_rand1_cls2_task{t}.json").write_text(
            json.dumps(_entries("train", train)))
        (folder / f"toy_test_rand1_cls2_task{t}.json").write_text(
            json.dumps(_entries("test", test)))
    return root / "collections"


BLURRY = [[("ship", 0), ("cat", 0), ("dog", 2), ("ship", 1), ("cat", 1)],
          [("dog", 0), ("frog", 0), ("ship", 2), ("dog", 1), ("frog", 1), ("cat", 2)]]


def test_blurry_split_is_read_in_json_order(tmp_path):
    train, test = _record_set(tmp_path)
    scenario = rm_split_files(train, test, 1, collections_dir=str(_write(tmp_path, "blurry10",
                              BLURRY)), dataset="toy", exp="blurry10", num_tasks=2)
    rows = {name: row for row, name in enumerate(train.record_ids())}
    assert scenario.experiences[0].train_ids == tuple(rows[f"{k}/{i}.png"] for k, i in BLURRY[0])
    assert scenario.experiences[0].seen_classes == (0, 1, 3)       # cat, dog, ship
    assert all(len(e.eval_ids) == 12 for e in scenario.experiences)  # every test row
    assert scenario.params["class_order"] == [3, 0, 1, 2]            # RM label -> ours
    assert len(scenario.task_test_ids[1]) == 6


def test_disjoint_split_evaluates_the_seen_tasks(tmp_path):
    train, test = _record_set(tmp_path)
    tasks = [[("ship", 0), ("cat", 0)], [("dog", 0), ("frog", 0)]]
    scenario = rm_split_files(train, test, 1, collections_dir=str(_write(tmp_path, "disjoint",
                              tasks)), dataset="toy", exp="disjoint", num_tasks=2)
    assert [len(e.eval_ids) for e in scenario.experiences] == [6, 12]


def test_a_split_that_was_never_shipped_names_the_path_and_lists_the_shipped(tmp_path):
    train, test = _record_set(tmp_path)
    collections = _write(tmp_path, "blurry10", BLURRY)
    with pytest.raises(ValueError, match=r"toy_train_blurry30_rand1_cls2_task0.json does not "
                       r"exist.*cifar100: blurry10 seeds \[1, 2, 3\], disjoint seeds \[1\]"
                       r".*toy_train_blurry10_rand1_cls2_task0.json"):
        rm_split_files(train, test, 1, collections_dir=str(collections), dataset="toy",
                       exp="blurry30", num_tasks=2)


def test_a_file_missing_from_the_record_set_is_named(tmp_path):
    train, test = _record_set(tmp_path)
    tasks = [[("ship", 0), ("cat", 7)], [("dog", 0), ("frog", 0)]]
    with pytest.raises(ValueError, match="'train/cat/7.png' is not in the record set"):
        rm_split_files(train, test, 1, collections_dir=str(_write(tmp_path, "disjoint", tasks)),
                       dataset="toy", exp="disjoint", num_tasks=2)


def test_labels_out_of_task_order_are_refused(tmp_path):
    train, test = _record_set(tmp_path)
    tasks = [[("dog", 0), ("frog", 0)], [("ship", 0), ("cat", 0)]]   # task 0 holds labels 2, 3
    with pytest.raises(ValueError, match="not 0..C-1 in task order"):
        rm_split_files(train, test, 1, collections_dir=str(_write(tmp_path, "disjoint", tasks)),
                       dataset="toy", exp="disjoint", num_tasks=2)
