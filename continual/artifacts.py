"""Content-keyed artefact store: every product of a run lives in a folder named by its key.

A key is a hash of exactly what the artefact depends on (the gin values that affect it, the keys
of its input artefacts, data manifest hashes, the seed, the version of the code that makes it).
Two experiments that need the same artefact compute the same key and so share it; changing any
input changes the key, so nothing stale is ever reused. An artefact counts only once its
`COMPLETE` marker exists; the marker is written last, atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from continual.data.manifest import write_json_atomic
from continual.data.stale_temps import refuse_temp_files, remove_stale_temp_files
from continual.errors import InputError

MARKER = "COMPLETE.json"
KEY_LENGTH = 16


@dataclasses.dataclass(frozen=True)
class PlanStep:
    """One stage of an experiment and the artefact it produces."""

    name: str                 # e.g. "step0", "eval1", "labels12"
    kind: str                 # artefact kind (folder under the store)
    key: str
    inputs: dict              # what the key hashes (also saved beside the artefact)
    step: Any = None          # the splits.Step the stage works on, when it has one
    depends: tuple[str, ...] = ()


def _canonical(value: Any) -> Any:
    """Make gin/JSON values hashable in a stable way (tuples -> lists, sorted dict keys)."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, float):
        return repr(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return repr(value)


def artifact_key(kind: str, inputs: dict) -> str:
    """The content key of an artefact of `kind` made from `inputs` (a JSON-able dict)."""
    payload = json.dumps({"kind": kind, "inputs": _canonical(inputs)}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:KEY_LENGTH]


class ArtifactStore:
    """Folders `root/<kind>/<key>/`, each complete once its marker is written."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    def is_complete(self, kind: str, key: str) -> bool:
        """Whether the marker exists; a marker that does not parse is an error naming it."""
        if not (self.path(kind, key) / MARKER).exists():
            return False
        self.info(kind, key)
        return True

    def info(self, kind: str, key: str) -> dict:
        """What the marker recorded (key inputs, results of the stage)."""
        marker = self.path(kind, key) / MARKER
        if not marker.exists():
            raise FileNotFoundError(f"{marker}: artefact {kind}/{key} is not complete; "
                                    "run its stage first (python main.py resumes it)")
        try:
            return json.loads(marker.read_text(encoding="utf-8"))["info"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
            raise InputError(f"{marker} is damaged ({type(err).__name__}: {err}): artefact "
                             f"{kind}/{key} cannot be trusted; delete the folder "
                             f"{marker.parent} and rerun to make it again") from err

    def prepare(self, kind: str, key: str, inputs: dict) -> Path:
        """Create the artefact folder (kept if a partial run left one) and record its inputs;
        temporary files that killed writers left inside it are removed first."""
        folder = self.path(kind, key)
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(folder)
        write_json_atomic(folder / "key_inputs.json", {"kind": kind, "key": key,
                                                       "inputs": _canonical(inputs)})
        return folder

    def complete(self, kind: str, key: str, info: dict) -> None:
        """Mark an artefact complete; call only after all its files are written (a temporary
        file still inside raises `TempFileError` naming it)."""
        refuse_temp_files(self.path(kind, key), f"artefact {kind}/{key}")
        write_json_atomic(self.path(kind, key) / MARKER, {"kind": kind, "key": key, "info": info})
