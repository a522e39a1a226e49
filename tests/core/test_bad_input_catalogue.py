"""A catalogue of bad inputs, driven through the command lines as a user would type them.

Every case must end with exit code 2 and an `error: ...` naming the file, binding, flag or
artefact at fault; no artefact may be marked complete by the failed run and no temporary file
may be left behind. Cases cover gin, data, weights, TF-Hub handles, replay folders, a damaged
checkpoint store (segmentation and stream), stream experiments, every stream binding checked
before training (also under --dry_run), messages that name the thing at fault, the converters
and the other command-line tools. Planning cases run in-process and fail before any model
trains, so the catalogue stays small in time; two completed runs (one per plan kind) are made
once for the damaged-store cases. (A read-only folder
cannot be simulated when the tests run as root; a folder that is a file stands in for a disk
that refuses writes.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import main
from continual.data.classes import VOC_CLASSES

EXPERIMENT = "FINE_TUNING_DISJOINT_NO_MIX_10-10"
GAN_EXPERIMENT = "DISJOINT_10-10_gan"
WEB_EXPERIMENT = "DISJOINT_10-10_flickr"


@dataclasses.dataclass
class World:
    """Shared inputs made once: tiny data, stand-ins, a completed run, a stream set."""

    root: Path

    def seg(self, case: Path, *bindings: str, only: str = EXPERIMENT,
            workdir: Path | None = None) -> list[str]:
        params = [
            f"Suite.synthetic_data_dir = '{self.root / 'data'}'", "generate_synthetic.size = 32",
            "generate_synthetic.num_train = 90", "generate_synthetic.num_val = 30",
            f"Suite.replay_standins_dir = '{self.root / 'standins'}'",
            "prepare_replay_standins.size = 32", "prepare_replay_standins.web_per_class = 3",
            "prepare_replay_standins.web_size = 32",
            f"GanReplay.generator_handle = '{self.root / 'standins/generator'}'",
            f"GanReplay.classifier_handle = '{self.root / 'standins/classifier'}'",
            f"WebReplay.folder = '{self.root / 'standins/web'}'",
            f"TrainManager.data_dir = '{self.root / 'data'}'",
            f"TrainManager.checkpoint_dir = '{case / 'ckpt'}'",
            "TrainManager.train_image_size = 32", "TrainManager.eval_pad_to = 32",
            "TrainManager.batch_size = 4", "TrainManager.training_steps_per_class = 1",
            "TrainManager.training_steps_per_class_incremental = 1", *bindings]
        args = ["--gin_file", "config/demo.gin", "--workdir", str(workdir or case / "runs"),
                "--only", only]
        for param in params:
            args += ["--gin_param", param]
        return args

    def stream(self, case: Path, *bindings: str, gin_file="config/ports/baselines/demo.gin",
               only: str = "ER") -> list[str]:
        params = [f"Suite.stream_data_dir = '{self.root / 'stream'}'",
                  "generate_stream_set.num_classes = 4", "generate_stream_set.size = 16",
                  "generate_stream_set.train_per_class = 24",
                  "generate_stream_set.run_length = 4",
                  "generate_stream_set.test_per_class = 4",
                  f"StreamPlan.data_dir = '{self.root / 'stream'}'",
                  "class_incremental.num_tasks = 2",
                  f"TrainManager.checkpoint_dir = '{case / 'ckpt'}'", *bindings]
        args = ["--gin_file", gin_file, "--workdir", str(case / "runs"), "--only", only]
        for param in params:
            args += ["--gin_param", param]
        return args


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    world = World(tmp_path_factory.mktemp("world"))
    base = world.root / "base"
    assert main.main(world.seg(base)) == 0  # also makes the data and the stand-ins
    assert main.main(world.stream(world.root / "stream_base")) == 0
    return world


def copy_of_base(world: World, case: Path) -> Path:
    shutil.copytree(world.root / "base", case)
    return case


def rewrite_image_keeping_manifest(folder: Path, data: bytes) -> Path:
    """Replace a class folder's first image and update its manifest to agree (sha, size)."""
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = manifest["images"][0]
    (folder / entry["file"]).write_bytes(data)
    entry["sha256"] = hashlib.sha256(data).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    return folder / entry["file"]


def damaged_web_folder(world: World, case: Path, *, agreeing: bool) -> str:
    web = case / "web"
    shutil.copytree(world.root / "standins/web", web)
    folder = web / VOC_CLASSES[3]  # replayed in step 1 of 10-10
    if agreeing:
        bad = rewrite_image_keeping_manifest(folder, b"\xff\xd8\xff not a jpeg")
    else:
        bad = folder / json.loads((folder / "manifest.json").read_text())["images"][0]["file"]
        bad.write_bytes(bad.read_bytes()[:-20])
    return str(bad)


# Each case: (name, build(world, case_dir) -> (command, argv), what the message must name).
Case = tuple[str, Callable[[World, Path], tuple[str, list[str]]], Callable[[Path], str]]


def _gin(world, case, *bindings, **kwargs):
    return "main", world.seg(case, *bindings, **kwargs)


