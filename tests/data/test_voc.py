import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from continual.data.manifest import sha256_file
from continual.data.shards import iterate_records, open_record_set
from continual.data.voc import VocError, convert_voc

REPO = Path(__file__).resolve().parents[2]
TRAIN_IDS = ["2007_000003", "2007_000001", "2007_000002"]  # listed out of order on purpose
VAL_IDS = ["2008_000002", "2008_000001"]
H, W = 12, 16


def voc_palette() -> list[int]:
    """VOC's colour map: index 1 is (128, 0, 0), so a colour is never equal to its index."""
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette += [r, g, b]
    return palette


def label_of(image_id: str) -> np.ndarray:
    """A distinct label per id: background, one class from the id, a void border."""
    label = np.zeros((H, W), np.uint8)
    label[3:9, 4:12] = int(image_id[-1]) + (10 if image_id.startswith("2008") else 0)
    label[0, :] = 255
    return label


def save_jpeg(path: Path, seed: int, size=(W, H)) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG")


def save_palette_label(path: Path, label: np.ndarray) -> None:
    image = Image.fromarray(label).convert("P")
    image.putpalette(voc_palette())
    image.save(path)


@pytest.fixture
def voc(tmp_path) -> Path:
    root = tmp_path / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True)
    for seed, image_id in enumerate(TRAIN_IDS + VAL_IDS):
        save_jpeg(root / "JPEGImages" / f"{image_id}.jpg", seed)
        save_palette_label(root / "SegmentationClass" / f"{image_id}.png", label_of(image_id))
    lists = root / "ImageSets" / "Segmentation"
    (lists / "train.txt").write_text("\n".join(TRAIN_IDS[:2]) + "\n\n" + TRAIN_IDS[2] + "\n")
    (lists / "val.txt").write_text("\n".join(VAL_IDS) + "\n")
    return root


def assert_nothing_written(out: Path) -> None:
    left = list(out.glob("*tfrecord*")) + list(out.glob("*manifest*")) if out.exists() else []
    assert left == []


def test_conversion_output(voc, tmp_path):
    out = tmp_path / "data"
    result = convert_voc(voc, out, records_per_shard=2)
    train, val = open_record_set(out, "train"), open_record_set(out, "val")
    assert train.record_ids() == sorted(TRAIN_IDS) and val.record_ids() == sorted(VAL_IDS)
    assert len(train.shard_paths()) == 2 and result["splits"]["train"]["num_images"] == 3
    assert result["splits"]["val"]["class_counts"] == {0: 2, 11: 1, 12: 1}
    for record in iterate_records(train):
        expected = label_of(record.image_id)
        assert record.image == (voc / "JPEGImages" / f"{record.image_id}.jpg").read_bytes()
        with Image.open(io.BytesIO(record.label)) as stored:
            assert stored.mode == "L"
            np.testing.assert_array_equal(np.asarray(stored), expected)  # indices, not colours
        decoded = tf.io.decode_png(record.label, channels=1)[..., 0].numpy()
        np.testing.assert_array_equal(decoded, expected)
        assert (record.height, record.width) == (H, W)
        assert record.classes == (0, int(record.image_id[-1]))
    source = train.source
    assert source["dataset"] == "voc2012" and source["split"] == "train"
    assert source["sbd_root"] is None and source["skipped"] == []
    assert source["list_sha256"] == sha256_file(voc / "ImageSets/Segmentation/train.txt")


def test_truncated_jpeg_is_named(voc, tmp_path):
    path = voc / "JPEGImages" / "2007_000002.jpg"
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(VocError, match=r"2007_000002\.jpg: the JPEG does not decode"):
        convert_voc(voc, tmp_path / "data")
    assert_nothing_written(tmp_path / "data")


def test_out_of_range_label_value_is_named(voc, tmp_path):
    label = label_of("2008_000001")
    label[5, 5] = 37
    save_palette_label(voc / "SegmentationClass" / "2008_000001.png", label)
    with pytest.raises(VocError, match=r"2008_000001\.png: label holds values 37;"):
        convert_voc(voc, tmp_path / "data")
    assert_nothing_written(tmp_path / "data")  # train was complete, but val failed


def test_colour_label_and_size_mismatch(voc, tmp_path):
    path = voc / "SegmentationClass" / "2007_000001.png"
    Image.open(path).convert("RGB").save(path)
    with pytest.raises(VocError, match=r"2007_000001\.png: label has mode 'RGB'; expected a pal"):
        convert_voc(voc, tmp_path / "data")
    save_palette_label(path, label_of("2007_000001"))
    save_jpeg(voc / "JPEGImages" / "2007_000001.jpg", 0, size=(W + 1, H))
    with pytest.raises(VocError, match=r"2007_000001\.png: label is 16x12 .* is 17x12"):
        convert_voc(voc, tmp_path / "data")
    assert_nothing_written(tmp_path / "data")


