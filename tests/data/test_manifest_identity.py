"""A record set's identity is its manifest's content plus its shards, and opening a set
cross-checks the records against the manifest: an edited manifest is refused (`does not match
its manifest`, the converter named) or, where it is self-consistent, is another set."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from continual.data.classification import ClassificationSample, write_classification_set
from continual.data.manifest import ManifestError, manifest_path, read_manifest
from continual.data.shards import open_record_set
from continual.data.synthetic import generate_synthetic
from continual.data.synthetic_stream import generate_stream_set

REBUILD = "rebuild it with `python -m continual.data.synthetic_stream`"


@pytest.fixture(scope="module")
def stream_set(tmp_path_factory) -> Path:
    """A generated stream set whose train split has 2 shards of 8 records (4 classes)."""
    out = tmp_path_factory.mktemp("stream")
    generate_stream_set(out, num_classes=4, size=12, train_per_class=4, test_per_class=2,
                        run_length=2, records_per_shard=8)
    assert len(open_record_set(out, "train").shard_paths()) == 2
    return out


def edited_copy(source: Path, target: Path, edit: Callable[[dict], None]) -> Path:
    """A copy of the set in `source` whose train manifest went through `edit`."""
    shutil.copytree(source, target)
    path = manifest_path(target, "train")
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return target


def _fewer_shards(data: dict) -> None:  # lists 1 of 2 shards, num_records unchanged
    data["shards"] = data["shards"][:1]


def _labels_swapped(data: dict) -> None:  # two records of other classes trade labels
    first = data["records"][0]
    other = next(r for r in data["records"] if r["classes"] != first["classes"])
    first["classes"], other["classes"] = other["classes"], first["classes"]


def _records_reversed(data: dict) -> None:  # reversed, shard fields kept in shard order
    shards = [r["shard"] for r in data["records"]]
    data["records"].reverse()
    for record, shard in zip(data["records"], shards, strict=True):
        record["shard"] = shard


def _num_classes_changed(data: dict) -> None:  # class_names still name 4 classes
    data["num_classes"] = 5


def _image_shape_changed(data: dict) -> None:  # grey, though the PNGs are RGB
    data["image_shape"] = data["image_shape"][:2] + [1]


REFUSED = [
    (_fewer_shards, r"train does not match its manifest train.manifest.json: num_records is 16 "
                    r"but its 1 listed shard\(s\) hold 8 \(on disk but not listed: "
                    r"train-00001.tfrecord\)"),
    (_labels_swapped, r"train-00000.tfrecord does not match its manifest train.manifest.json: "
                      r"record 0 \(set position 0\) has classes"),
    (_records_reversed, r"train-00000.tfrecord does not match its manifest train.manifest.json: "
                        r"record 0 \(set position 0\) has id"),
    (_num_classes_changed, r"does not match its manifest train.manifest.json: 4 class_names for "
                           r"num_classes 5"),
    (_image_shape_changed, r"train-00000.tfrecord does not match its manifest "
                           r"train.manifest.json: record '\S+' holds a \[12, 12, 3\] image, the "
                           r"manifest's image_shape is \[12, 12, 1\]"),
]


@pytest.mark.parametrize("edit,message", REFUSED, ids=[e.__name__[1:] for e, _ in REFUSED])
def test_an_edited_manifest_is_refused_on_open(stream_set, tmp_path, edit, message):
    data = edited_copy(stream_set, tmp_path / "data", edit)
    with pytest.raises(ManifestError, match=message) as refused:
        open_record_set(data, "train")
    assert REBUILD in str(refused.value)


def test_a_manifest_listing_fewer_shards_never_reaches_a_reader(stream_set, tmp_path):
    """The old code decoded 8 records into an np.empty array of 16 and trained on the rest."""
    data = edited_copy(stream_set, tmp_path / "data", _fewer_shards)
    with pytest.raises(ManifestError, match="num_records is 16"):
        read_manifest(manifest_path(data, "train"))


def _one_shard_dropped(data: dict) -> None:  # a smaller set that agrees with itself
    kept = data["shards"][0]["records"]
    data["shards"], data["records"], data["num_records"] = (
        data["shards"][:1], data["records"][:kept], kept)
    counts: dict[str, int] = {}
    for record in data["records"]:
        for c in record["classes"]:
            counts[str(c)] = counts.get(str(c), 0) + 1
    data["class_counts"] = counts


def _one_more_class(data: dict) -> None:
    data["num_classes"] = 5
    data["class_names"] = [*data["class_names"], "class_4"]


def _class_renamed(data: dict) -> None:
    data["class_names"] = ["cat", *data["class_names"][1:]]


@pytest.mark.parametrize("edit", [_one_shard_dropped, _one_more_class, _class_renamed])
def test_a_self_consistent_edit_is_another_set(stream_set, tmp_path, edit):
    data = edited_copy(stream_set, tmp_path / "data", edit)
    assert (open_record_set(data, "train").content_hash
            != open_record_set(stream_set, "train").content_hash)


def _samples(count: int) -> list[ClassificationSample]:
    return [ClassificationSample(image=np.full((4, 4, 3), 20 * i, np.uint8), label=i % 2,
                                 sample_id=f"s{i}") for i in range(count)]


def test_sets_differing_only_in_num_classes_have_different_identities(tmp_path):
    two = write_classification_set(tmp_path / "two", "train", _samples(6), num_classes=2,
                                   class_names=["a", "b"], source={"made": "here"})
    three = write_classification_set(tmp_path / "three", "train", _samples(6), num_classes=3,
                                     class_names=["a", "b", "c"], source={"made": "here"})
    assert [p.read_bytes() for p in read_manifest(two).shard_paths()] == [
        p.read_bytes() for p in read_manifest(three).shard_paths()]  # same shards
    assert read_manifest(two).content_hash != read_manifest(three).content_hash


def test_equal_data_made_elsewhere_is_one_set(tmp_path):
    """The identity leaves out `source` (paths, versions): equal content, equal identity."""
    one = write_classification_set(tmp_path / "one", "train", _samples(6), num_classes=2,
                                   source={"input": "/a/b"})
    two = write_classification_set(tmp_path / "two", "train", _samples(6), num_classes=2,
                                   source={"input": "/c/d"})
    assert read_manifest(one).content_hash == read_manifest(two).content_hash


@pytest.fixture(scope="module")
def segmentation_set(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("voc_like")
    generate_synthetic(out, size=24, num_train=6, num_val=2, records_per_shard=3)
    return out


def test_segmentation_num_classes_and_labels_enter_the_identity(segmentation_set, tmp_path):
    reference = open_record_set(segmentation_set, "train").content_hash
    more = edited_copy(segmentation_set, tmp_path / "more",
                       lambda data: data.update(num_classes=30))
    assert open_record_set(more, "train").content_hash != reference

    def drop_a_class(data: dict) -> None:  # the manifest says record 0 lacks one of its classes
        record = data["records"][0]
        data["class_counts"][str(record["classes"][-1])] -= 1
        record["classes"] = record["classes"][:-1]

    swapped = edited_copy(segmentation_set, tmp_path / "swapped", drop_a_class)
    message = (r"train-00000.tfrecord does not match its manifest train.manifest.json: record 0 "
               r".* has classes .*; rebuild it with `python -m continual.data.synthetic`")
    with pytest.raises(ManifestError, match=message):
        open_record_set(swapped, "train")


def test_a_converter_rebuilds_a_set_whose_manifest_was_edited(stream_set, tmp_path):
    """The fix the message names works: the converter sees the set as unusable and rewrites it."""
    data = edited_copy(stream_set, tmp_path / "data", _labels_swapped)
    summary = generate_stream_set(data, num_classes=4, size=12, train_per_class=4,
                                  test_per_class=2, run_length=2, records_per_shard=8)
    assert not summary["splits"]["train"]["skipped"]
    assert (open_record_set(data, "train").content_hash
            == open_record_set(stream_set, "train").content_hash)
