"""The SODA10M / SSLAD-2D reader on a small annotation fixture: crop rule, object filter,
chronological stream order with string video ids, experiences by date and period."""

import json

import numpy as np
import pytest
from PIL import Image

from continual.data import sslad
from continual.data.classification import decoded_images, record_labels
from continual.data.scenarios import by_attribute
from continual.data.shards import open_record_set


def test_square_crop_by_hand():
    assert sslad.square_crop([100, 200, 40, 20]) == (95, 185, 145, 235)  # half 40 // 2 + 5
    assert sslad.square_crop([0, 0, 40, 40]) == (0, 0, 50, 50)  # shifted right and down
    assert sslad.square_crop([1900, 1060, 40, 40]) == (1869, 1029, 1919, 1079)
    left, top, right, bottom = sslad.square_crop([0, 0, 1800, 1000])
    assert right - left == 2 * 539 and bottom - top == 2 * 539  # half-side clamped


IMAGES = [  # id, date, time, period, old file name (video, sequence)
    (1, "20191111", "101500", "Daytime", "v9_s1.jpg"),
    (2, "20191111", "101500", "Daytime", "v10_s1.jpg"),  # same time: video '10' < '9'
    (3, "20191111", "090000", "Daytime", "v1_s1.jpg"),
    (4, "20191111", "200000", "Night", "v2_s1.jpg"),
    (5, "20191117", "100000", "Daytime", "v3_s1.jpg"),
    (6, "20191201", "120000", "Daytime", "v4_s1.jpg"),  # not a stream date: evaluation
    (7, "20191121", "210000", "Night", "v5_s1.jpg"),    # stream experience 6
    (8, "20191120", "210000", "Night", "v6_s1.jpg"),    # a stream date: not evaluated
    (9, "20191121", " 120000", "Daytime", "v7_s1.jpg"),  # evaluation (time stripped)
    (10, "20191111", "1111523", "Daytime", "v8_s1.jpg"),  # the original reads 11:11:52
]
TRAIN_IMAGES = [  # id, date, time, category of its object: (evaluated?)
    (1, "20180901", "100000", 6),      # a Tricycle: evaluated, whatever its date
    (2, "201810152", "152030", 2),     # a Cyclist of 2018-10-15 15:20:30 (date fixed)
    (3, "20181015", "160000", 2),      # the other Cyclist slot
    (4, "20181015", "170000", 2),      # another time: not evaluated
    (5, "20181015", "160000", 3),      # a Car: not evaluated
]


def _write_split(root, split, images, objects):
    (root / "annotations" / f"instance_{split}.json").write_text(
        json.dumps({"images": images, "annotations": objects}))


def _fixture(root, *, category=3, drop_time=False):
    for folder in ("val", "train", "annotations"):
        (root / folder).mkdir(parents=True)
    images, objects = [], []
    for index, date, clock, period, old in IMAGES:
        Image.new("RGB", sslad.FRAME, (index * 20, 0, 0)).save(root / "val" / f"{index}.png")
        image = {"id": index, "date": date, "time": clock, "period": period,
                 "file_name": f"{index}.png", "file_name_old": old}
        if drop_time and index == 4:
            del image["time"]
        images.append(image)
        objects.append({"id": 100 + index, "image_id": index, "bbox": [500, 500, 40, 40],
                        "area": 1600, "occluded": 1, "category_id": category if index == 2
                        else 1 + index % 6})
    objects.append({"id": 200, "image_id": 1, "bbox": [0, 0, 10, 10], "area": 100,
                    "occluded": 1, "category_id": 1})   # too small
    objects.append({"id": 201, "image_id": 1, "bbox": [0, 0, 40, 40], "area": 1600,
                    "occluded": 0, "category_id": 1})   # occluded flag 0: dropped
    _write_split(root, "val", images, objects)
    images, objects = [], []
    for index, date, clock, label in TRAIN_IMAGES:
        Image.new("RGB", sslad.FRAME, (0, index * 20, 0)).save(root / "train" / f"{index}.png")
        images.append({"id": index, "date": date, "time": clock, "period": "Daytime",
                       "file_name": f"{index}.png", "file_name_old": f"v{index}_s1.jpg"})
        objects.append({"id": 100 + index, "image_id": index, "bbox": [500, 500, 40, 40],
                        "area": 1600, "occluded": 1, "category_id": label})
    _write_split(root, "train", images, objects)


def test_converts_the_stream_in_time_order_with_experiences_by_period(tmp_path):
    _fixture(tmp_path / "soda")
    assert sslad.main(["--root", str(tmp_path / "soda"), "--out", str(tmp_path / "out"),
                       "--size", "16"]) == 0
    train, test = open_record_set(tmp_path / "out", "train"), open_record_set(tmp_path / "out",
                                                                              "test")
    assert train.num_classes == 7 and tuple(train.image_shape) == (16, 16, 3)
    # 09:00 (image 3), then the two 10:15 frames by video id as strings ('10' < '9'), 11:11:52
    # (image 10, time 1111523 as the original reads it), night, the 17th, the 21st's night;
    # the small and the occluded objects are gone.
    assert record_labels(train).tolist() == [4, 3, 2, 5, 5, 6, 2]
    scenario = by_attribute(train, test, 0)
    assert [len(e.train_ids) for e in scenario.experiences] == [4, 1, 1, 1]
    assert [e.attribute_value for e in scenario.experiences] == [0, 1, 0, 1]


def test_the_evaluation_set_is_the_originals(tmp_path):
    """Val objects off 2019-11-11 / 17 / 20 (both periods) and off the 21st's night, plus the
    train split's Tricycles and 2018-10-15's two Cyclist slots (create_val_set)."""
    _fixture(tmp_path / "soda")
    sslad.convert(tmp_path / "soda", tmp_path / "out", size=8)
    test = open_record_set(tmp_path / "out", "test")
    ids = sorted(test.record_ids())
    assert ids == ["train_101", "train_102", "train_103", "val_106", "val_109"], ids


@pytest.mark.parametrize("kwargs, message", [
    ({"category": 7}, "category_id 7, outside"),
    ({"drop_time": True}, "lacks ['time']"),
])
def test_bad_annotations_are_refused(tmp_path, capsys, kwargs, message):
    _fixture(tmp_path / "soda", **kwargs)
    assert sslad.main(["--root", str(tmp_path / "soda"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert not (tmp_path / "out" / "train.manifest.json").exists()


def test_crop_reads_the_right_pixels(tmp_path):
    frame = np.zeros((1080, 1920, 3), np.uint8)
    frame[485:555, 485:555] = 255
    root = tmp_path / "soda"
    _fixture(root)
    Image.fromarray(frame).save(root / "val" / "3.png")
    sslad.convert(root, tmp_path / "out", size=8)
    first = decoded_images(open_record_set(tmp_path / "out", "train"))[0]
    assert first.min() == 255  # the crop (495..545) lies inside the white square
