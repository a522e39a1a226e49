"""Rainbow Memory's shipped split files: read in JSON order onto record rows, evaluated as RM
does (blurry: every test row; disjoint: the seen tasks'), and refused with the shipped list
when a file is missing, names an unknown record, or breaks the task order of the labels;
ImageNet's `imagenet/data/val/<wnid>/<file>` names map onto the converter's record ids."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from continual.data import image_folder
from continual.data.classification import ClassificationSample, write_classification_set
from continual.data.scenarios.rm_splits import record_id, rm_split_files
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


def _ilsvrc_folder(root: Path, wnids: list[str]) -> dict[str, list[str]]:
    """ILSVRC-style train/<wnid>/ and val/<wnid>/ PNG folders, val linked as test/ (the
    RM_IMAGENET card's layout); returns the file names per split."""
    names = {"train": [f"{w}_{i}.JPEG" for w in wnids for i in range(2)],
             "val": [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(len(wnids))]}
    for split, files in names.items():
        for i, name in enumerate(files):
            wnid = wnids[i // 2] if split == "train" else wnids[i]
            (root / split / wnid).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((4, 4, 3), 10 * i, np.uint8)).save(root / split / wnid / name,
                                                                         format="PNG")
    (root / "test").symlink_to("val")
    return names


def _imagenet_json(entries: list[tuple[str, str, str, int]]) -> str:
    """The original's ImageNet JSON text: `imagenet/data/<split>/<wnid>/<file>`, slashes
    escaped as `\\/`, keys in its order (file_name, klass, label)."""
    return json.dumps([{"file_name": f"imagenet/data/{s}/{w}/{f}", "klass": w, "label": label}
                       for s, w, f, label in entries], separators=(",", ":")).replace("/", "\\/")


def test_imagenet_file_names_match_the_converted_record_ids(tmp_path):
    wnids = ["n01440764", "n01498041"]      # RM's task order: n01498041 (label 0), n01440764
    _ilsvrc_folder(tmp_path / "ILSVRC", wnids)
    assert image_folder.main(["--root", str(tmp_path / "ILSVRC"), "--out",
                              str(tmp_path / "imagenet")]) == 0
    train, test = (open_record_set(tmp_path / "imagenet", s) for s in ("train", "test"))
    folder = tmp_path / "collections" / "imagenet"
    folder.mkdir(parents=True)
    tasks = [[("train", wnids[1], f"{wnids[1]}_1.JPEG", 0), ("train", wnids[1],
                                                              f"{wnids[1]}_0.JPEG", 0)],
             [("train", wnids[0], f"{wnids[0]}_0.JPEG", 1)]]
    tests = [[("val", wnids[1], "ILSVRC2012_val_00000001.JPEG", 0)],
             [("val", wnids[0], "ILSVRC2012_val_00000000.JPEG", 1)]]
    for t in range(2):
        (folder / f"imagenet_train_blurry10_rand1_cls1_task{t}.json").write_text(
            _imagenet_json(tasks[t]))
        (folder / f"imagenet_test_rand1_cls1_task{t}.json").write_text(_imagenet_json(tests[t]))
    assert '"imagenet\\/data\\/val\\/n01498041\\/' in (
        folder / "imagenet_test_rand1_cls1_task0.json").read_text()
    scenario = rm_split_files(train, test, 1, collections_dir=str(tmp_path / "collections"),
                              dataset="imagenet", classes_per_task=1, num_tasks=2)
    # converter rows: train n01440764_0, _1, n01498041_0, _1; test val_0 (n01440764), val_1
    assert [e.train_ids for e in scenario.experiences] == [(3, 2), (0,)]
    assert scenario.task_test_ids == ((1,), (0,))
    assert scenario.params["class_order"] == [1, 0]
    assert record_id("imagenet/data/val/n01498041/ILSVRC2012_val_00001935.JPEG") == \
        "n01498041/ILSVRC2012_val_00001935.JPEG"
    assert record_id("train/truck/0298.png") == "truck/0298.png"      # CIFAR, MNIST: as before
