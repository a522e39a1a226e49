"""Polite, validated image downloads for web replay sources (the Flickr crawl).

Politeness: a minimum interval between request starts (rate limit) and retries with exponential
back-off on time-outs, dropped connections, HTTP 429 (its Retry-After honoured) and 5xx. Both the
clock and the sleep are injectable, so tests never wait. Validation: every payload must be a
fully decodable JPEG, checked for its pixel count *before* decoding (decompression bombs) and
for a minimum side; a rejected payload raises `ImageRejected` with the reason, for the caller to
log and skip. A payload that still fails after the last retry raises `DownloadFailed`: a
transient fault, retried on a later run (see `continual.replay.crawl_state`).
"""

from __future__ import annotations

import dataclasses
import email.utils
import io
import logging
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from PIL import Image, UnidentifiedImageError

LOG = logging.getLogger(__name__)
T = TypeVar("T")
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


class DownloadFailed(Exception):
    """A download that still failed (time-out, 429, 5xx, dropped connection) after its last
    retry: a transient fault, not a verdict on the image, so a later run tries it again."""


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
    """The bytes at `url` (HTTP 200 only, at most `policy.max_image_bytes`), with retries.

    Raises `ImageRejected` for an answer that is final (another status, too large) and
    `DownloadFailed` when transient faults outlast the retries.
    """
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
        raise DownloadFailed(str(err)) from None


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