def _bad_gin_file(world, case):
    case.mkdir(parents=True)
    (case / "bad.gin").write_text("TrainManager.batch_size = 4\nTrainManager.seed = = 1\n")
    return "main", [*world.seg(case), "--gin_file", str(case / "bad.gin")]


def _unclosed_gin_file(world, case):
    case.mkdir(parents=True)
    (case / "open.gin").write_text("TrainManager.batch_size = 4\nSuite.note = ('a',\n")
    return "main", [*world.seg(case), "--gin_file", str(case / "open.gin")]


def _missing_include(world, case):
    case.mkdir(parents=True)
    (case / "inc.gin").write_text("include 'config/NOPE_INCLUDED.gin'\n")
    return "main", [*world.seg(case), "--gin_file", str(case / "inc.gin")]


def _missing(world, case, binding, value):
    return "main", world.seg(case, f"{binding} = '{value}'")


def tampered_copy(source: Path, data: Path) -> Path:
    """A copy of a record set whose first train shard is rewritten as a valid TFRecord file
    (correct CRCs) holding the same records in another order."""
    import tensorflow as tf

    shutil.copytree(source, data)
    shard = sorted(data.glob("train-*.tfrecord"))[0]
    records = [r.numpy() for r in tf.data.TFRecordDataset(str(shard))]
    with tf.io.TFRecordWriter(str(shard)) as writer:
        for record in [records[1], records[0], *records[2:]]:
            writer.write(record)
    return data


def _tampered_shard(world, case):
    data = tampered_copy(world.root / "data", case / "data")
    return "main", world.seg(case, f"TrainManager.data_dir = '{data}'",
                             "Suite.synthetic_data_dir = None")


def _data_copy(world, case, damage):
    data = case / "data"
    shutil.copytree(world.root / "data", data)
    damage(data)
    return "main", world.seg(case, f"TrainManager.data_dir = '{data}'",
                             "Suite.synthetic_data_dir = None")


def _pretrained(world, case, content: bytes | None, name="weights.h5"):
    case.mkdir(parents=True)
    path = case / name
    if content is not None:
        path.write_bytes(content)
    return "main", world.seg(case, f"TrainManager.pretrained_encoder = '{path}'")


def _wrong_shape_weights(world, case):
    import keras

    from continual.models.segmenter import build_encoder

    case.mkdir(parents=True)
    encoder = build_encoder("tiny", widths=(4, 4, 4))
    encoder.save_weights(str(case / "small.weights.h5"))
    keras.backend.clear_session()
    return "main", world.seg(case, f"TrainManager.pretrained_encoder = "
                                   f"'{case / 'small.weights.h5'}'")


def _store_damage(world, case, damage):
    copy_of_base(world, case)
    damage(case)
    return "main", world.seg(case)


def _empty_marker(case):
    sorted((case / "ckpt").rglob("COMPLETE.json"))[0].write_text("")


def _torn_marker(case):
    sorted((case / "ckpt/model_incremental").rglob("COMPLETE.json"))[0].write_text('{"kind": ')


def _truncated_weights(case):
    for data in sorted((case / "ckpt/model_step0").rglob("*.data-*")):
        data.write_bytes(data.read_bytes()[:100])
    shutil.rmtree(case / "ckpt/evaluation")  # so the evaluations read the damaged weights


def _bad_metrics_line(case):
    metrics = sorted((case / "runs").rglob("metrics.jsonl"))[0]
    metrics.write_text("{not json\n" + metrics.read_text())


def _stream(world, case, *bindings):
    return "main", world.stream(case, *bindings)


def _stream_tampered(world, case):
    data = tampered_copy(world.root / "stream", case / "stream")
    return "main", world.stream(case, f"StreamPlan.data_dir = '{data}'",
                                "Suite.stream_data_dir = None")


def _stream_store_damage(world, case, kind, damage):
    """A copy of the completed stream run with one `kind` artefact damaged by `damage(folder)`
    and its evaluation removed, so that the rerun reads the damaged state."""
    shutil.copytree(world.root / "stream_base", case)
    folder = sorted((case / "ckpt" / kind).iterdir())[0]
    for evaluation in sorted((case / "ckpt/stream_evaluation").iterdir()):
        inputs = json.loads((evaluation / "key_inputs.json").read_text())["inputs"]
        if inputs["model"] == folder.name:
            shutil.rmtree(evaluation)
    damage(folder)
    return "main", world.stream(case)


