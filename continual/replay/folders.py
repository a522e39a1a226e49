"""Replay image folders: what every replay source writes, and how it is packed into TFRecords.

A source (GAN, web crawl, any folder) writes, per class, a folder of JPEGs named by us, plus a
`manifest.json` written last: source, parameters, and per image its file, sha256 and size (and
whatever provenance the source has, e.g. a photo id and licence). A class folder counts as
complete only when its manifest exists, which is never written while a temporary file is inside.
Packing reads files in sorted name order, checks each against the manifest, and writes one
unlabelled record set per class.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from continual.data.atomic import write_bytes_atomic as write_file_atomic  # noqa: F401
from continual.data.atomic import write_json_atomic
from continual.data.manifest import read_manifest
from continual.data.stale_temps import refuse_temp_files, remove_stale_temp_files
from continual.errors import InputError

FOLDER_FORMAT = "recall-replay-folder/1"
MANIFEST = "manifest.json"


class ReplayFolderError(InputError):
    """A missing, empty or inconsistent replay folder; the message names it and the fix."""


def image_entry(path: Path, **provenance) -> dict:
    """Manifest entry of one written image: file name, sha256, size, provenance."""
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return {"file": path.name, "sha256": hashlib.sha256(data).hexdigest(),
            "width": width, "height": height, **provenance}


def checked_image(data: bytes, where: str) -> None:
    """Raise naming `where` unless `data` decodes fully as an image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except (UnidentifiedImageError, OSError) as err:
        raise ReplayFolderError(f"{where}: does not decode as an image ({err}); remove it or "
                                "re-download it, delete the folder's manifest and rerun its "
                                "source") from err


def open_class_folder(folder: str | os.PathLike) -> Path:
    """Create a class folder to write into (kept as a partial run left it), without the
    temporary files of writers that were killed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(folder, recursive=False)
    return folder


def finish_class(folder: Path, class_name: str, source: str, parameters: dict,
                 entries: list[dict]) -> Path:
    """Write the class manifest (last): from now on the class folder counts as complete."""
    if not entries:
        raise ReplayFolderError(f"{folder}: no images for class {class_name!r}; an empty replay "
                                "set is never saved (check the source's settings and errors)")
    entries = sorted(entries, key=lambda e: e["file"])
    refuse_temp_files(folder, f"replay class folder {folder}", recursive=False)
    path = Path(folder) / MANIFEST
    write_json_atomic(path, {"format": FOLDER_FORMAT, "class": class_name, "source": source,
                             "parameters": parameters, "count": len(entries),
                             "images": entries})
    return path


def read_class_manifest(folder: Path) -> dict | None:
    """The manifest of a complete class folder, or None when the class is not complete."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReplayFolderError(f"{path} is not valid JSON ({err}); delete it to redo the "
                                "class") from err
    if data.get("format") != FOLDER_FORMAT or "images" not in data:
        raise ReplayFolderError(f"{path} is not a {FOLDER_FORMAT} manifest; delete it to redo "
                                "the class")
    return data


def verified_images(folder: Path) -> list[tuple[dict, bytes]]:
    """(entry, bytes) of every image of a complete class folder, sorted by file name."""
    folder = Path(folder)
    manifest = read_class_manifest(folder)
    if manifest is None:
        raise ReplayFolderError(f"{folder} has no {MANIFEST}: the replay class is missing or "
                                "incomplete; run its source again (it resumes)")
    out = []
    for entry in sorted(manifest["images"], key=lambda e: e["file"]):
        path = folder / entry["file"]
        if not path.exists():
            raise ReplayFolderError(f"{path} is listed in {folder / MANIFEST} but missing; "
                                    "delete the manifest and rerun the source")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ReplayFolderError(f"{path} does not match its sha256 in {folder / MANIFEST} "
                                    "(changed or corrupt); delete it and the manifest, rerun")
        checked_image(data, str(path))
        out.append((entry, data))
    if not out:
        raise ReplayFolderError(f"{folder / MANIFEST} lists no images; rerun the source")
    return out


def pack_class(folder: Path, out_dir: Path, name: str, limit: int | None = None) -> Path:
    """Pack a class folder into the unlabelled record set `out_dir/name`; returns its manifest.

    `limit` keeps the first N images in sorted name order (gin `replay_images_per_class`).
    """
    from continual.data.records import Record  # TensorFlow loads only when packing
    from continual.data.shards import RecordWriter

    images = verified_images(folder)[:limit]
    manifest = read_class_manifest(folder)
    source = {"replay_class": manifest["class"], "replay_source": manifest["source"],
              "parameters": manifest["parameters"], "folder": str(folder),
              "images_sha256": [entry["sha256"] for entry, _ in images]}
    with RecordWriter(out_dir, name, source=source) as writer:
        for entry, data in images:
            writer.write(Record(image=data, label=None,
                                image_id=f"{manifest['class']}/{Path(entry['file']).stem}",
                                height=entry["height"], width=entry["width"]))
    return read_manifest(Path(out_dir) / f"{name}.manifest.json").path
