"""GAN replay generation: files, manifest, determinism, resume, and the generate CLI."""

import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from continual.replay.class_mapper import write_mapping
from continual.replay.folders import read_class_manifest
from continual.replay.gan import class_noise, generate_class
from continual.replay.hub_models import load_generator
from continual.replay.standins import build_standin_generator

REPO = Path(__file__).resolve().parents[2]
SIZE = 32


@pytest.fixture(scope="module")
def generator_dir(tmp_path_factory):
    return build_standin_generator(tmp_path_factory.getbasetemp() / "standins" / "generator",
                                   size=SIZE)


@pytest.fixture(scope="module")
def generator(generator_dir):
    return load_generator(str(generator_dir))


def _sha256s(folder):
    return [entry["sha256"] for entry in read_class_manifest(folder)["images"]]


def test_writes_count_jpegs_and_the_manifest(generator, tmp_path):
    folder = generate_class(generator, imagenet_class=404, count=7, out_folder=tmp_path / "c",
                            batch_size=3, seed=2, voc_class="aeroplane")
    files = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert files == [f"{i:05d}.jpg" for i in range(7)] + ["manifest.json"]
    manifest = read_class_manifest(folder)
    assert (manifest["class"], manifest["source"], manifest["count"]) == ("aeroplane", "gan", 7)
    assert manifest["parameters"] == {"handle": generator.handle, "imagenet_class": 404,
                                      "truncation": 1.0, "seed": 2, "count": 7,
                                      "batch_size": 3}
    with Image.open(io.BytesIO((folder / "00006.jpg").read_bytes())) as image:
        assert (image.format, image.size, image.mode) == ("JPEG", (SIZE, SIZE), "RGB")


def test_same_seed_same_files_other_seed_other_files(generator, tmp_path):
    runs = [generate_class(generator, imagenet_class=207, count=4, out_folder=tmp_path / name,
                           seed=seed) for name, seed in (("a", 0), ("b", 0), ("c", 1))]
    assert _sha256s(runs[0]) == _sha256s(runs[1])
    assert not set(_sha256s(runs[0])) & set(_sha256s(runs[2]))
    assert read_class_manifest(runs[0])["class"] == "0207"  # no VOC name: the 4-digit id


def test_resume_regenerates_identical_files_and_keeps_the_rest(generator, tmp_path):
    folder = generate_class(generator, imagenet_class=281, count=10, out_folder=tmp_path / "cat",
                            batch_size=4, voc_class="cat")
    expected = _sha256s(folder)
    kept = folder / "00001.jpg"
    kept_mtime = kept.stat().st_mtime_ns
    for name in ("manifest.json", "00005.jpg", "00009.jpg"):  # an interrupted run
        (folder / name).unlink()
    generate_class(generator, imagenet_class=281, count=10, out_folder=folder, batch_size=4,
                   voc_class="cat")
    assert _sha256s(folder) == expected and kept.stat().st_mtime_ns == kept_mtime


def test_complete_class_is_skipped_and_changed_parameters_redo_it(generator, tmp_path, capsys):
    folder = generate_class(generator, imagenet_class=15, count=3, out_folder=tmp_path / "bird")
    mtime = (folder / "manifest.json").stat().st_mtime_ns
    generate_class(generator, imagenet_class=15, count=3, out_folder=folder)
    assert "skipped" in capsys.readouterr().out
    assert (folder / "manifest.json").stat().st_mtime_ns == mtime
    generate_class(generator, imagenet_class=15, count=2, out_folder=folder, truncation=0.5)
    manifest = read_class_manifest(folder)
    assert manifest["count"] == 2 and manifest["parameters"]["truncation"] == 0.5
    assert not (folder / "00002.jpg").exists()


def test_noise_is_a_truncated_normal_scaled_by_truncation():
    z = class_noise(128, 64, seed=0, imagenet_class=3, batch=1, truncation=0.5).numpy()
    assert np.abs(z).max() <= 1.0 and 0.3 < z.std() < 0.5
    again = class_noise(128, 64, seed=0, imagenet_class=3, batch=1, truncation=0.5).numpy()
    other = class_noise(128, 64, seed=0, imagenet_class=3, batch=2, truncation=0.5).numpy()
    assert np.array_equal(z, again) and not np.array_equal(z, other)


def test_class_outside_the_generator_is_an_error(generator, tmp_path):
    with pytest.raises(ValueError, match=r"imagenet_class = 1000 is outside 0...999"):
        generate_class(generator, imagenet_class=1000, count=1, out_folder=tmp_path / "x")


def _cli_module():
    spec = importlib.util.spec_from_file_location("generate_gan", REPO / "gan/generate_gan.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_generates_ids_and_mapped_voc_names(generator_dir, tmp_path):
    write_mapping(tmp_path / "mapping.json", {"dog": {"voc_id": 12, "imagenet_class": 207}})
    result = subprocess.run(
        [sys.executable, "gan/generate_gan.py", "--handle", str(generator_dir), "--classes",
         "404", "dog", "--mapping", str(tmp_path / "mapping.json"), "--per_class", "3",
         "--batch", "2", "--out", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0404", "dog"]
    manifest = json.loads((tmp_path / "out/dog/manifest.json").read_text())
    assert manifest["parameters"]["imagenet_class"] == 207 and manifest["count"] == 3


def test_cli_class_name_needs_a_mapping(generator_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _cli_module().main(["--handle", str(generator_dir), "--classes", "dog",
                            "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2 and "needs --mapping" in capsys.readouterr().err
    write_mapping(tmp_path / "m.json", {"dog": {"imagenet_class": 207}})
    with pytest.raises(SystemExit) as exit_info:
        _cli_module().main(["--handle", str(generator_dir), "--classes", "cat",
                            "--mapping", str(tmp_path / "m.json"), "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "'cat' is not in" in capsys.readouterr().err
