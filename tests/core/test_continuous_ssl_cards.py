"""The continuous-SSL run cards. The paper cards (R18_*_PAPER.gin) stream the paper's Kinetics
videos: `video_runs` with a fresh random frame per read and per buffer read (the original's
`seq_sampling=random`), as MINRED_VIDEO.gin; they plan with --dry_run on a converted set whose
records carry `group` (one id per video) and refuse a converted image folder, which has none.
SINGLE_PASS.gin cites the single-pass rows; every card's ResNet starts with zero-init residuals, as
SimSiam's."""

import re
from pathlib import Path

import gin
import keras
import numpy as np
import pytest
from PIL import Image

import main
import suite  # noqa: F401  (registers every configurable the files bind)
from continual.data.image_folder import convert_image_folder
from continual.data.synthetic_stream import generate_stream_set
from continual.gin_files import parse_gin
from continual.models.classifiers import build_classifier

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


def _run_card(card: str) -> str:
    """The comment block at the top of a config file (its run card)."""
    lines = (Path(main.__file__).parent / f"config/ports/continuous_ssl/{card}.gin").read_text()
    return " ".join(line[1:].strip() for line in lines.splitlines()
                    if line.startswith("#")).split("Expected wall-clock")[0]


def test_single_pass_card_cites_the_single_pass_rows_not_the_5_epoch_run():
    card = _run_card("SINGLE_PASS")
    assert "32.2 %" in card and "11.9 %" in card, card
    assert re.search(r"\(8\.1 %\): that is the 5-epoch run", card), card
    parse_gin(["config/ports/continuous_ssl/SINGLE_PASS.gin"], [])
    assert gin.query_parameter("SimSiamStream.epochs") == 1


@pytest.mark.parametrize("card", ["MINRED", "FIFO", "IID", "SINGLE_PASS", "R18_MINRED_PAPER"])
def test_simsiam_resnets_zero_the_last_bn_of_each_residual_block(card):
    """SimSiam builds its encoder with `zero_init_residual=True` (the original's simsiam.py):
    each block's last BN gamma starts at 0, the others at 1."""
    parse_gin([f"config/ports/continuous_ssl/{card}.gin"], [])
    backbone = build_classifier(input_shape=(32, 32, 3), num_classes=4).backbone
    gammas = {layer.name: layer.gamma.numpy() for layer in backbone.layers
              if isinstance(layer, keras.layers.BatchNormalization)}
    last = [name for name in gammas if re.search(r"block\d+_conv2_bn$", name)]
    assert len(last) >= 8, sorted(gammas)
    assert all(not gammas[name].any() for name in last)
    assert all((gammas[name] == 1).all() for name in set(gammas) - set(last))
