import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from continual.data.cifar import VARIANTS, convert_cifar, main
from continual.data.classification import decoded_images, record_labels
from continual.data.records import RecordError
from continual.data.shards import open_record_set

NAMES = {"cifar10": [f"c{i}" for i in range(10)], "cifar100": [f"f{i}" for i in range(100)]}


def batch_rows(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), np.uint8)


def fake_pickles(name: str) -> dict[str, dict]:
    """Tiny stand-ins of every file of a variant: 2 images per batch, known labels."""
    variant = VARIANTS[name]
    files = {}
    for seed, member in enumerate(variant.splits["train"] + variant.splits["test"]):
        labels = [seed % 10, (seed * 7 + 3) % len(NAMES[name])]
        files[member] = {b"data": batch_rows(seed, 2), variant.label_key: labels,
                         b"batch_label": b"fake"}
    files[variant.meta] = {variant.names_key: [n.encode() for n in NAMES[name]]}
    return files


def write_folder(parent: Path, name: str, files: dict) -> Path:
    folder = parent / VARIANTS[name].folder
    folder.mkdir(parents=True)
    for member, obj in files.items():
        (folder / member).write_bytes(pickle.dumps(obj, protocol=2))
    return folder


def write_archive(parent: Path, name: str, files: dict) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    path = parent / VARIANTS[name].archive
    with tarfile.open(path, "w:gz") as tar:
        for member, obj in files.items():
            data = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"{VARIANTS[name].folder}/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def expected(name: str, split: str) -> tuple[np.ndarray, list[int]]:
    files = fake_pickles(name)
    members = VARIANTS[name].splits[split]
    rows = np.concatenate([files[m][b"data"] for m in members])
    labels = [label for m in members for label in files[m][VARIANTS[name].label_key]]
    return rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_archive_and_folder_give_the_same_exact_sets(name, tmp_path):
    write_folder(tmp_path / "a", name, fake_pickles(name))
    write_archive(tmp_path / "b", name, fake_pickles(name))
    from_folder = convert_cifar(tmp_path / "a", tmp_path / "out_a")
    from_archive = convert_cifar(tmp_path / "b", tmp_path / "out_b")
    assert from_folder["dataset"] == from_archive["dataset"] == name
    for split, count in (("train", 10 if name == "cifar10" else 2), ("test", 2)):
        manifest = open_record_set(tmp_path / "out_b", split)
        images, labels = expected(name, split)
        assert manifest.num_records == count and manifest.image_shape == (32, 32, 3)
        assert manifest.data["class_names"] == NAMES[name]
        assert manifest.record_ids()[-1] == f"{split}_{count - 1:05d}"
        assert record_labels(manifest).tolist() == labels
        np.testing.assert_array_equal(decoded_images(manifest), images)
        assert (from_folder["splits"][split]["content_hash"]
                == from_archive["splits"][split]["content_hash"])


def test_folder_given_directly_and_rerun_is_skipped(tmp_path):
    folder = write_folder(tmp_path, "cifar10", fake_pickles("cifar10"))
    first = convert_cifar(folder, tmp_path / "out")
    again = convert_cifar(folder, tmp_path / "out")
    assert not first["splits"]["train"]["skipped"]
    assert again["splits"]["train"]["skipped"] and again["splits"]["test"]["skipped"]
    assert again["splits"]["test"]["content_hash"] == first["splits"]["test"]["content_hash"]


def test_both_variants_need_a_choice(tmp_path):
    write_folder(tmp_path, "cifar10", fake_pickles("cifar10"))
    write_archive(tmp_path, "cifar100", fake_pickles("cifar100"))
    with pytest.raises(ValueError, match="holds both CIFAR-10 and CIFAR-100; pass --variant"):
        convert_cifar(tmp_path, tmp_path / "out")
    assert convert_cifar(tmp_path, tmp_path / "out", variant="cifar100")["dataset"] == "cifar100"


def test_bad_shape_and_label_name_the_file(tmp_path):
    files = fake_pickles("cifar10")
    files["data_batch_3"][b"data"] = batch_rows(0, 2)[:, :100]
    folder = write_folder(tmp_path / "shape", "cifar10", files)
    with pytest.raises(RecordError, match=rf"{folder / 'data_batch_3'}: b'data' must be uint8 "
                                          r"\[N, 3072\], got \[2, 100\]"):
        convert_cifar(folder, tmp_path / "out")
    files = fake_pickles("cifar100")
    files["test"][b"fine_labels"] = [4, 100]
    archive = write_archive(tmp_path / "label", "cifar100", files)
    with pytest.raises(RecordError, match=f"{archive}:cifar-100-python/test: label 100 at index 1 "
                                          "is out of range 0..99"):
        convert_cifar(archive.parent, tmp_path / "out")


def test_missing_keys_missing_members_and_garbage(tmp_path):
    files = fake_pickles("cifar10")
    del files["test_batch"][b"labels"]
    folder = write_folder(tmp_path / "keys", "cifar10", files)
    with pytest.raises(RecordError, match=f"{folder / 'test_batch'}: expected a dict with keys"):
        convert_cifar(folder, tmp_path / "out")
    files = fake_pickles("cifar10")
    del files["data_batch_5"]
    archive = write_archive(tmp_path / "short", "cifar10", files)
    with pytest.raises(RecordError, match=f"{archive}: the archive lacks "
                                          r"\['cifar-10-batches-py/data_batch_5'\]"):
        convert_cifar(archive.parent, tmp_path / "out")
    (folder / "batches.meta").write_bytes(b"not a pickle at all")
    with pytest.raises(RecordError, match=f"{folder / 'batches.meta'}: not a CIFAR python pickle"):
        convert_cifar(folder, tmp_path / "out")


class _Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickle_with_foreign_globals_is_refused(tmp_path, capsys):
    files = fake_pickles("cifar10")
    files["data_batch_1"] = {b"data": _Exploit()}
    folder = write_folder(tmp_path, "cifar10", files)
    with pytest.raises(RecordError, match=r"refers to \S*\.print, which a CIFAR pickle never"):
        convert_cifar(folder, tmp_path / "out")
    assert "never run" not in capsys.readouterr().out


def test_cli_exit_code_2_when_nothing_is_found(tmp_path, capsys):
    assert main(["--root", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path}: no CIFAR data found")
    assert "cifar-10-python.tar.gz" in err
