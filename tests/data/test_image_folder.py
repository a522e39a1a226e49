from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from continual.data.classification import decoded_images, record_labels
from continual.data.image_folder import convert_image_folder, main
from continual.data.records import RecordError
from continual.data.shards import open_record_set

H, W = 6, 5


def pixels(seed: int, channels: int = 3, size=(H, W)) -> np.ndarray:
    shape = size + ((channels,) if channels == 3 else ())
    return np.random.default_rng(seed).integers(0, 256, shape, np.uint8)


def make_folder(root: Path, layout: dict[str, dict[str, list[str]]], channels: int = 3) -> dict:
    """Write PNGs root/<split>/<class>/<file>; returns {path: pixels}."""
    written = {}
    for split, classes in layout.items():
        for name, files in classes.items():
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for file in files:
                path = root / split / name / file
                written[path] = pixels(len(written), channels)
                Image.fromarray(written[path]).save(path)
    return written


LAYOUT = {"train": {"dog": ["b.png", "a.png"], "cat": ["z.png"]},
          "test": {"cat": ["c.png"], "dog": ["d.png"]}}


@pytest.fixture
def rgb_root(tmp_path):
    root = tmp_path / "root"
    return root, make_folder(root, LAYOUT)


def test_round_trip_sorted_classes_and_files(rgb_root, tmp_path):
    root, written = rgb_root
    summary = convert_image_folder(root, tmp_path / "out")
    assert summary["class_names"] == ["cat", "dog"]
    train = open_record_set(tmp_path / "out", "train")
    assert train.record_ids() == ["cat/z.png", "dog/a.png", "dog/b.png"]
    assert record_labels(train).tolist() == [0, 1, 1]
    assert train.image_shape == (H, W, 3) and train.data["class_names"] == ["cat", "dog"]
    expected = [written[root / "train" / p] for p in ("cat/z.png", "dog/a.png", "dog/b.png")]
    np.testing.assert_array_equal(decoded_images(train), np.stack(expected))
    test = open_record_set(tmp_path / "out", "test")
    assert record_labels(test).tolist() == [0, 1]


def test_grey_only_when_every_image_is_grey(tmp_path):
    grey = make_folder(tmp_path / "grey", LAYOUT, channels=1)
    convert_image_folder(tmp_path / "grey", tmp_path / "g")
    train = open_record_set(tmp_path / "g", "train")
    assert train.image_shape == (H, W, 1)
    np.testing.assert_array_equal(decoded_images(train)[0, ..., 0],
                                  grey[tmp_path / "grey/train/cat/z.png"])
    make_folder(tmp_path / "mixed", {"train": LAYOUT["train"]}, channels=1)
    make_folder(tmp_path / "mixed", {"test": LAYOUT["test"]}, channels=3)  # one RGB split
    convert_image_folder(tmp_path / "mixed", tmp_path / "m")
    mixed = decoded_images(open_record_set(tmp_path / "m", "train"))
    assert mixed.shape == (3, H, W, 3)
    assert (mixed[..., 0] == mixed[..., 2]).all()  # grey images repeated over R, G, B


def test_sizes_must_agree_unless_resized(rgb_root, tmp_path):
    root, _ = rgb_root
    odd = root / "test" / "dog" / "e.png"
    Image.fromarray(pixels(99, size=(8, 9))).save(odd)
    with pytest.raises(RecordError, match=f"{odd}: is 9x8 .* pass --size H W"):
        convert_image_folder(root, tmp_path / "out")
    convert_image_folder(root, tmp_path / "out", size=(4, 3))
    test = open_record_set(tmp_path / "out", "test")
    assert test.image_shape == (4, 3, 3)
    want = np.asarray(Image.open(odd).resize((3, 4), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(decoded_images(test)[-1], want)


def test_deterministic_and_skipped_when_unchanged(rgb_root, tmp_path):
    root, _ = rgb_root
    one = convert_image_folder(root, tmp_path / "one")
    two = convert_image_folder(root, tmp_path / "two")
    for split in ("train", "test"):
        assert one["splits"][split]["content_hash"] == two["splits"][split]["content_hash"]
    assert all(s["skipped"] for s in convert_image_folder(root, tmp_path / "one")["splits"]
               .values())
    Image.fromarray(pixels(50)).save(root / "test" / "cat" / "c.png")  # new test content
    again = convert_image_folder(root, tmp_path / "one")["splits"]
    assert again["train"]["skipped"] and not again["test"]["skipped"]


def test_class_folders_must_match(rgb_root, tmp_path):
    root, _ = rgb_root
    (root / "train" / "emu").mkdir()
    (root / "train" / "emu" / "x.png").write_bytes((root / "train/cat/z.png").read_bytes())
    (root / "test" / "fox").mkdir()
    with pytest.raises(ValueError, match=r"only in train: \['emu'\], only in test: \['fox'\]"):
        convert_image_folder(root, tmp_path / "out")


def test_empty_class_folder_is_named(rgb_root, tmp_path):
    root, _ = rgb_root
    for path in (root / "test" / "dog").iterdir():
        path.unlink()
    with pytest.raises(ValueError, match=f"{root / 'test' / 'dog'}: empty class folder"):
        convert_image_folder(root, tmp_path / "out")


def test_unreadable_files_are_named(rgb_root, tmp_path):
    root, _ = rgb_root
    text = root / "train" / "cat" / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(RecordError, match=f"{text}: not an image PIL can read"):
        convert_image_folder(root, tmp_path / "out")
    text.unlink()
    cut = root / "train" / "dog" / "a.png"
    cut.write_bytes(cut.read_bytes()[:60])  # header intact, pixel data cut off
    with pytest.raises(RecordError, match=f"{cut}: image data does not decode"):
        convert_image_folder(root, tmp_path / "out")
    assert not (tmp_path / "out" / "train.manifest.json").exists()


def test_cli_exit_code_2_on_missing_split(tmp_path, capsys):
    make_folder(tmp_path / "root", {"train": LAYOUT["train"]})
    assert main(["--root", str(tmp_path / "root"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tmp_path / "root" / "test") in err
