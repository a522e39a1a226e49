"""The Rainbow Memory paper configs (CIFAR-100 K = 2000, MNIST K = 500) plan with --dry_run on
record sets converted by continual.data.cifar / continual.data.idx from tiny fixtures."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

import main
from continual.data.cifar import VARIANTS, convert_cifar
from continual.data.idx import IMAGES_MAGIC, LABELS_MAGIC, convert_idx


def _cifar100(tmp: Path) -> Path:
    """CIFAR-100 pickles with one image per class in each split, converted to `tmp/cifar100`."""
    variant = VARIANTS["cifar100"]
    folder = tmp / "raw" / variant.folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for member in (*variant.splits["train"], *variant.splits["test"]):
        batch = {b"data": rng.integers(0, 256, (100, 3072), np.uint8),
                 variant.label_key: list(range(100)), b"batch_label": b"fixture"}
        (folder / member).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {variant.names_key: [f"class{i}".encode() for i in range(100)]}
    (folder / variant.meta).write_bytes(pickle.dumps(meta, protocol=2))
    convert_cifar(tmp / "raw", tmp / "cifar100", variant="cifar100")
    return tmp / "cifar100"


def _idx(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.tobytes(), mtime=0)


def _mnist(tmp: Path) -> Path:
    """MNIST IDX files with two images per digit in each split, converted to `tmp/mnist`."""
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(10, dtype=np.uint8), 2)
    for split in ("train", "test"):
        images, label_file = tmp / f"{split}-images.gz", tmp / f"{split}-labels.gz"
        images.write_bytes(_idx(rng.integers(0, 256, (20, 28, 28), np.uint8), IMAGES_MAGIC))
        label_file.write_bytes(_idx(labels, LABELS_MAGIC))
        convert_idx(images, label_file, split, tmp / "mnist", class_names=None)
    return tmp / "mnist"


def _plan(tmp: Path, config: str, data: Path, capsys) -> str:
    args = ["--gin_file", f"config/ports/rainbow_memory/{config}", "--dry_run",
            "--workdir", str(tmp / "runs"),
            "--gin_param", f"StreamPlan.data_dir = '{data}'",
            "--gin_param", f"TrainManager.checkpoint_dir = '{tmp / 'ckpt'}'"]
    assert main.main(args) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_cifar100_paper_config_plans_on_converted_data(tmp_path, capsys):
    out = _plan(tmp_path, "RM_CIFAR100.gin", _cifar100(tmp_path), capsys)
    assert "RM_CIFAR100  (rm_cifar100)" in out
    assert out.count("stream_experience") == 5 and " missing;" not in out
    assert not (tmp_path / "ckpt").exists()


def test_mnist_paper_config_plans_on_converted_data(tmp_path, capsys):
    out = _plan(tmp_path, "RM_MNIST.gin", _mnist(tmp_path), capsys)
    assert "RM_MNIST  (rm_mnist)" in out
    assert out.count("stream_experience") == 5 and " missing;" not in out
