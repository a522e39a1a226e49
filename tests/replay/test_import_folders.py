"""Replay folders made elsewhere become manifested class folders (issue 12, items 11 and 12)."""

import json

import pytest

from continual.replay.folders import ReplayFolderError, pack_class, verified_images
from continual.replay.import_folders import main
from tests.data.test_recall_original import archive, photo


def crawl(root, classes=(1, 2)):
    for voc_id in classes:
        folder = root / f"{voc_id:02d}"
        folder.mkdir(parents=True)
        for index in range(2):
            (folder / f"{index:04d}.jpg").write_bytes(photo(10 * voc_id + index))
    return root


def test_an_original_flickr_crawl_becomes_class_folders_that_pack(tmp_path):
    assert main(["flickr", "--images", str(crawl(tmp_path / "crawl")),
                 "--out", str(tmp_path / "web")]) == 0
    images = verified_images(tmp_path / "web" / "bicycle")
    assert [entry["file"] for entry, _ in images] == ["00000.jpg", "00001.jpg"]
    assert images[1][1] == photo(21)                       # bytes unchanged, order kept
    manifest = pack_class(tmp_path / "web" / "aeroplane", tmp_path / "packed", "replay")
    assert json.loads(manifest.read_text())["num_records"] == 2


def test_original_generator_folders_are_picked_by_the_mapping(tmp_path):
    images = tmp_path / "image_all" / "0404"
    images.mkdir(parents=True)
    (images / "000 .jpg").write_bytes(photo(1))              # the original's file names
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"aeroplane": {"imagenet_class": 404}}))
    assert main(["gan", "--images", str(tmp_path / "image_all"), "--mapping", str(mapping),
                 "--out", str(tmp_path / "gan")]) == 0
    assert verified_images(tmp_path / "gan" / "aeroplane")[0][1] == photo(1)


def test_archive_replay_records_and_a_broken_image(tmp_path, capsys):
    data = archive(tmp_path)
    assert main(["archive", "--data", str(data), "--out", str(tmp_path / "replay")]) == 0
    assert len(verified_images(tmp_path / "replay" / "gan" / "aeroplane")) == 2
    root = crawl(tmp_path / "broken", classes=(3,))
    (root / "03" / "0001.jpg").write_bytes(b"not a jpeg")
    assert main(["flickr", "--images", str(root), "--out", str(tmp_path / "w")]) == 2
    assert "0001.jpg: does not decode as an image" in capsys.readouterr().err
    with pytest.raises(ReplayFolderError, match="no manifest.json"):
        verified_images(tmp_path / "w" / "bird")