def test_missing_folder_list_and_file(voc, tmp_path):
    (voc / "ImageSets/Segmentation/train.txt").unlink()
    with pytest.raises(VocError, match=r"train\.txt: list file not found; expected VOC's train"):
        convert_voc(voc, tmp_path / "data")
    (voc / "ImageSets/Segmentation/train.txt").write_text("")
    with pytest.raises(VocError, match=r"train\.txt: lists no image ids"):
        convert_voc(voc, tmp_path / "data")
    (voc / "ImageSets/Segmentation/train.txt").write_text("2007_000009\n")
    with pytest.raises(VocError, match=r"2007_000009\.jpg: image not found"):
        convert_voc(voc, tmp_path / "data")
    (voc / "JPEGImages").rename(voc / "images")
    with pytest.raises(VocError, match=r"VOC2012/JPEGImages: folder not found; expected VOC's"):
        convert_voc(voc, tmp_path / "data")
    assert_nothing_written(tmp_path / "data")


def test_skip_bad_skips_and_reports(voc, tmp_path):
    (voc / "JPEGImages" / "2007_000002.jpg").write_bytes(b"not a jpeg")
    (voc / "SegmentationClass" / "2008_000002.png").unlink()
    result = convert_voc(voc, tmp_path / "data", skip_bad=True)
    assert open_record_set(tmp_path / "data", "train").record_ids() == ["2007_000001",
                                                                        "2007_000003"]
    assert open_record_set(tmp_path / "data", "val").record_ids() == ["2008_000001"]
    skipped = open_record_set(tmp_path / "data", "val").source["skipped"]
    assert [(Path(s["file"]).name, s["fault"][:15]) for s in skipped] == [
        ("2008_000002.png", "label not found")]
    assert result["splits"]["train"]["skipped"] == [{
        "id": "2007_000002", "file": str(voc / "JPEGImages" / "2007_000002.jpg"),
        "fault": "not an image file PIL recognises; expected a JPEG image"}]
    (voc / "SegmentationClass" / "2008_000001.png").unlink()
    with pytest.raises(VocError, match="all 2 val images were skipped"):
        convert_voc(voc, tmp_path / "other", skip_bad=True)
    assert_nothing_written(tmp_path / "other")


SBD_LINE = "/JPEGImages/{id}.jpg /SegmentationClassAug/{id}.png"


@pytest.mark.parametrize("line_format", ["{id}", SBD_LINE])
def test_sbd_train_list(voc, tmp_path, line_format):
    sbd = tmp_path / "sbd"
    (sbd / "SegmentationClassAug").mkdir(parents=True)
    aug_ids = ["2007_000001", "2009_000005"]
    save_jpeg(voc / "JPEGImages" / "2009_000005.jpg", 9)
    for image_id in aug_ids:  # grayscale labels with doubled class ids: not VOC's labels
        label = label_of(image_id)
        label = np.where(label == 255, label, label * 2).astype(np.uint8)
        Image.fromarray(label).save(sbd / "SegmentationClassAug" / f"{image_id}.png")
    (sbd / "train_aug.txt").write_text("".join(line_format.format(id=i) + "\n" for i in aug_ids))
    convert_voc(voc, tmp_path / "data", sbd_root=sbd)
    train = open_record_set(tmp_path / "data", "train")
    assert train.record_ids() == ["2007_000001", "2009_000005"]
    assert train.source["sbd_root"] == str(sbd.resolve())
    assert [r.classes for r in iterate_records(train)] == [(0, 2), (0, 10)]
    assert open_record_set(tmp_path / "data", "val").record_ids() == sorted(VAL_IDS)
    # A train list holding a val id is refused (evaluation images would be trained on).
    (sbd / "train_aug.txt").write_text("2007_000001\n2008_000001\n")
    with pytest.raises(VocError, match=r"train_aug\.txt: lists 1 VOC val id\(s\) \(2008_000001\)"):
        convert_voc(voc, tmp_path / "other", sbd_root=sbd)
    assert_nothing_written(tmp_path / "other")


def test_sbd_line_with_mismatched_ids_is_an_error(voc, tmp_path):
    sbd = tmp_path / "sbd"
    (sbd / "SegmentationClassAug").mkdir(parents=True)
    (sbd / "train_aug.txt").write_text("/JPEGImages/a.jpg /SegmentationClassAug/b.png\n")
    with pytest.raises(VocError, match=r"train_aug\.txt line 1: .* is not an image id"):
        convert_voc(voc, tmp_path / "data", sbd_root=sbd)


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "continual.data.voc", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_cli_exit_codes(voc, tmp_path):
    good = run_cli("--voc_root", voc, "--out", tmp_path / "good")
    assert good.returncode == 0, good.stderr
    assert "train: 3 images" in good.stdout and "val: 2 images" in good.stdout
    assert "not the paper's 10 582-image SBD-augmented list" in good.stderr
    jpeg = voc / "JPEGImages" / "2008_000001.jpg"
    jpeg.write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size // 2])
    bad = run_cli("--voc_root", voc, "--out", tmp_path / "bad")
    assert bad.returncode == 2
    assert "2008_000001.jpg: the JPEG does not decode" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert_nothing_written(tmp_path / "bad")
