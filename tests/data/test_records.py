import dataclasses
import io
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from continual.data.manifest import ManifestError, read_manifest
from continual.data.records import Record, RecordError, decode_record, encode_record, label_classes
from continual.data.shards import RecordWriter, iterate_records, load_serialized, open_record_set


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _record(i: int, classes=(0, 3)) -> Record:
    label = np.full((4, 5), classes[0], np.uint8)
    label[0, 0] = classes[-1]
    return Record(image=_png(np.zeros((4, 5, 3), np.uint8)), label=_png(label),
                  image_id=f"img_{i:03d}", height=4, width=5, classes=label_classes(label))


def test_round_trip_and_manifest(tmp_path):
    with RecordWriter(tmp_path, "train", records_per_shard=2, source={"made": "test"}) as w:
        for i in range(5):
            w.write(_record(i))
    manifest = open_record_set(tmp_path, "train")
    assert manifest.num_records == 5
    assert [p.name for p in manifest.shard_paths()] == [
        "train-00000.tfrecord", "train-00001.tfrecord", "train-00002.tfrecord"]
    assert manifest.class_counts() == {0: 5, 3: 5}
    assert manifest.source == {"made": "test"}
    manifest.verify_shards()
    records = list(iterate_records(manifest))
    assert [r.image_id for r in records] == [f"img_{i:03d}" for i in range(5)]
    assert records[0].classes == (0, 3)
    assert len(load_serialized(manifest)) == 5
    assert not list(tmp_path.glob(".*tmp*"))


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with RecordWriter(tmp_path, "train", records_per_shard=1) as w:
            w.write(_record(0))
            w.write(_record(1))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_duplicate_id_and_empty_set_are_errors(tmp_path):
    with pytest.raises(RecordError, match="duplicate image id 'img_000'"):
        with RecordWriter(tmp_path, "train") as w:
            w.write(_record(0))
            w.write(_record(0))
    with pytest.raises(RecordError, match="no records were written"):
        with RecordWriter(tmp_path, "val"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_corrupt_shard_named_in_error(tmp_path):
    with RecordWriter(tmp_path, "train", records_per_shard=10) as w:
        for i in range(3):
            w.write(_record(i))
    manifest = open_record_set(tmp_path, "train")
    shard = manifest.shard_paths()[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ManifestError, match="train-00000.tfrecord does not match its manifest"):
        manifest.verify_shards()
    with pytest.raises(RecordError, match=r"train-00000.tfrecord record \d"):
        load_serialized(manifest)


def test_bad_record_and_manifest_messages(tmp_path):
    with pytest.raises(RecordError, match="here.tfrecord record 7: not a tf.train.Example"):
        decode_record(b"\xff\xff\xff", "here.tfrecord record 7")
    bad = Record(image=b"x", label=None, image_id="a", height=1, width=1, classes=(37,))
    with pytest.raises(RecordError, match=r"'classes' holds \[37\]"):
        decode_record(encode_record(bad), "f record 0")
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(tmp_path / "nothing.manifest.json")
    (tmp_path / "broken.manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="broken.manifest.json is not valid JSON"):
        read_manifest(tmp_path / "broken.manifest.json")
    (tmp_path / "old.manifest.json").write_text(json.dumps({"name": "old"}))
    with pytest.raises(ManifestError, match="not a recall-records/1 manifest"):
        read_manifest(tmp_path / "old.manifest.json")


def test_unlabelled_record_round_trip():
    rec = Record(image=b"jpeg", label=None, image_id="gan_0001", height=8, width=8)
    back = decode_record(encode_record(rec), "x")
    assert back.label is None and back.image_id == "gan_0001" and back.classes == ()


def test_serialisation_is_identical_across_processes():
    """Shard hashes key every artefact, so two processes must write the same bytes."""
    import subprocess
    import sys

    code = ("import hashlib; from continual.data.records import Record, encode_record; "
            "r = Record(b'img', b'lbl', 'a', 3, 4, (0, 5, 7)); "
            "print(hashlib.sha256(encode_record(r)).hexdigest())")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, env={**__import__("os").environ,
                                               "PYTHONHASHSEED": str(seed)}).stdout
               for seed in (1, 2, 3)}
    assert len(outputs) == 1


def test_a_tampered_shard_with_valid_crcs_is_refused_when_the_set_is_opened(tmp_path):
    with RecordWriter(tmp_path, "train", records_per_shard=10) as w:
        for i in range(3):
            w.write(_record(i))
    shard = open_record_set(tmp_path, "train").shard_paths()[0]
    with tf.io.TFRecordWriter(str(shard)) as writer:  # same ids, other content, valid CRCs
        for i in range(3):
            tampered = dataclasses.replace(_record(i), classes=(1,) if i else (2,))
            writer.write(encode_record(tampered))
    with pytest.raises(ManifestError, match="does not match its manifest .* rebuild it with"):
        open_record_set(tmp_path, "train")