def _truncate_state(folder):
    for data in sorted((folder / "state").glob("state.data-*")):
        data.write_bytes(data.read_bytes()[: len(data.read_bytes()) // 2])


def _flip_state_bits(folder):
    for data in sorted((folder / "state").glob("state.data-*")):
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        data.write_bytes(bytes(raw))


def _state_index_gone(folder):
    (folder / "state/state.index").unlink()


def _folder_is_file(name):
    def damage(folder):
        if (folder / name).is_dir():
            shutil.rmtree(folder / name)
        (folder / name).write_text("a file")
    return damage


def _stream_artefact(kind):
    return lambda c: f"Delete the artefact folder {c / 'ckpt' / kind}"


def _stream_folder(kind):
    return lambda c: f"Delete the folder {c / 'ckpt' / kind}"


SSL_DEMO = "config/ports/continuous_ssl/demo.gin"
ER_FILE = "config/ports/baselines/ER.gin"


def _stream_dry(world, case, *bindings):
    return "main", [*world.stream(case, *bindings), "--dry_run"]


def _probe(world, case, *bindings, dry=False):
    """The continuous-SSL demo's single-pass run, whose evaluations are linear probes."""
    argv = world.stream(case, "class_sequential_runs.num_tasks = 2",
                        "ExperienceLoop.stream_batch_size = 8", *bindings, gin_file=SSL_DEMO,
                        only="SINGLE_PASS_seed1")
    return "main", [*argv, "--dry_run"] if dry else argv


def _seeds(world, case, seeds: str, dry=False):
    entry = f"[{{'file': '{ER_FILE}', 'name': 'ER', 'seeds': {seeds}}}]"
    argv = world.stream(case, f"Suite.experiments = {entry}", only="ER*")
    return "main", [*argv, "--dry_run"] if dry else argv


def _stream_manifest(world, case, edit):
    """A copy of the stream set whose train manifest `edit(manifest_dict)` changes."""
    data = case / "stream"
    shutil.copytree(world.root / "stream", data)
    path = data / "train.manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    return "main", world.stream(case, f"StreamPlan.data_dir = '{data}'",
                                "Suite.stream_data_dir = None")


def _stream_manifest_is_folder(world, case):
    data = case / "stream"
    shutil.copytree(world.root / "stream", data)
    (data / "test.manifest.json").unlink()
    (data / "test.manifest.json").mkdir()
    return "main", world.stream(case, f"StreamPlan.data_dir = '{data}'",
                                "Suite.stream_data_dir = None")


def _stream_output_is_folder(world, case, where):
    """A copy of the completed stream run in which a file it writes is a folder."""
    shutil.copytree(world.root / "stream_base", case)
    target = where(case)
    if target.is_file():
        target.unlink()
    target.mkdir(parents=True)
    (target / "keep").write_text("")
    return "main", world.stream(case)


def _evaluation_metrics(case):
    """metrics.json of one stream evaluation, made incomplete so that it is written again."""
    folder = sorted((case / "ckpt/stream_evaluation").iterdir())[0]
    (folder / "COMPLETE.json").unlink()
    return folder / "metrics.json"


def _idx_files(case: Path) -> tuple[str, str]:
    """A tiny valid IDX pair (4 grey 4x4 images, labels 0..3)."""
    import struct

    case.mkdir(parents=True, exist_ok=True)
    images, labels = case / "images-idx3-ubyte", case / "labels-idx1-ubyte"
    images.write_bytes(struct.pack(">IIII", 0x803, 4, 4, 4) + bytes(range(64)))
    labels.write_bytes(struct.pack(">II", 0x801, 4) + bytes([0, 1, 2, 3]))
    return str(images), str(labels)


def _idx(world, case, *argv, out=None):
    images, labels = _idx_files(case)
    return "idx", ["--images", images, "--labels", labels, "--split", "train",
                   "--out", str(out or case / "out"), *argv]


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header states width x height (no pixel data): PIL sizes it on open."""
    import struct
    import zlib

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + header
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(header)) + chunk
                     + struct.pack(">I", zlib.crc32(chunk)) + b"\0\0\0\0IEND\xaeB`\x82")


def _image_folder(world, case, *, bomb=False, out=None):
    """root/{train,test}/{a,b}/0.png of 4x4 grey images (train/a/0.png a bomb if asked)."""
    from PIL import Image

    root = case / "images"
    for split in ("train", "test"):
        for label in ("a", "b"):
            (root / split / label).mkdir(parents=True)
            Image.new("L", (4, 4), 7).save(root / split / label / "0.png")
    if bomb:
        _png_header_only(root / "train/a/0.png", 20000, 20000)
    return "image_folder", ["--root", str(root), "--out", str(out or case / "out")]


def _a_file(case: Path, name: str = "out") -> Path:
    case.mkdir(parents=True, exist_ok=True)
    (case / name).write_text("a file")
    return case / name


def _manifest_folder(case: Path, split: str) -> Path:
    (case / "out" / f"{split}.manifest.json").mkdir(parents=True)
    return case / "out"


def stream_set_without(world, data: Path, dropped: set[int]) -> Path:
    """A copy of the stream set whose test split holds no images of the `dropped` classes."""
    from continual.data.manifest import read_manifest
    from continual.data.records import decode_record
    from continual.data.shards import RecordWriter, iterate_serialized

    shutil.copytree(world.root / "stream", data)
    test = read_manifest(data / "test.manifest.json")
    header = {k: test.data[k] for k in ("task", "num_classes", "class_names", "image_shape")}
    records = [decode_record(serialized, where, test.num_classes)
               for where, serialized in iterate_serialized(test)]
    for old in data.glob("test*"):
        old.unlink()
    with RecordWriter(data, "test", source={"dropped": sorted(dropped)}, header=header) as out:
        for record in records:
            if not set(record.classes) & dropped:
                out.write(record)
    return data


ORDERED_TASKS = ("class_incremental.class_order = [0, 1, 2, 3]",
                 "class_incremental.shuffle_classes = False")


def _untested_task(world, case):
    data = stream_set_without(world, case / "stream", {0, 1})
    return "main", world.stream(case, f"StreamPlan.data_dir = '{data}'",
                                "Suite.stream_data_dir = None", *ORDERED_TASKS)


def _workdir_is_file(world, case):
    case.mkdir(parents=True)
    (case / "runs").write_text("a file")
    return "main", world.seg(case)


def _store_is_file(world, case):
    case.mkdir(parents=True)
    (case / "ckpt").write_text("a file")
    return "main", world.seg(case)


def _web(world, case, agreeing):
    damaged_web_folder(world, case, agreeing=agreeing)
    return "main", world.seg(case, f"WebReplay.folder = '{case / 'web'}'", only=WEB_EXPERIMENT)


def _converter(module, *argv):
    return module, list(argv)


def _gan_cli(world, case, *argv):
    case.mkdir(parents=True, exist_ok=True)
    return "gan", [*argv, "--out", str(case / "gan")]


CASES: list[Case] = [
    # gin
    ("gin syntax in a file", _bad_gin_file, lambda c: "bad.gin, line 2"),
    ("gin syntax in --gin_param", lambda w, c: _gin(w, c, "TrainManager.seed = = 1"),
     lambda c: "--gin_param"),
    ("gin bracket left open in a file", _unclosed_gin_file, lambda c: "open.gin"),
    ("gin bracket left open in --gin_param", lambda w, c: _gin(w, c, "TrainManager.seed = ("),
     lambda c: "--gin_param 'TrainManager.seed = ('"),
    ("gin include of a missing file", _missing_include, lambda c: "NOPE_INCLUDED.gin"),
    ("unknown argument", lambda w, c: _gin(w, c, "TrainManager.interleave_ratio_olf = 2"),
     lambda c: "interleave_ratio_olf"),
    ("unknown configurable", lambda w, c: _gin(w, c, "TrainManagr.seed = 1"),
     lambda c: "TrainManagr"),
    ("missing gin file", lambda w, c: ("main", [*w.seg(c), "--gin_file", "config/NOPE.gin"]),
     lambda c: "config/NOPE.gin"),
    ("batch size a string", lambda w, c: _gin(w, c, "TrainManager.batch_size = 'four'"),
     lambda c: "batch_size"),
    ("negative learning rate", lambda w, c: _gin(w, c, "TrainManager.lr_initial_value = -1.0"),
     lambda c: "lr_initial_value"),
    ("evaluation batch 0", lambda w, c: _gin(w, c, "TrainManager.eval_batch_size = 0"),
     lambda c: "eval_batch_size"),
    ("checkpoint_every 0", lambda w, c: _gin(w, c, "LoopSettings.checkpoint_every = 0"),
     lambda c: "LoopSettings.checkpoint_every"),
    ("log_every negative", lambda w, c: _gin(w, c, "LoopSettings.log_every = -5"),
     lambda c: "LoopSettings.log_every"),
    ("ASPP rates not a list", lambda w, c: _gin(w, c, "aspp_v2.rates = 3"),
     lambda c: "aspp_v2.rates = 3"),
    ("unknown backbone", lambda w, c: _gin(w, c, "build_encoder.backbone = 'resnet7'"),
     lambda c: "resnet7"),
    ("unknown test type", lambda w, c: _gin(w, c, "Suite.tests = ['15-6']", only="*"),
     lambda c: "15-6"),
    ("unknown replay source", lambda w, c: _gin(w, c, "Suite.sources = ['dalle']", only="*"),
     lambda c: "dalle"),
    ("unsupported precision", lambda w, c: _gin(w, c, "TrainManager.mixed_precision = 'fp8'"),
     lambda c: "mixed_precision"),
    ("--only matches nothing", lambda w, c: _gin(w, c, only="NO_SUCH_*"),
     lambda c: "NO_SUCH_*"),
    ("refused binding", lambda w, c: _gin(w, c, "train_stream.crop_size = 64"),
     lambda c: "TrainManager.train_image_size"),
    # data
    ("missing data folder", lambda w, c: _missing(w, c, "TrainManager.data_dir", c / "none"),
     lambda c: "none/train.manifest.json"),
    ("tampered shard, valid CRCs", _tampered_shard, lambda c: "does not match its manifest"),
    ("manifest not JSON", lambda w, c: _data_copy(
        w, c, lambda d: (d / "val.manifest.json").write_text("{")), lambda c: "val.manifest"),
    ("shard missing", lambda w, c: _data_copy(
        w, c, lambda d: sorted(d.glob("val-*.tfrecord"))[0].unlink()), lambda c: "val-0000"),
    # weights
    ("pretrained path missing", lambda w, c: _pretrained(w, c, None),
     lambda c: "TrainManager.pretrained_encoder"),
    ("pretrained not HDF5", lambda w, c: _pretrained(w, c, b"junk"),
     lambda c: "TrainManager.pretrained_encoder"),
    ("pretrained wrong shape", _wrong_shape_weights, lambda c: "small.weights.h5"),
    # TF-Hub handles
    ("GAN handle dead", lambda w, c: _gin(w, c, f"GanReplay.generator_handle = '{c / 'gone'}'",
                                          only=GAN_EXPERIMENT),
     lambda c: "GanReplay.generator_handle"),
    ("GAN handle is a classifier", lambda w, c: _gin(
        w, c, f"GanReplay.generator_handle = '{w.root / 'standins/classifier'}'",
        only=GAN_EXPERIMENT), lambda c: "GanReplay.generator_handle"),
    ("classifier handle is a GAN", lambda w, c: _gin(
        w, c, f"GanReplay.classifier_handle = '{w.root / 'standins/generator'}'",
        only=GAN_EXPERIMENT), lambda c: "GanReplay.classifier_handle"),
    # replay folders
    ("web folder missing", lambda w, c: _gin(w, c, f"WebReplay.folder = '{c / 'nowhere'}'",
                                             only=WEB_EXPERIMENT), lambda c: "nowhere"),
    ("web image does not decode, manifest agrees", lambda w, c: _web(w, c, True),
     lambda c: "does not decode"),
    ("web image changed", lambda w, c: _web(w, c, False), lambda c: "does not match its sha256"),
    # the checkpoint store
    ("empty COMPLETE.json", lambda w, c: _store_damage(w, c, _empty_marker),
     lambda c: "COMPLETE.json is damaged"),
    ("torn COMPLETE.json", lambda w, c: _store_damage(w, c, _torn_marker),
     lambda c: "COMPLETE.json is damaged"),
    ("truncated weights in a complete artefact", lambda w, c: _store_damage(
        w, c, _truncated_weights), lambda c: "model_step0"),
    ("bad line in metrics.jsonl", lambda w, c: _store_damage(w, c, _bad_metrics_line),
     lambda c: "metrics.jsonl, line 1"),
    ("--workdir is a file", _workdir_is_file, lambda c: "--workdir"),
    ("checkpoint dir is a file", _store_is_file, lambda c: str(c / "ckpt")),
    # stream experiments
    ("stream data missing", lambda w, c: _stream(
        w, c, f"StreamPlan.data_dir = '{c / 'none'}'", "Suite.stream_data_dir = None"),
     lambda c: "none/train.manifest.json"),
    ("stream batch 0", lambda w, c: _stream(w, c, "ExperienceLoop.stream_batch_size = 0"),
     lambda c: "stream_batch_size"),
    ("buffer capacity negative", lambda w, c: _stream(w, c, "EpisodicBuffer.capacity = -1"),
     lambda c: "capacity"),
    ("unknown classifier", lambda w, c: _stream(w, c, "build_classifier.name = 'vgg99'"),
     lambda c: "vgg99"),
    ("stream shard tampered", _stream_tampered, lambda c: "does not match its manifest"),
    # a damaged stream checkpoint store
    ("stream experience state truncated", lambda w, c: _stream_store_damage(
        w, c, "stream_experience", _truncate_state), _stream_artefact("stream_experience")),
    ("stream experience state bit-flipped", lambda w, c: _stream_store_damage(
        w, c, "stream_experience", _flip_state_bits), _stream_artefact("stream_experience")),
    ("stream experience state index gone", lambda w, c: _stream_store_damage(
        w, c, "stream_experience", _state_index_gone), _stream_artefact("stream_experience")),
    ("stream init state truncated", lambda w, c: _stream_store_damage(
        w, c, "stream_init", _truncate_state), _stream_artefact("stream_init")),
    ("stream experience 'state' is a file", lambda w, c: _stream_store_damage(
        w, c, "stream_experience", _folder_is_file("state")), _stream_folder("stream_experience")),
    ("stream experience 'ckpt' is a file", lambda w, c: _stream_store_damage(
        w, c, "stream_experience", _folder_is_file("ckpt")), _stream_folder("stream_experience")),
    ("stream experience 'tensorboard' is a file", lambda w, c: _stream_store_damage(
        w, c, "stream_experience", _folder_is_file("tensorboard")),
     _stream_folder("stream_experience")),
    ("stream init 'state' is a file", lambda w, c: _stream_store_damage(
        w, c, "stream_init", _folder_is_file("state")), _stream_folder("stream_init")),
    # other command-line tools
    ("generate_gan --per_class 0", lambda w, c: _gan_cli(w, c, "--per_class", "0"),
     lambda c: "--per_class"),
    ("generate_gan class name without mapping", lambda w, c: _gan_cli(
        w, c, "--handle", str(w.root / "standins/generator"), "--classes", "dog"),
     lambda c: "--mapping"),
    ("generate_gan dead handle", lambda w, c: _gan_cli(
        w, c, "--handle", str(c / "gone"), "--classes", "3"), lambda c: "gone"),
    ("voc converter, no VOC folder", lambda w, c: _converter(
        "voc", "--voc_root", str(c / "VOC2012"), "--out", str(c / "out")), lambda c: "VOC2012"),
    ("original archive converter, no archive", lambda w, c: _converter(
        "recall_original", "--data", str(c / "archive"), "--out", str(c / "out")),
     lambda c: "archive"),
]

# Every binding checked before training (issue 24, item 2), in a real run and a dry run.
STREAM_BINDING_CASES: list[Case] = [
    ("linear probe epochs 0", lambda w, c: _probe(w, c, "LinearProbe.epochs = 0"),
     lambda c: "LinearProbe.epochs"),
    ("linear probe batch 0", lambda w, c: _probe(w, c, "LinearProbe.batch_size = 0"),
     lambda c: "LinearProbe.batch_size"),
    ("linear probe negative learning rate", lambda w, c: _probe(
        w, c, "LinearProbe.learning_rate = -1.0"), lambda c: "LinearProbe.learning_rate"),
    ("linear probe epochs 0, dry run", lambda w, c: _probe(
        w, c, "LinearProbe.epochs = 0", dry=True), lambda c: "LinearProbe.epochs"),
    ("linear probe epochs a float", lambda w, c: _probe(w, c, "LinearProbe.epochs = 2.5"),
     lambda c: "LinearProbe.epochs"),
    ("buffer capacity a fraction", lambda w, c: _stream(w, c, "EpisodicBuffer.capacity = 20.5"),
     lambda c: "EpisodicBuffer.capacity = 20.5"),
    ("buffer capacity a fraction, dry run", lambda w, c: _stream_dry(
        w, c, "EpisodicBuffer.capacity = 20.5"), lambda c: "EpisodicBuffer.capacity = 20.5"),
    ("buffer capacity below the classes", lambda w, c: _stream(
        w, c, "EpisodicBuffer.capacity = 2"), lambda c: "EpisodicBuffer.capacity"),
    ("buffer policy unknown", lambda w, c: _stream(w, c, "EpisodicBuffer.policy = 'lifo'"),
     lambda c: "lifo"),
    ("buffer sampler unknown", lambda w, c: _stream(w, c, "EpisodicBuffer.sampler = 'any'"),
     lambda c: "any"),
    ("shuffle_classes a string", lambda w, c: _stream(
        w, c, "class_incremental.shuffle_classes = 'no'"),
     lambda c: "class_incremental.shuffle_classes = 'no'"),
    ("shuffle_classes a string, dry run", lambda w, c: _stream_dry(
        w, c, "class_incremental.shuffle_classes = 'no'"),
     lambda c: "class_incremental.shuffle_classes = 'no'"),
    ("num_tasks 0", lambda w, c: _stream(w, c, "class_incremental.num_tasks = 0"),
     lambda c: "num_tasks"),
    ("more tasks than classes", lambda w, c: _stream(w, c, "class_incremental.num_tasks = 9"),
     lambda c: "num_tasks"),
    ("num_tasks a float", lambda w, c: _stream(w, c, "class_incremental.num_tasks = 2.0"),
     lambda c: "class_incremental.num_tasks"),
    ("seed a fraction", lambda w, c: _stream(w, c, "TrainManager.seed = 1.7"),
     lambda c: "TrainManager.seed"),
    ("seed True", lambda w, c: _stream(w, c, "TrainManager.seed = True"),
     lambda c: "TrainManager.seed"),
    ("seed negative", lambda w, c: _stream(w, c, "TrainManager.seed = -1"),
     lambda c: "TrainManager.seed"),
    ("suite seeds [1.7]", lambda w, c: _seeds(w, c, "[1.7]"), lambda c: "'ER': seed"),
    ("suite seeds [True]", lambda w, c: _seeds(w, c, "[True]"), lambda c: "'ER': seed"),
    ("suite seeds [1.7], dry run", lambda w, c: _seeds(w, c, "[1.7]", dry=True),
     lambda c: "'ER': seed"),
    ("suite seeds not a list", lambda w, c: _seeds(w, c, "3"), lambda c: "'seeds'"),
    ("checkpoint_dir empty", lambda w, c: _stream(w, c, "TrainManager.checkpoint_dir = ''"),
     lambda c: "TrainManager.checkpoint_dir"),
    ("checkpoint_dir empty, dry run", lambda w, c: _stream_dry(
        w, c, "TrainManager.checkpoint_dir = ''"), lambda c: "TrainManager.checkpoint_dir"),
    ("replay batch 0", lambda w, c: _stream(w, c, "ExperienceLoop.replay_batch_size = 0"),
     lambda c: "ExperienceLoop.replay_batch_size"),
    ("replay batch above the capacity", lambda w, c: _stream(
        w, c, "ExperienceLoop.replay_batch_size = 300"), lambda c: "replay_batch_size"),
    ("checkpoint_every a fraction", lambda w, c: _stream(
        w, c, "ExperienceLoop.checkpoint_every = 2.5"), lambda c: "checkpoint_every"),
    ("stream evaluation batch 0", lambda w, c: _stream(w, c, "StreamPlan.eval_batch_size = 0"),
     lambda c: "StreamPlan.eval_batch_size"),
    ("top_k above the classes", lambda w, c: _stream(w, c, "StreamPlan.top_k = 99"),
     lambda c: "StreamPlan.top_k"),
    ("evaluation kind unknown", lambda w, c: _stream(
        w, c, "StreamPlan.evaluation_kind = 'probe'"), lambda c: "StreamPlan.evaluation_kind"),
    ("accuracy rule unknown", lambda w, c: _stream(w, c, "StreamPlan.accuracy_rule = 'best'"),
     lambda c: "accuracy_rule"),
    ("evaluate_random_init a string", lambda w, c: _stream(
        w, c, "StreamPlan.evaluate_random_init = 'yes'"),
     lambda c: "StreamPlan.evaluate_random_init"),
    ("stream precision unknown", lambda w, c: _stream(
        w, c, "TrainManager.mixed_precision = 'fp8'"), lambda c: "TrainManager.mixed_precision"),
    ("ER epochs 0", lambda w, c: _stream(w, c, "ExperienceReplay.epochs = 0"),
     lambda c: "epochs"),
    ("classifier name a number", lambda w, c: _stream(w, c, "build_classifier.name = 5"),
     lambda c: "build_classifier.name"),
    ("convnet width 0", lambda w, c: _stream(w, c, "tiny_convnet_backbone.widths = (0, 8, 8)"),
     lambda c: "tiny_convnet_backbone.widths"),
    ("a task without test images", _untested_task,
     lambda c: "task 0 of scenario 'class_incremental' (classes 0 (class_0), 1 (class_1))"),
    ("stream train split unknown", lambda w, c: _stream(w, c, "StreamPlan.train_split = 'trn'"),
     lambda c: "trn.manifest.json"),
]

# Messages name the thing at fault, never Python's own text (issue 24, item 3).
MESSAGE_CASES: list[Case] = [
    ("buffer capacity a string", lambda w, c: _stream(w, c, "EpisodicBuffer.capacity = '100'"),
     lambda c: "EpisodicBuffer.capacity = '100'"),
    ("scenario a string", lambda w, c: _stream(
        w, c, "StreamPlan.scenario = 'class_incremental'"), lambda c: "StreamPlan.scenario"),
    ("method a string", lambda w, c: _stream(w, c, "StreamPlan.method = 'ExperienceReplay'"),
     lambda c: "StreamPlan.method"),
    ("method is a buffer", lambda w, c: _stream(w, c, "StreamPlan.method = @EpisodicBuffer"),
     lambda c: "StreamPlan.method"),
    ("buffer is a method", lambda w, c: _stream(w, c, "StreamPlan.buffer = @FineTuning"),
     lambda c: "StreamPlan.buffer"),
    ("scenario is a buffer", lambda w, c: _stream(w, c, "StreamPlan.scenario = @EpisodicBuffer"),
     lambda c: "StreamPlan.scenario"),
    ("seed above 2**32 - 1", lambda w, c: _stream(w, c, "TrainManager.seed = 4294967296"),
     lambda c: "TrainManager.seed"),
    ("suite seed above 2**32 - 1", lambda w, c: _seeds(w, c, "[4294967296]"),
     lambda c: "'ER': seed"),
    ("suite seeds ['one']", lambda w, c: _seeds(w, c, "['one']"), lambda c: "'ER': seed"),
    ("convnet stride 0", lambda w, c: _stream(w, c, "tiny_convnet_backbone.strides = (0, 2, 2)"),
     lambda c: "tiny_convnet_backbone.strides"),
    ("Suite.experiments a string", lambda w, c: _stream(
        w, c, f"Suite.experiments = '{ER_FILE}'"), lambda c: "Suite.experiments"),
    ("Suite.tests a string", lambda w, c: _gin(w, c, "Suite.tests = '10-10'", only="*"),
     lambda c: "Suite.tests"),
    ("manifest num_classes a word", lambda w, c: _stream_manifest(
        w, c, lambda m: m.update(num_classes="four")), lambda c: "num_classes is 'four'"),
    ("manifest image_shape of words", lambda w, c: _stream_manifest(
        w, c, lambda m: m.update(image_shape=["16", "16", "3"])), lambda c: "image_shape"),
    ("manifest num_records negative", lambda w, c: _stream_manifest(
        w, c, lambda m: m.update(num_records=-1)), lambda c: "num_records"),
    ("manifest a list", lambda w, c: _stream_manifest(w, c, lambda m: m.clear()),
     lambda c: "train.manifest.json"),
    ("manifest path is a folder", _stream_manifest_is_folder,
     lambda c: str(c / "stream/test.manifest.json")),
    ("summary.csv is a folder", lambda w, c: _stream_output_is_folder(
        w, c, lambda case: case / "runs/summary.csv"), lambda c: str(c / "runs/summary.csv")),
    ("summary.md is a folder", lambda w, c: _stream_output_is_folder(
        w, c, lambda case: case / "runs/summary.md"), lambda c: str(c / "runs/summary.md")),
    ("metrics.json is a folder", lambda w, c: _stream_output_is_folder(
        w, c, _evaluation_metrics), lambda c: "metrics.json is a folder"),
]

# The converters: one error path, split names kept inside --out, PIL's size limit (item 4).
CONVERTER_CASES: list[Case] = [
    ("idx --out is a file", lambda w, c: _idx(w, c, out=_a_file(c)), lambda c: "--out"),
    ("idx --split escapes --out", lambda w, c: _idx(w, c, "--split", "../escaped/train"),
     lambda c: "--split '../escaped/train'"),
    ("idx --split absolute", lambda w, c: _idx(w, c, "--split", "/tmp/train"),
     lambda c: "--split '/tmp/train'"),
    ("idx --split hidden", lambda w, c: _idx(w, c, "--split", ".train"),
     lambda c: "--split '.train'"),
    ("idx images missing", lambda w, c: ("idx", [
        "--images", str(c / "none"), "--labels", str(c / "none2"), "--split", "train",
        "--out", str(c / "out")]), lambda c: str(c / "none")),
    ("idx more names than classes", lambda w, c: _idx(
        w, c, "--num_classes", "4", "--class_names", "a,b"), lambda c: "--class_names"),
    ("idx manifest path is a folder", lambda w, c: _idx(w, c, out=_manifest_folder(
        c, "train")), lambda c: "train.manifest.json"),
    ("image_folder --out is a file", lambda w, c: _image_folder(w, c, out=_a_file(c)),
     lambda c: "--out"),
    ("image_folder decompression bomb", lambda w, c: _image_folder(w, c, bomb=True),
     lambda c: "train/a/0.png: Image size (400000000 pixels)"),
    ("image_folder manifest path is a folder", lambda w, c: _image_folder(
        w, c, out=_manifest_folder(c, "test")), lambda c: "test.manifest.json"),
    ("image_folder root missing", lambda w, c: ("image_folder", [
        "--root", str(c / "nowhere"), "--out", str(c / "out")]), lambda c: "nowhere"),
    ("cifar --root holds nothing", lambda w, c: ("cifar", [
        "--root", str(_a_file(c, "x").parent), "--out", str(c / "out")]),
     lambda c: "no CIFAR data found"),
    ("synthetic_stream --out is a file", lambda w, c: ("synthetic_stream", [
        "--out", str(_a_file(c)), "--num_classes", "4", "--size", "16",
        "--train_per_class", "24", "--test_per_class", "4", "--run_length", "4"]),
     lambda c: "--out"),
    ("synthetic_stream 2 channels", lambda w, c: ("synthetic_stream", [
        "--out", str(c / "out"), "--channels", "2"]), lambda c: "channels"),
    ("sslad root missing", lambda w, c: ("sslad", [
        "--root", str(c / "SSLAD-2D"), "--out", str(c / "out")]), lambda c: "SSLAD-2D"),
]

CASES = CASES + STREAM_BINDING_CASES + MESSAGE_CASES + CONVERTER_CASES


def run_command(command: str, argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    if command == "main":
        code = main.main(argv)
    elif command == "gan":
        from tests.replay.test_gan import _cli_module

        with pytest.raises(SystemExit) as stop:
            _cli_module().main(argv)
        code = stop.value.code
    else:
        import importlib

        module = importlib.import_module(f"continual.data.{command}")
        code = module.main(argv)
    return code, capsys.readouterr().err


def complete_markers(case: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in sorted(case.rglob("COMPLETE.json"))}


@pytest.mark.parametrize("name,build,names", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_an_error_naming_it(world, tmp_path, capsys, name, build, names):
    case = tmp_path / "case"
    command, argv = build(world, case)
    before = complete_markers(case)
    code, err = run_command(command, argv, capsys)
    assert code == 2, err[-2000:]
    assert "error:" in err and "Traceback" not in err, err[-2000:]
    assert names(case) in err, err[-2000:]
    assert complete_markers(case) == before  # nothing newly marked complete
    assert not [p for p in case.rglob("*") if ".tmp-" in p.name]  # nothing half-written


def test_the_catalogue_holds_at_least_a_hundred_cases():
    assert len(CASES) >= 100 and len({c[0] for c in CASES}) == len(CASES)


def test_a_class_without_test_images_is_warned_about_at_planning(world, tmp_path, capsys):
    """Issue 24, item 5: a trained class missing from the test split is named before training
    (its per-class accuracy would be null without a word)."""
    from continual.plans.test_coverage import UntestedClassesWarning

    data = stream_set_without(world, tmp_path / "stream", {2})
    argv = world.stream(tmp_path, f"StreamPlan.data_dir = '{data}'",
                        "Suite.stream_data_dir = None", *ORDERED_TASKS)
    with pytest.warns(UntestedClassesWarning, match=r"no test images of classes 2 \(class_2\)"):
        assert main.main([*argv, "--dry_run"]) == 0
