"""The Rainbow Memory ImageNet card (RM_IMAGENET.gin) plans with --dry_run on a tiny ILSVRC-style
folder converted as its header says: train/<wnid>/*.JPEG, val/<wnid>/*.JPEG linked as test,
`python -m continual.data.image_folder --size 224 224`; it binds RM's ImageNet lr schedule."""

from __future__ import annotations

import os
from pathlib import Path

import gin
import numpy as np
import tensorflow as tf

import main
import suite  # noqa: F401  (registers every configurable the card binds)
from continual.data import image_folder
from continual.data.shards import open_record_set
from continual.methods.rainbow_memory import RainbowMemory

WNIDS = [f"n{1440764 + i:08d}" for i in range(10)]  # one class per task of the card's 10


def _ilsvrc(root: Path) -> None:
    """JPEGs of assorted sizes: two per class in train/, one per class in val/."""
    rng = np.random.default_rng(0)
    for split, per_class in (("train", 2), ("val", 1)):
        for c, wnid in enumerate(WNIDS):
            (root / split / wnid).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (30 + 3 * c, 40 + i, 3), np.uint8)
                name = f"{wnid}_{i}.JPEG" if split == "train" else \
                    f"ILSVRC2012_val_{c * 10 + i:08d}.JPEG"
                (root / split / wnid / name).write_bytes(tf.io.encode_jpeg(pixels).numpy())
    os.symlink("val", root / "test")  # the card's `ln -s val <ILSVRC>/test`


def test_imagenet_card_plans_on_a_converted_ilsvrc_folder(tmp_path, capsys):
    _ilsvrc(tmp_path / "ILSVRC")
    assert image_folder.main(["--root", str(tmp_path / "ILSVRC"), "--out",
                              str(tmp_path / "imagenet"), "--size", "224", "224"]) == 0
    assert "10 classes: n01440764," in capsys.readouterr().out
    test = open_record_set(tmp_path / "imagenet", "test")
    assert test.image_shape == (224, 224, 3) and test.num_records == 10
    assert test.record_ids()[0] == f"{WNIDS[0]}/ILSVRC2012_val_00000000.JPEG"
    args = ["--gin_file", "config/ports/rainbow_memory/RM_IMAGENET.gin", "--dry_run",
            "--workdir", str(tmp_path / "runs"),
            "--gin_param", f"StreamPlan.data_dir = '{tmp_path / 'imagenet'}'",
            "--gin_param", f"TrainManager.checkpoint_dir = '{tmp_path / 'ckpt'}'"]
    assert main.main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "RM_IMAGENET  (rm_imagenet)" in out
    assert out.count("stream_experience") == 10 and out.count("stream_evaluation") == 11
    assert "22 steps in all, 22 distinct, 22 to run now" in out
    assert " missing; the keys" not in out
    assert not (tmp_path / "ckpt").exists()


def test_imagenet_card_binds_rms_multistep_schedule():
    """RM's experiment.sh: SCHED_NAME="multistep" for ImageNet, lr x 0.1 after epochs 30, 60,
    80 and 90 of each task's memory-only epochs."""
    gin.parse_config_file("config/ports/rainbow_memory/RM_IMAGENET.gin")
    method = RainbowMemory()
    assert (method.sched_name, method.milestones, method.gamma) == \
        ("multistep", (30, 60, 80, 90), 0.1)
