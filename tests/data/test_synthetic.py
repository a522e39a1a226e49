import colorsys
import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from continual.data.classes import VOC_CLASSES
from continual.data.manifest import manifest_path
from continual.data.records import parse_record
from continual.data.shapes import SHAPES, shape_mask
from continual.data.shards import load_serialized, open_record_set
from continual.data.synthetic import (
    CLASS_STYLES,
    COMPANIONS,
    generate_synthetic,
    make_record,
    render_example,
)

REPO = Path(__file__).resolve().parents[2]
SMALL = dict(size=32, num_train=40, num_val=20, seed=3, records_per_shard=16)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    summary = generate_synthetic(out, **SMALL)
    return out, summary


def _decoded(directory, split):
    """(id, image, label, classes) of every record, decoded the way the pipelines do."""
    for serialized in load_serialized(open_record_set(directory, split)):
        parsed = parse_record(tf.constant(serialized))
        image = tf.io.decode_jpeg(parsed["input"], channels=3).numpy()
        label = tf.io.decode_png(parsed["label"], channels=1).numpy()[..., 0]
        yield parsed["id"].numpy().decode(), image, label, tuple(parsed["classes"].numpy())


def test_writes_train_and_val_with_counts_and_source(small_set):
    out, summary = small_set
    for split, num in (("train", 40), ("val", 20)):
        manifest = open_record_set(out, split)
        assert manifest_path(out, split).exists()
        assert manifest.num_records == num
        assert len(manifest.shard_paths()) == -(-num // 16)
        assert manifest.source["dataset"] == "synthetic"
        assert manifest.source["generator_version"] == 1
        assert (manifest.source["size"], manifest.source["seed"], manifest.source["num"]) == (
            32, 3, num)
        assert summary["splits"][split]["num_images"] == num
        assert summary["splits"][split]["skipped"] is False


def test_every_record_decodes_with_exact_labels(small_set):
    out, _ = small_set
    for split in ("train", "val"):
        records = list(_decoded(out, split))
        assert [r[0] for r in records] == [f"syn_{split}_{i:06d}" for i in range(len(records))]
        for _, image, label, classes in records:
            assert image.shape == (32, 32, 3) and label.shape == (32, 32)
            values = set(np.unique(label).tolist())
            assert values <= set(range(21)) | {255}
            assert 255 in values  # the void band along object outlines
            assert classes == tuple(sorted(values - {255}))
            assert 1 <= len([c for c in classes if c]) <= 3
        blocks = [{(c - 1) // 5 for c in r[3] if c} for r in records]
        assert any(len(b) > 1 for b in blocks)  # classes of different 5-class blocks co-occur


def test_void_band_can_be_turned_off():
    _, with_band = render_example(0, "train", 5, 32)
    _, without = render_example(0, "train", 5, 32, void_border=False)
    assert 255 not in without
    band = with_band == 255
    assert band.any() and (without[band] > 0).all()  # the band lies on objects only
    assert (with_band[~band] == without[~band]).all()


def test_same_seed_same_bytes_other_seed_differs(small_set, tmp_path):
    out, _ = small_set
    generate_synthetic(tmp_path / "again", **SMALL)
    generate_synthetic(tmp_path / "other", **{**SMALL, "seed": 4})
    for split in ("train", "val"):
        reference = open_record_set(out, split).content_hash
        assert open_record_set(tmp_path / "again", split).content_hash == reference
        assert open_record_set(tmp_path / "other", split).content_hash != reference


def test_an_image_does_not_depend_on_the_images_before_it(small_set):
    out, _ = small_set
    stored = load_serialized(open_record_set(out, "train"))[17]
    parsed = parse_record(tf.constant(stored))
    alone = make_record(3, "train", 17, 32)
    assert parsed["input"].numpy() == alone.image and parsed["label"].numpy() == alone.label


def test_default_size_class_statistics_support_every_setup():
    """At the defaults (64 px, 1200 train images) every class is frequent, is the highest
    class of some images (so sequential/disjoint steps are non-empty), and classes of
    different steps co-occur (so overlapped differs from disjoint)."""
    images_per_class = np.zeros(21, int)
    highest = np.zeros(21, int)
    across_steps = 0
    for index in range(1200):
        _, label = render_example(0, "train", index, 64)
        present = [int(c) for c in np.unique(label) if 0 < c < 21]
        images_per_class[present] += 1
        highest[max(present)] += 1
        across_steps += len({(c > 10) + (c > 15) for c in present}) > 1
    assert images_per_class[1:].min() >= 30, images_per_class
    assert highest[1:].min() >= 10, highest
    assert across_steps >= 300


def test_class_styles_differ_in_two_of_shape_hue_texture():
    assert sorted(CLASS_STYLES) == list(range(1, 21)) == sorted(COMPANIONS)
    for a, b in itertools.combinations(range(1, 21), 2):
        sa, sb = CLASS_STYLES[a], CLASS_STYLES[b]
        differing = (sa.shape != sb.shape) + (sa.hue != sb.hue) + (sa.texture != sb.texture)
        assert differing >= 2, (VOC_CLASSES[a], VOC_CLASSES[b])
    for cls, group in COMPANIONS.items():
        assert cls not in group and set(group) <= set(range(1, 21))


def test_shapes_are_distinct_masks():
    masks = {s: shape_mask(s, 40, (20.0, 20.0), 12.0) for s in SHAPES}
    for a, b in itertools.combinations(SHAPES, 2):
        iou = (masks[a] & masks[b]).sum() / (masks[a] | masks[b]).sum()
        assert iou < 0.85, (a, b, iou)
    assert not masks["ring"][20, 20] and masks["disc"][20, 20]


def test_object_pixels_show_their_class_hue_and_texture(small_set):
    """From the decoded JPEG: an object's mean colour names its hue; textures show."""
    out, _ = small_set
    hues = sorted({style.hue for style in CLASS_STYLES.values()})
    checked = 0
    for _, image, label, classes in _decoded(out, "train"):
        grey = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        for cls in (c for c in classes if c):
            pixels = label == cls
            mean = image[pixels].mean(axis=0) / 255
            hue = colorsys.rgb_to_hsv(*mean)[0] * 360
            nearest = min(hues, key=lambda h: min(abs(hue - h), 360 - abs(hue - h)))
            assert nearest == CLASS_STYLES[cls].hue, (VOC_CLASSES[cls], hue)
            if pixels.sum() < 30:
                continue  # a sliver left by occlusion is too small to show a texture
            textured = CLASS_STYLES[cls].texture != "solid"
            checked += 1
            assert (grey[pixels].std() > 11) == textured, (VOC_CLASSES[cls], grey[pixels].std())
    assert checked >= 40


def test_cli_writes_prints_table_and_skips_a_second_run(tmp_path):
    command = [sys.executable, "-m", "continual.data.synthetic", "--out", str(tmp_path),
               "--size", "32", "--num_train", "20", "--num_val", "10"]
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    assert "synthetic train" in first.stderr  # the progress bar
    table = first.stdout
    assert "train: generating" in table
    assert any(line.split()[:2] == ["train", "20"] for line in table.splitlines())
    assert any(line.split()[:2] == ["val", "10"] for line in table.splitlines())
    assert all(name in table for name in VOC_CLASSES[1:])
    shard = tmp_path / "train-00000.tfrecord"
    written = shard.stat().st_mtime_ns
    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    assert "train: up to date, skipped" in second.stdout
    assert "val: up to date, skipped" in second.stdout
    assert shard.stat().st_mtime_ns == written


def test_changed_parameters_or_missing_shard_regenerate(small_set, tmp_path, capsys):
    generate_synthetic(tmp_path, **SMALL)
    summary = generate_synthetic(tmp_path, **{**SMALL, "num_val": 21})
    assert summary["splits"]["train"]["skipped"] and not summary["splits"]["val"]["skipped"]
    assert "val: generating (parameters differ (num))" in capsys.readouterr().out
    (tmp_path / "train-00001.tfrecord").unlink()
    summary = generate_synthetic(tmp_path, **{**SMALL, "num_val": 21})
    assert not summary["splits"]["train"]["skipped"]
    assert open_record_set(tmp_path, "train").content_hash == open_record_set(
        small_set[0], "train").content_hash


def test_too_small_images_are_refused(tmp_path):
    with pytest.raises(ValueError, match="size must be >= 24"):
        generate_synthetic(tmp_path, size=16)
