"""Polite, validated, resumable image downloads for web replay sources (the Flickr crawl).

Politeness: a minimum interval between request starts (rate limit) and retries with exponential
back-off on time-outs, dropped connections, HTTP 429 (its Retry-After honoured) and 5xx. Both the
clock and the sleep are injectable, so tests never wait. Validation: every payload must be a
fully decodable JPEG, checked for its pixel count *before* decoding (decompression bombs) and
for a minimum side; a rejected payload raises `ImageRejected` with the reason, for the caller to
log and skip. Progress: a class folder being filled keeps a journal of its images (with their
provenance) until its manifest is written, so an interrupted crawl resumes from what is on disk.
"""

from __future__ import annotations

import dataclasses
import email.utils
import hashlib
import io
import json
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from PIL import Image, UnidentifiedImageError

from continual.replay.folders import ReplayFolderError, image_entry, write_file_atomic

LOG = logging.getLogger(__name__)
T = TypeVar("T")
JOURNAL = "progress.jsonl"
IMAGE_NAME = re.compile(r"^\d{5}\.jpg$")
TRANSIENT_ERRORS = (requests.Timeout, requests.ConnectionError,
                    requests.exceptions.ChunkedEncodingError)


class TransientHTTPError(Exception):
    """An HTTP answer worth retrying (429 or 5xx); `retry_after` in seconds when the server said."""

    def __init__(self, status: int, url: str, retry_after: float | None):
        super().__init__(f"HTTP {status} from {url}")
        self.status = status
        self.retry_after = retry_after


class RetriesExhausted(RuntimeError):
    """A request still failed after the policy's last retry."""


class ImageRejected(Exception):
    """A downloaded payload that is not kept; the message is the reason."""


