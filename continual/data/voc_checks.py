"""Reading and checking Pascal VOC inputs: id lists, JPEG images and class-index label PNGs.

Every fault is a `VocError` naming the file and what is expected there, so a bad download is
found when the records are built, not as a wrong loss many hours into training.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from continual.data.classes import IGNORE_LABEL, NUM_CLASSES, is_valid_label_value
from continual.errors import InputError

# What PIL raises on a file it cannot decode (truncated, corrupt, not an image).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)
_UNKNOWN_FORMAT = "not an image file PIL recognises"
_LABEL_MODES = ("P", "L")


class VocError(InputError):
    """A missing or bad VOC / SBD input; the message names the path and the fault."""

    def __init__(self, path: str | Path, fault: str):
        super().__init__(f"{path}: {fault}")
        self.path = str(path)
        self.fault = fault


@dataclasses.dataclass(frozen=True)
class CheckedPair:
    """An image and its label that passed every check."""

    image: bytes  # the JPEG file, unchanged
    label: np.ndarray  # uint8 [height, width] of class ids 0..20 and 255
    height: int
    width: int


def require_dir(path: Path, expected: str) -> Path:
    """Return `path` if it is a folder, else raise saying what should be there."""
    if not path.is_dir():
        raise VocError(path, f"folder not found; expected {expected} there")
    return path


def _id_from_line(line: str, path: Path, number: int) -> str:
    """The image id of one list line: a bare id or "/JPEGImages/<id>.jpg /Seg.../<id>.png"."""
    tokens = line.split()
    stems = [Path(token).stem for token in tokens]
    if len(tokens) > 2 or len(set(stems)) != 1:
        raise VocError(
            f"{path} line {number}", f"{line.strip()!r} is not an image id; expected one id per "
            "line, or '/JPEGImages/<id>.jpg /SegmentationClassAug/<id>.png'"
        )
    return stems[0]


def read_id_list(path: Path, expected: str) -> list[str]:
    """Sorted unique image ids of a split list; blank lines are ignored."""
    if not path.is_file():
        raise VocError(path, f"list file not found; expected {expected} there")
    lines = path.read_text(encoding="utf-8").splitlines()
    ids = {_id_from_line(line, path, n) for n, line in enumerate(lines, 1) if line.strip()}
    return sorted(ids)


def read_image(path: Path) -> tuple[bytes, int, int]:
    """The JPEG file's bytes and its (height, width), after decoding it fully."""
    if not path.is_file():
        raise VocError(path, "image not found; expected the JPEG image of this id there")
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            fmt, (width, height) = image.format, image.size
    except UnidentifiedImageError as err:
        raise VocError(path, f"{_UNKNOWN_FORMAT}; expected a JPEG image") from err
    except _DECODE_ERRORS as err:
        raise VocError(path, f"the JPEG does not decode ({err}); re-download the image") from err
    if fmt != "JPEG":
        raise VocError(path, f"is a {fmt} file, expected a JPEG image")
    return data, height, width


def read_label(path: Path) -> np.ndarray:
    """A label PNG's class-id array: palette indices ('P') or gray values ('L'), never colours."""
    if not path.is_file():
        raise VocError(path, "label not found; expected the class-index PNG of this id there")
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            label = np.asarray(image) if mode in _LABEL_MODES else None
    except UnidentifiedImageError as err:
        raise VocError(path, f"{_UNKNOWN_FORMAT}; expected a class-index PNG") from err
    except _DECODE_ERRORS as err:
        raise VocError(path, f"the label PNG does not decode ({err})") from err
    if label is None:
        raise VocError(
            path, f"label has mode {mode!r}; expected a palette ('P') or grayscale ('L') PNG "
            "whose pixel values are class ids (is this a colour-rendered label?)"
        )
    check_label_values(label, path)
    return label.astype(np.uint8)


def check_label_values(label: np.ndarray, path: Path) -> None:
    """Raise naming the values of `label` that are neither a class id 0..20 nor void 255."""
    bad = [int(v) for v in np.unique(label) if not is_valid_label_value(int(v))]
    if bad:
        shown = ", ".join(str(v) for v in bad[:10]) + (" ..." if len(bad) > 10 else "")
        raise VocError(
            path, f"label holds values {shown}; expected class ids 0..{NUM_CLASSES - 1} "
            f"or {IGNORE_LABEL} (void)"
        )


def check_pair(image_path: Path, label_path: Path) -> CheckedPair:
    """Decode and check one image with its label; raise a VocError naming the bad file."""
    image, height, width = read_image(image_path)
    label = read_label(label_path)
    if label.shape != (height, width):
        raise VocError(
            label_path, f"label is {label.shape[1]}x{label.shape[0]} (WxH) but its image "
            f"{image_path} is {width}x{height}; expected the same size"
        )
    return CheckedPair(image=image, label=label, height=height, width=width)


def encode_label_png(label: np.ndarray) -> bytes:
    """Re-encode a class-id array as a single-channel 8-bit (grayscale) PNG."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(label, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
