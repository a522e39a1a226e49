"""The continuous-SSL paper cards (config/ports/continuous_ssl/R18_*_PAPER.gin) stream the
paper's Kinetics videos: `video_runs` with a fresh random frame per read and per buffer read
(errata M3), as MINRED_VIDEO.gin. They plan with --dry_run on a converted set whose records
carry `group` (one id per video) and refuse a converted image folder, which has none."""

from pathlib import Path

import gin
import numpy as np
import pytest
from PIL import Image

import main
from continual.data.image_folder import convert_image_folder
from continual.data.synthetic_stream import generate_stream_set
from suite import parse_gin

CARDS = ["R18_MINRED_PAPER", "R18_FIFO_PAPER"]
VIDEO_STREAM = {"StreamPlan.scenario": "video_runs", "video_runs.reads_per_group": 64,
                "video_runs.sampling": "random", "SimSiamStream.redraw_frame_per_read": True}


def _bound(name: str):
    value = gin.query_parameter(name)
    return value.selector if isinstance(value, gin.config.ConfigurableReference) else value


@pytest.mark.parametrize("card", CARDS + ["MINRED_VIDEO"])
def test_cards_bind_the_kinetics_video_stream(card):
    parse_gin([f"config/ports/continuous_ssl/{card}.gin"], [])
    assert {name: _bound(name) for name in VIDEO_STREAM} == VIDEO_STREAM


def _card_args(data: Path, tmp: Path, card: str) -> list[str]:
    params = [f"StreamPlan.data_dir = '{data}'", f"TrainManager.checkpoint_dir = '{tmp / 'ckpt'}'",
              "ContinuousBuffer.capacity = 512"]   # the fixture's stream: 16 videos x 64 reads
    args = ["--gin_file", f"config/ports/continuous_ssl/{card}.gin", "--workdir",
            str(tmp / "runs"), "--dry_run"]
    for param in params:
        args += ["--gin_param", param]
    return args


@pytest.mark.parametrize("card", CARDS)
def test_cards_plan_on_a_set_of_videos(card, tmp_path, capsys):
    data = tmp_path / "videos"
    generate_stream_set(data, num_classes=4, train_per_class=16, test_per_class=2, run_length=4)
    assert main.main(_card_args(data, tmp_path, card)) == 0
    out = capsys.readouterr().out
    assert all(f"exp{i} " in out for i in range(4)) and "10 to run" in out, out
    assert not (tmp_path / "ckpt").exists()


def _image_folder(root: Path) -> Path:
    """A converted image folder: 2 classes x 4 frames, no `group` on any record."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label in ("a", "b"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(4):
                Image.fromarray(rng.integers(0, 256, (8, 8, 3), np.uint8)).save(folder / f"{i}.png")
    convert_image_folder(root, root / "data")
    return root / "data"


@pytest.mark.parametrize("card", CARDS)
def test_cards_refuse_a_set_without_videos(card, tmp_path, capsys):
    assert main.main(_card_args(_image_folder(tmp_path / "folder"), tmp_path, card)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'group'" in err, err
    assert not (tmp_path / "ckpt").exists()
