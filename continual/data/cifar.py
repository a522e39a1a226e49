"""Convert CIFAR-10 or CIFAR-100 (python version) into the `train` and `test` record sets.

    python -m continual.data.cifar --root <dir> --out <data dir> [--variant cifar10|cifar100]

Under `--root` (or as `--root` itself) it looks for the extracted folder (`cifar-10-batches-py/`:
data_batch_1..5, test_batch, batches.meta; `cifar-100-python/`: train, test, meta), else the
archive (`cifar-10-python.tar.gz`, `cifar-100-python.tar.gz`), read in place. CIFAR-100 uses the
fine labels. Class names come from the meta file; ids are `train_00000`, ... in batch order.
Archive and folder give byte-identical record sets. A set whose manifest records the same input
hash is skipped.

The pickles are read as `pickle.load(f, encoding="bytes")` would, but only the numpy array
globals a CIFAR pickle holds are allowed, so a tampered file cannot run code while loading.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import os
import pickle
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from continual.data.classification import ClassificationSample, write_classification_set
from continual.data.manifest import sha256_file
from continual.data.records import RecordError
from continual.data.shards import open_record_set
from continual.data.synthetic import existing_set
from continual.errors import InputError, reports_input_errors

CONVERTER_VERSION = 1
SIDE = 32


@dataclasses.dataclass(frozen=True)
class Variant:
    """Where one CIFAR variant keeps its files and which pickle keys it uses."""

    name: str
    folder: str
    archive: str
    splits: dict[str, tuple[str, ...]]
    meta: str
    label_key: bytes
    names_key: bytes

    def members(self) -> tuple[str, ...]:
        return (*self.splits["train"], *self.splits["test"], self.meta)


VARIANTS = {v.name: v for v in (
    Variant("cifar10", "cifar-10-batches-py", "cifar-10-python.tar.gz",
            {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
            "batches.meta", b"labels", b"label_names"),
    Variant("cifar100", "cifar-100-python", "cifar-100-python.tar.gz",
            {"train": ("train",), "test": ("test",)}, "meta", b"fine_labels",
            b"fine_label_names"),
)}

# The globals a CIFAR pickle (numpy arrays, Python 2 or 3) refers to; numpy.core is numpy 1's name.
ALLOWED_GLOBALS = {("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
                   ("numpy._core.numeric", "_frombuffer"), ("numpy", "ndarray"),
                   ("numpy", "dtype"), ("_codecs", "encode")}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        module = module.replace("numpy.core.", "numpy._core.", 1)
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refers to {module}.{name}, which a CIFAR pickle never "
                                         "holds; refusing to load it")
        return super().find_class(module, name)


def unpickle(data: bytes, where: str) -> object:
    """The object of one CIFAR pickle (byte-string keys); errors name `where`."""
    try:
        return _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as err:  # unpickling bad bytes raises many types; all mean "not CIFAR"
        raise RecordError(f"{where}: not a CIFAR python pickle ({err})") from err


def find_input(root: Path, variant: str | None = None) -> tuple[Variant, Path]:
    """The variant and its folder or archive under `root` (a folder beats an archive)."""
    found = {}
    for v in VARIANTS.values():
        if variant not in (None, v.name):
            continue
        for path in (root, root / v.folder, root / v.archive):
            if path.is_file() if path.name == v.archive else (path / v.meta).is_file():
                found[v.name] = (v, path)
                break
    if len(found) > 1:
        raise InputError(f"{root} holds both CIFAR-10 and CIFAR-100; pass --variant")
    if not found:
        wanted = ", ".join(f"{v.folder}/ or {v.archive}" for v in VARIANTS.values()
                           if variant in (None, v.name))
        raise InputError(f"{root}: no CIFAR data found; expected {wanted} (python version)")
    return next(iter(found.values()))


def read_members(variant: Variant, path: Path) -> dict[str, tuple[str, bytes]]:
    """{member: (where, bytes)} of every file the variant needs, from a folder or an archive."""
    if path.name != variant.archive:
        missing = [m for m in variant.members() if not (path / m).is_file()]
        if missing:
            raise InputError(f"{path}: missing {missing}; it must hold {list(variant.members())}")
        return {m: (str(path / m), (path / m).read_bytes()) for m in variant.members()}
    names = {f"{variant.folder}/{m}": m for m in variant.members()}
    out = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for info in tar:
                if info.name in names and info.isfile():
                    out[names[info.name]] = (f"{path}:{info.name}", tar.extractfile(info).read())
    except (tarfile.TarError, OSError, EOFError) as err:
        raise RecordError(f"{path}: not a readable tar.gz archive ({err}); download it again"
                          ) from err
    missing = [name for name, m in names.items() if m not in out]
    if missing:
        raise RecordError(f"{path}: the archive lacks {missing}")
    return out


def class_names(variant: Variant, where: str, meta: object) -> list[str]:
    """Class names from the meta pickle (CIFAR-100: the 100 fine names)."""
    names = meta.get(variant.names_key) if isinstance(meta, dict) else None
    if not isinstance(names, list) or not names or not all(
            isinstance(n, bytes | str) for n in names):
        raise RecordError(f"{where}: expected a dict whose {variant.names_key!r} is a list of "
                          "class names")
    return [n.decode("utf-8") if isinstance(n, bytes) else n for n in names]


def batch_arrays(variant: Variant, where: str, batch: object,
                 num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images [N, 32, 32, 3], int64 labels [N]) of one batch pickle, checked."""
    keys = (b"data", variant.label_key)
    if not isinstance(batch, dict) or any(k not in batch for k in keys):
        found = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise RecordError(f"{where}: expected a dict with keys {list(keys)}, found {found}")
    data, labels = batch[b"data"], np.asarray(batch[variant.label_key])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * SIDE * SIDE:
        shape = list(getattr(data, "shape", [])) if isinstance(data, np.ndarray) else type(data)
        raise RecordError(f"{where}: b'data' must be uint8 [N, 3072], got {shape}")
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise RecordError(f"{where}: {variant.label_key!r} must hold {len(data)} integer labels, "
                          f"got {labels.dtype} {list(labels.shape)}")
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        raise RecordError(f"{where}: label {int(labels[bad[0]])} at index {int(bad[0])} is out of "
                          f"range 0..{num_classes - 1} (the meta file names {num_classes} classes)")
    images = data.reshape(-1, 3, SIDE, SIDE).transpose(0, 2, 3, 1)
    return images, labels.astype(np.int64)


