"""Class mapper: VOC class -> generator class on the synthetic set with the stand-in classifier."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from continual.data.classes import VOC_CLASSES
from continual.data.shards import open_record_set
from continual.data.synthetic import generate_synthetic
from continual.replay.class_mapper import (
    ClassMappingError,
    map_classes,
    read_mapping,
    write_mapping,
)
from continual.replay.hub_models import load_classifier
from continual.replay.standins import SYNTHETIC_CLASS_IDS, build_standin_classifier

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {VOC_CLASSES[voc_id]: label_id for voc_id, label_id in SYNTHETIC_CLASS_IDS.items()}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    generate_synthetic(out, size=48, num_train=120, num_val=1, seed=5)
    return out


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    return build_standin_classifier(tmp_path_factory.getbasetemp() / "standins" / "classifier")


@pytest.fixture(scope="module")
def mapping(classifier_dir, data_dir):
    return map_classes(load_classifier(str(classifier_dir)), open_record_set(data_dir, "train"),
                       batch_size=32)


def test_every_synthetic_class_maps_to_its_documented_id(mapping, data_dir):
    assert {name: entry["imagenet_class"] for name, entry in mapping.items()} == EXPECTED
    counts = open_record_set(data_dir, "train").class_counts()
    for name, entry in mapping.items():
        assert entry["voc_id"] == VOC_CLASSES.index(name) and entry["override"] is False
        assert entry["num_images"] == counts[entry["voc_id"]]
        assert entry["top5"][0] == [entry["imagenet_class"], entry["score"]]
        assert len(entry["top5"]) == 5


def test_background_slot_of_a_1001_way_classifier_is_dropped(tmp_path, data_dir, mapping):
    path = build_standin_classifier(tmp_path / "clf1001", background_slot=True)
    classifier = load_classifier(str(path))
    assert classifier.num_outputs == 1001
    manifest = open_record_set(data_dir, "train")
    aligned = map_classes(classifier, manifest, voc_classes=["dog", "train"])
    assert aligned["dog"]["imagenet_class"] == mapping["dog"]["imagenet_class"] == 207
    assert aligned["train"]["imagenet_class"] == 466
    with pytest.raises(ClassMappingError, match="1001 outputs.*background_slot"):
        map_classes(classifier, manifest, voc_classes=["dog"], background_slot=False)


def test_overrides_win_over_the_classifier(classifier_dir, data_dir):
    classifier = load_classifier(str(classifier_dir))
    manifest = open_record_set(data_dir, "train")
    result = map_classes(classifier, manifest, voc_classes=[15, 8], overrides={"person": 3})
    assert result["person"]["imagenet_class"] == 3 and result["person"]["override"] is True
    assert result["person"]["top5"][0][0] == 981  # what the classifier would have said
    assert result["cat"]["imagenet_class"] == 281 and result["cat"]["override"] is False
    with pytest.raises(ClassMappingError, match="'human' is not a VOC class"):
        map_classes(classifier, manifest, voc_classes=[8], overrides={"human": 3})
    with pytest.raises(ClassMappingError, match="'person' has imagenet_class 1000"):
        map_classes(classifier, manifest, voc_classes=[8], overrides={"person": 1000})


def test_write_read_round_trip(mapping, tmp_path):
    path = write_mapping(tmp_path / "sub" / "mapping.json", mapping)
    assert read_mapping(path, generator_classes=1000) == mapping
    assert json.loads(path.read_text())["sofa"]["imagenet_class"] == 831


@pytest.mark.parametrize("content, message", [
    ({"plane": {"imagenet_class": 404}}, "entry 'plane' is not a VOC class"),
    ({"dog": {"imagenet_class": 1000}}, r"entry 'dog' has imagenet_class 1000; .* 0\.\.999"),
    ({"dog": {"imagenet_class": "207"}}, "entry 'dog' has imagenet_class '207'"),
    ({"dog": {"voc_id": 3, "imagenet_class": 207}}, "'dog' has voc_id 3"),
    ({"dog": {"score": 1.0}}, "entry 'dog' has no \"imagenet_class\""),
])
def test_bad_mapping_file_names_the_file_and_the_entry(tmp_path, content, message):
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ClassMappingError, match=message) as err:
        read_mapping(path, generator_classes=1000)
    assert str(path) in str(err.value)


def test_cli_map_writes_the_mapping(classifier_dir, data_dir, tmp_path):
    out = tmp_path / "mapping.json"
    result = subprocess.run(
        [sys.executable, "gan/generate_gan.py", "map", "--classifier", str(classifier_dir),
         "--data", str(data_dir), "--classes", "aeroplane", "person", "--override",
         "person=42", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    written = read_mapping(out, generator_classes=1000)
    assert sorted(written) == ["aeroplane", "person"]
    assert written["aeroplane"]["imagenet_class"] == 404
    assert written["person"]["imagenet_class"] == 42 and written["person"]["override"] is True
    assert "mapping written to" in result.stdout