@dataclasses.dataclass
class RequestPolicy:
    """How politely and patiently to talk to a web service (time-outs, retries, rates)."""

    timeout_s: float = 30.0
    max_retries: int = 5
    backoff_s: float = 1.0          # first retry waits this long, then doubles
    backoff_max_s: float = 60.0
    api_rps: float | None = 1.0     # Flickr allows 3 600 API calls an hour
    download_rps: float | None = 5.0
    max_image_bytes: int = 32 << 20
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self):
        if self.max_retries < 0 or self.timeout_s <= 0:
            raise ValueError(f"RequestPolicy needs max_retries >= 0 and timeout_s > 0, got "
                             f"{self.max_retries} and {self.timeout_s}")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt + 1` (exponential, capped)."""
        return min(self.backoff_s * 2 ** attempt, self.backoff_max_s)

    def limiter(self, max_per_second: float | None) -> RateLimiter:
        return RateLimiter(max_per_second, clock=self.clock, sleep=self.sleep)


class RateLimiter:
    """At most `max_per_second` request starts per second (a minimum interval between starts)."""

    def __init__(self, max_per_second: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if max_per_second is not None and max_per_second <= 0:
            raise ValueError(f"max requests per second must be > 0 or None, got {max_per_second}")
        self.interval = 1.0 / max_per_second if max_per_second else 0.0
        self.clock, self.sleep = clock, sleep
        self._next_start: float | None = None

    def wait(self) -> None:
        """Block until the next request may start."""
        if not self.interval:
            return
        now = self.clock()
        if self._next_start is not None and now < self._next_start:
            self.sleep(self._next_start - now)
            now = self._next_start
        self._next_start = now + self.interval


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delay in seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        LOG.warning("ignoring unparsable Retry-After header %r", value)
        return None
    return max(0.0, when.timestamp() - time.time())


def raise_for_transient_status(response: requests.Response, *args, **kwargs) -> None:
    """requests response hook: raise `TransientHTTPError` for 429 and 5xx answers."""
    if response.status_code == 429 or response.status_code >= 500:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        response.close()
        raise TransientHTTPError(response.status_code, response.url, retry_after)


def call_with_retries(request: Callable[[], T], *, policy: RequestPolicy, limiter: RateLimiter,
                      what: str) -> T:
    """Run `request` under the rate limit, retrying transient failures with back-off."""
    for attempt in range(policy.max_retries + 1):
        limiter.wait()
        try:
            return request()
        except TransientHTTPError as err:
            reason, wait = str(err), err.retry_after
        except TRANSIENT_ERRORS as err:
            reason, wait = f"{type(err).__name__}", None
        if wait is None:
            wait = policy.backoff(attempt)
        if attempt == policy.max_retries:
            break
        LOG.warning("%s: %s; retry %d of %d in %.1f s", what, reason, attempt + 1,
                    policy.max_retries, wait)
        policy.sleep(wait)
    raise RetriesExhausted(f"{what}: still failing after {policy.max_retries + 1} attempts "
                           f"(last: {reason})")


def fetch_image(session: requests.Session, url: str, *, policy: RequestPolicy,
                limiter: RateLimiter, what: str) -> bytes:
    """The bytes at `url` (HTTP 200 only, at most `policy.max_image_bytes`), with retries."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ImageRejected(f"URL scheme is not http(s): {url!r}")

    def request() -> bytes:
        with session.get(url, timeout=policy.timeout_s, stream=True) as response:
            raise_for_transient_status(response)
            if response.status_code != 200:
                raise ImageRejected(f"HTTP {response.status_code} from {url}")
            return _read_limited(response, policy.max_image_bytes)

    try:
        return call_with_retries(request, policy=policy, limiter=limiter, what=what)
    except RetriesExhausted as err:
        raise ImageRejected(str(err)) from None


def _read_limited(response: requests.Response, max_bytes: int) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(1 << 16):
        size += len(chunk)
        if size > max_bytes:
            raise ImageRejected(f"payload larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def validate_image(data: bytes, *, min_side: int, max_pixels: int,
                   jpeg_only: bool = False) -> tuple[int, int]:
    """(width, height) of a fully decodable image within the size limits, else `ImageRejected`
    (with `jpeg_only`, a JPEG).

    The pixel count is checked from the header before anything is decoded; PIL's own
    decompression-bomb limits stay as they are.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(f"{width}x{height} pixels exceed max_pixels={max_pixels} "
                                    "(decompression-bomb guard)")
            if min(width, height) < min_side:
                raise ImageRejected(f"{width}x{height} is below min_side={min_side}")
            if jpeg_only and image.format != "JPEG":
                raise ImageRejected(f"a {image.format} image, not a JPEG")
            image.load()
    except Image.DecompressionBombError as err:
        raise ImageRejected(f"decompression bomb ({err})") from None
    except UnidentifiedImageError:
        raise ImageRejected(f"not an image (starts with {data[:24]!r})") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageRejected(f"does not decode fully ({err})") from None
    return width, height


class ClassProgress:
    """The images of a class folder so far, with their provenance, in a journal (progress.jsonl).

    The journal stays beside the manifest, so that a class whose manifest and some files were
    deleted is rebuilt with the same images under the same names.
    Images are written first, then their journal line, so an image without a line (a crash in
    between) is an orphan: it is deleted on resume and its index is reused. Lines whose file is
    missing or changed are dropped; the lowest free index is filled first, so a rerun after
    deleting files gives them their old names back.
    """

    def __init__(self, folder: Path, entries: list[dict]):
        self.folder = folder
        self.entries = entries
        self._photos = {entry.get("photo_id") for entry in entries}
        self._contents = {entry["sha256"]: entry.get("photo_id") for entry in entries}

    @classmethod
    def open(cls, folder: str | os.PathLike, parameters: dict) -> ClassProgress:
        """Resume (or start) the class folder; `parameters` must match the journal's."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        entries = [e for e in _journal_entries(folder / JOURNAL, parameters) if _intact(folder, e)]
        kept = {entry["file"] for entry in entries}
        for path in sorted(folder.glob("*.jpg")):
            if IMAGE_NAME.match(path.name) and path.name not in kept:
                LOG.warning("%s: not in %s (interrupted write); deleted", path, JOURNAL)
                path.unlink()
        lines = [json.dumps({"parameters": parameters})] + [json.dumps(e) for e in entries]
        write_file_atomic(folder / JOURNAL, ("\n".join(lines) + "\n").encode("utf-8"))
        return cls(folder, entries)

    def __len__(self) -> int:
        return len(self.entries)

    def has_photo(self, photo_id: str) -> bool:
        return photo_id in self._photos

    def photo_with_content(self, sha256: str) -> str | None:
        """The photo id already kept with exactly these bytes, if any."""
        return self._contents.get(sha256)

    def add(self, data: bytes, **provenance) -> dict:
        """Write the image under the lowest free `{index:05d}.jpg`, then journal it."""
        used = {entry["file"] for entry in self.entries}
        index = next(i for i in range(len(used) + 1) if f"{i:05d}.jpg" not in used)
        path = self.folder / f"{index:05d}.jpg"
        write_file_atomic(path, data)
        entry = image_entry(path, **provenance)
        with open(self.folder / JOURNAL, "a", encoding="utf-8") as journal:
            journal.write(json.dumps(entry) + "\n")
            journal.flush()
            os.fsync(journal.fileno())
        self.entries.append(entry)
        self._photos.add(provenance.get("photo_id"))
        self._contents[entry["sha256"]] = provenance.get("photo_id")
        return entry


def _journal_entries(path: Path, parameters: dict) -> list[dict]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        started_with = json.loads(lines[0])["parameters"]
    except (IndexError, KeyError, TypeError, json.JSONDecodeError):
        raise ReplayFolderError(f"{path} has no parameter header; delete {path.parent} to "
                                "download the class again") from None
    if started_with != parameters:
        raise ReplayFolderError(f"{path.parent} was started with other parameters "
                                f"({parameter_changes(started_with, parameters)}); rerun with "
                                "the same options, or delete the folder to start again")
    entries = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            LOG.warning("%s line %d is torn (interrupted write); its image is redone", path, number)
    return entries


def _intact(folder: Path, entry: dict) -> bool:
    path = folder / str(entry.get("file", ""))
    if not IMAGE_NAME.match(path.name) or not path.is_file():
        LOG.info("%s: %s is missing; it will be downloaded again", folder, path.name)
        return False
    if hashlib.sha256(path.read_bytes()).hexdigest() != entry.get("sha256"):
        LOG.warning("%s: %s changed since it was written; downloading again", folder, path.name)
        return False
    return True


def parameter_changes(old: dict, new: dict) -> str:
    """'name: old -> new' for every parameter that differs."""
    names = sorted(set(old) | set(new))
    return ", ".join(f"{name}: {old.get(name)!r} -> {new.get(name)!r}" for name in names
                     if old.get(name) != new.get(name))