def _samples(variant: Variant, split: str, members: dict, num_classes: int
             ) -> Iterator[ClassificationSample]:
    index = 0
    for member in variant.splits[split]:
        where, data = members[member]
        images, labels = batch_arrays(variant, where, unpickle(data, where), num_classes)
        for row, (image, label) in enumerate(zip(images, labels, strict=True)):
            yield ClassificationSample(image, int(label), f"{split}_{index:05d}",
                                       where=f"{where} row {row}")
            index += 1


def input_digest(variant: Variant, path: Path) -> str:
    """sha256 of the archive, or of the needed files of a folder (names and contents)."""
    if path.name == variant.archive:
        return sha256_file(path)
    digest = hashlib.sha256()
    for member in variant.members():
        if (path / member).is_file():
            digest.update(f"{member}:{sha256_file(path / member)}\n".encode())
    return digest.hexdigest()


def _write_split(chosen: Variant, split: str, members: dict, out_dir: str | os.PathLike,
                 source: dict, records_per_shard: int) -> None:
    meta_where, meta_bytes = members[chosen.meta]
    names = class_names(chosen, meta_where, unpickle(meta_bytes, meta_where))
    write_classification_set(out_dir, split, _samples(chosen, split, members, len(names)),
                             num_classes=len(names), class_names=names, source=source,
                             records_per_shard=records_per_shard)


def convert_cifar(root: str | os.PathLike, out_dir: str | os.PathLike, variant: str | None = None,
                  records_per_shard: int = 5000) -> dict:
    """Write (or reuse) `<out_dir>/train` and `<out_dir>/test`; returns a summary per split."""
    chosen, path = find_input(Path(root), variant)
    digest = input_digest(chosen, path)
    members = None
    splits = {}
    for split in chosen.splits:
        source = {"dataset": chosen.name, "converter_version": CONVERTER_VERSION, "split": split,
                  "input": str(path.resolve()), "input_sha256": digest,
                  "records_per_shard": records_per_shard}
        manifest, reason = existing_set(Path(out_dir), split, source)
        skipped = manifest is not None
        if not skipped:
            members = members or read_members(chosen, path)
            _write_split(chosen, split, members, out_dir, source, records_per_shard)
            manifest = open_record_set(out_dir, split)
        splits[split] = {"manifest": str(manifest.path), "num_images": manifest.num_records,
                         "num_classes": manifest.num_classes, "content_hash": manifest.content_hash,
                         "skipped": skipped, "reason": reason}
    return {"out_dir": str(out_dir), "dataset": chosen.name, "input": str(path), "splits": splits}


@reports_input_errors
def main(argv: list[str] | None = None) -> int:
    """CLI entry point; prints `error: ...` (no traceback) and returns 2 on bad input."""
    parser = argparse.ArgumentParser(prog="python -m continual.data.cifar", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="folder holding the archive or folder")
    parser.add_argument("--out", required=True, help="data folder for the train and test sets")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default=None,
                        help="needed only when --root holds both CIFAR-10 and CIFAR-100")
    parser.add_argument("--records_per_shard", type=int, default=5000)
    args = parser.parse_args(argv)
    summary = convert_cifar(args.root, args.out, args.variant, args.records_per_shard)
    print(f"{summary['dataset']} from {summary['input']}")
    for split, info in summary["splits"].items():
        status = "up to date, skipped" if info["skipped"] else "written"
        print(f"{split}: {info['num_images']} images, {info['num_classes']} classes, {status} "
              f"({info['manifest']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
