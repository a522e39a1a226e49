"""Flickr web replay (RECALL's `flickr/download_flickr.py`): free-text search per VOC class,
`url_c` images.

Keys come from FLICKR_API_KEY / FLICKR_API_SECRET or a key file, never from gin; they travel
only in the OAuth header that flickrapi signs, and never reach a log, a manifest or an error
message. The crawl writes one replay class folder (see `continual.replay.folders`) per class and
resumes from what is on disk (`continual.replay.crawl_state.ClassProgress`). A download that
fails after its retries is a transient fault, not a rejection: it is recorded, the crawl moves
on to the next search result, and a class still short when the search ends is left unfinished
(`DownloadsFailed`), so that a rerun tries those photos again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import flickrapi
import requests
from tqdm import tqdm

from continual.data.stale_temps import remove_stale_temp_files
from continual.errors import InputError
from continual.replay.crawl_state import FAILED, ClassProgress, parameter_changes
from continual.replay.folders import finish_class, read_class_manifest
from continual.replay.web_images import (
    DownloadFailed,
    ImageRejected,
    RateLimiter,
    RequestPolicy,
    RetriesExhausted,
    call_with_retries,
    fetch_image,
    raise_for_transient_status,
    validate_image,
)

LOG = logging.getLogger(__name__)
SOURCE = "flickr"
FLICKR_REST_URL = "https://api.flickr.com/services/rest/"
KEY_ENV, SECRET_ENV = "FLICKR_API_KEY", "FLICKR_API_SECRET"
KEY_CODES = (96, 97, 98, 100)  # Flickr's invalid signature / missing signature / key errors
# RECALL's search keyword per VOC class, in VOC order.
RECALL_KEYWORDS = {
    "aeroplane": "airplane", "bicycle": "bicycle", "bird": "bird", "boat": "boat",
    "bottle": "bottle", "bus": "bus", "car": "car", "cat": "cat", "chair": "chair",
    "cow": "cow", "diningtable": "dining table", "dog": "dog", "horse": "horse",
    "motorbike": "motorbike", "person": "person", "pottedplant": "potted plant",
    "sheep": "sheep", "sofa": "sofa", "train": "train", "tvmonitor": "monitor",
}
KEY_HELP = (f"export {KEY_ENV} and {SECRET_ENV}, or pass --key_file FILE holding "
            '{"api_key": "...", "api_secret": "..."} or the key and the secret on two lines '
            "(get a key at https://www.flickr.com/services/apps/create/)")


class FlickrDownloadError(InputError):
    """A crawl that cannot go on (keys, API error, nothing found); the message says the fix."""


class DownloadsFailed(FlickrDownloadError):
    """A class left unfinished: the search ran out while downloads that failed after their
    retries kept it short. They are recorded in the class folder; a rerun tries them again."""


def load_keys(key_file: str | os.PathLike | None = None,
              environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(api_key, api_secret) from `key_file` if given, else from the environment."""
    if key_file is not None:
        return _keys_from_file(Path(key_file))
    environ = os.environ if environ is None else environ
    key, secret = environ.get(KEY_ENV, "").strip(), environ.get(SECRET_ENV, "").strip()
    missing = [name for name, value in ((KEY_ENV, key), (SECRET_ENV, secret)) if not value]
    if missing:
        raise FlickrDownloadError(f"no Flickr API key: {' and '.join(missing)} not set; "
                                  f"{KEY_HELP}")
    return key, secret


def _keys_from_file(path: Path) -> tuple[str, str]:
    if not path.is_file():
        raise FlickrDownloadError(f"key file {path} not found; {KEY_HELP}")
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise FlickrDownloadError(f"key file {path} is not valid JSON; {KEY_HELP}") from None
        pair = [str(data.get(name, "")).strip() for name in ("api_key", "api_secret")]
    else:
        pair = [line.strip() for line in text.splitlines() if line.strip()]
    if len(pair) != 2 or not all(pair):
        raise FlickrDownloadError(f"key file {path} holds no key and secret; {KEY_HELP}")
    return pair[0], pair[1]


def class_keywords(classes: Sequence[str],
                   overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Search keyword per VOC class: RECALL's, except where `overrides` says otherwise."""
    overrides = dict(overrides or {})
    for name in [*classes, *overrides]:
        if name not in RECALL_KEYWORDS:
            raise FlickrDownloadError(f"unknown VOC class {name!r}; expected one of "
                                      f"{', '.join(RECALL_KEYWORDS)}")
    return {name: overrides.get(name, RECALL_KEYWORDS[name]) for name in classes}


class _FlickrClient(flickrapi.FlickrAPI):
    """flickrapi's client, with a repr that names the endpoint instead of the API key."""

    def __repr__(self) -> str:
        return f"<Flickr client for {urlsplit(self.REST_URL).hostname}>"

    __str__ = __repr__


def make_client(api_key: str, api_secret: str,
                rest_url: str = FLICKR_REST_URL) -> flickrapi.FlickrAPI:
    """A flickrapi client for `rest_url`: parsed JSON, no token store, transient errors raised.

    It gets its own requests session (flickrapi's default one is shared by all clients) whose
    response hook raises `TransientHTTPError` on 429 / 5xx, so that retries see the status and
    Retry-After. oauthlib logs signing details (the key) at DEBUG; those loggers are kept at INFO.
    """
    if not api_key or not api_secret:
        raise FlickrDownloadError(f"no Flickr API key given; {KEY_HELP}")
    if urlsplit(rest_url).scheme not in ("http", "https"):
        raise FlickrDownloadError(f"--rest_url {rest_url!r} is not an http(s) URL")
    client = _FlickrClient(api_key, api_secret, format="parsed-json", store_token=False,
                           cache=False)
    client.REST_URL = rest_url
    session = requests.Session()
    session.hooks["response"].append(raise_for_transient_status)
    client.flickr_oauth.session = session
    for name in ("oauthlib", "requests_oauthlib"):
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
    return client


def rest_host(client: flickrapi.FlickrAPI) -> str:
    """The host name of the client's REST endpoint (never the whole URL: it may hold secrets)."""
    return urlsplit(client.REST_URL).hostname or ""


def search_photos(client: flickrapi.FlickrAPI, keyword: str, *, per_page: int = 50,
                  license: Sequence[int] | None = None, safe_search: int | None = None,
                  policy: RequestPolicy, limiter: RateLimiter) -> Iterator[dict]:
    """Photos of a free-text search sorted by relevance, page after page up to the last."""
    params = {"text": keyword, "tag_mode": "any", "extras": "url_c,license",
              "sort": "relevance", "per_page": per_page}
    if license:
        params["license"] = ",".join(str(value) for value in license)
    if safe_search is not None:
        params["safe_search"] = safe_search
    page, pages = 1, 1
    while page <= pages:
        photos = _search_page(client, params, page, policy, limiter)
        if not photos["photo"]:
            return
        yield from photos["photo"]
        pages = int(photos.get("pages") or 0)
        page += 1


def _search_page(client: flickrapi.FlickrAPI, params: dict, page: int, policy: RequestPolicy,
                 limiter: RateLimiter) -> dict:
    what = f"flickr.photos.search text={params['text']!r} page {page} at {rest_host(client)}"
    try:
        answer = call_with_retries(
            lambda: client.photos.search(page=page, timeout=policy.timeout_s, **params),
            policy=policy, limiter=limiter, what=what)
    except flickrapi.FlickrError as err:
        hint = f"; check the key ({KEY_HELP})" if err.code in KEY_CODES else ""
        raise FlickrDownloadError(f"Flickr API error on {what}: {err}{hint}") from None
    except RetriesExhausted as err:
        raise FlickrDownloadError(f"Flickr API unreachable: {err}") from None
    except ValueError as err:
        raise FlickrDownloadError(f"{what}: the answer is not JSON ({err})") from None
    photos = answer.get("photos") if isinstance(answer, dict) else None
    if not isinstance(photos, dict) or not isinstance(photos.get("photo"), list):
        raise FlickrDownloadError(f"{what}: unexpected answer without a photo list")
    return photos


def class_parameters(client: flickrapi.FlickrAPI, *, keyword: str, count: int,
                     license: Sequence[int] | None, safe_search: int | None, dedup: bool,
                     min_side: int, max_pixels: int, jpeg_only: bool) -> dict:
    """What decides which images a class folder holds (its manifest's `parameters`)."""
    return {"keyword": keyword, "per_class": count, "sort": "relevance", "size": "url_c",
            "license": sorted(int(v) for v in license) if license else None,
            "safe_search": safe_search, "dedup": dedup, "min_side": min_side,
            "max_pixels": max_pixels, "jpeg_only": jpeg_only, "rest_host": rest_host(client)}


def download_class(client: flickrapi.FlickrAPI, *, voc_class: str, keyword: str, count: int,
                   out_folder: str | os.PathLike, license: Sequence[int] | None = None,
                   safe_search: int | None = None, dedup: bool = False, min_side: int = 1,
                   max_pixels: int = 40_000_000, jpeg_only: bool = False, per_page: int = 50,
                   policy: RequestPolicy | None = None, progress_bar: bool = True,
                   finish_despite_failures: bool = False) -> Path:
    """Download up to `count` validated images for `voc_class` into `out_folder/voc_class`.

    Returns the class folder, complete (manifest written) even when the search ran out before
    `count` (the manifest's `count` says how many; a warning names the shortfall). A complete
    folder with the same parameters is returned without any request; a partial one resumes.
    A download that fails after its retries does not end the class: the crawl moves on to the
    next result, and if the search runs out short of `count` because of such failures the class
    is left unfinished and `DownloadsFailed` is raised (a rerun retries them), unless
    `finish_despite_failures`.
    Only what the original keeps is kept by default (every downloaded image that decodes):
    licence filter, safe search, exact-duplicate removal (`dedup`), the small-image rejection
    (`min_side`) and the JPEG-only rejection (`jpeg_only`) are options, off by default.
    """
    _check_settings(count=count, per_page=per_page, min_side=min_side, max_pixels=max_pixels)
    policy = policy or RequestPolicy()
    folder = Path(out_folder) / voc_class
    parameters = class_parameters(client, keyword=keyword, count=count, license=license,
                                  safe_search=safe_search, dedup=dedup, min_side=min_side,
                                  max_pixels=max_pixels, jpeg_only=jpeg_only)
    if _already_complete(folder, parameters):
        return folder
    progress = ClassProgress.open(folder, parameters)
    crawl = _ClassCrawl(progress, count, parameters, policy)
    if len(progress) < count:
        photos = search_photos(client, keyword, per_page=per_page, license=license,
                               safe_search=safe_search, policy=policy,
                               limiter=policy.limiter(policy.api_rps))
        crawl.run(photos, voc_class, progress_bar)
    if len(progress) < count and crawl.failed and not finish_despite_failures:
        raise DownloadsFailed(crawl.unfinished_message(voc_class))
    if not len(progress):
        raise FlickrDownloadError(f"no usable image for class {voc_class!r} (keyword "
                                  f"{keyword!r}, {crawl.summary()}); try another keyword or "
                                  "looser filters")
    LOG.log(logging.WARNING if len(progress) < count else logging.INFO, "%s: %d of %d images "
            "(%s)", voc_class, len(progress), count, crawl.summary())
    finish_class(folder, voc_class, SOURCE, parameters, progress.entries)
    progress.forget_failed()
    return folder


def _check_settings(**settings: int) -> None:
    limits = {"per_page": (1, 500)}
    for name, value in settings.items():
        low, high = limits.get(name, (1, None))
        if value < low or (high is not None and value > high):
            raise FlickrDownloadError(f"{name} = {value} is out of range [{low}, {high or 'inf'}]")


def _already_complete(folder: Path, parameters: dict) -> bool:
    manifest = read_class_manifest(folder)
    if manifest is None:
        return False
    if manifest.get("parameters") != parameters:
        raise FlickrDownloadError(
            f"{folder} is a complete class downloaded with other parameters "
            f"({parameter_changes(manifest.get('parameters') or {}, parameters)}); use another "
            "output folder, or delete this one to download it again")
    LOG.info("%s: complete (%d images); skipped", folder, manifest["count"])
    remove_stale_temp_files(folder, recursive=False)   # left by a run killed after finishing
    (folder / FAILED).unlink(missing_ok=True)
    return True


class _ClassCrawl:
    """Takes search results one by one: download, validate, de-duplicate, keep."""

    def __init__(self, progress: ClassProgress, count: int, parameters: dict,
                 policy: RequestPolicy):
        self.progress, self.count, self.policy = progress, count, policy
        self.parameters = parameters
        self.limiter = policy.limiter(policy.download_rps)
        self.seen = 0
        self.skipped = {"without url_c": 0, "rejected": 0, "duplicates": 0}
        self.failed: dict[str, str] = {}   # photo id -> why, for downloads failed in this run

    def run(self, photos: Iterator[dict], voc_class: str, progress_bar: bool) -> None:
        with requests.Session() as session, tqdm(total=self.count, initial=len(self.progress),
                                                 desc=voc_class, unit="img",
                                                 disable=not progress_bar) as bar:
            for photo in photos:
                if len(self.progress) >= self.count:
                    break
                if self.take(session, photo):
                    bar.update(1)

    def take(self, session: requests.Session, photo: dict) -> bool:
        """Keep one search result if it is new and valid; log why not otherwise."""
        self.seen += 1
        photo_id, url = str(photo.get("id", "")), photo.get("url_c")
        if self.progress.has_photo(photo_id):
            return False
        if not url:
            self.skipped["without url_c"] += 1
            LOG.info("photo %s has no url_c; skipped", photo_id)
            return False
        try:
            data = fetch_image(session, url, policy=self.policy, limiter=self.limiter,
                               what=f"photo {photo_id}")
            validate_image(data, min_side=self.parameters["min_side"],
                           max_pixels=self.parameters["max_pixels"],
                           jpeg_only=self.parameters["jpeg_only"])
        except ImageRejected as err:
            self.skipped["rejected"] += 1
            LOG.warning("photo %s rejected: %s", photo_id, err)
            return False
        except DownloadFailed as err:
            self.failed[photo_id] = str(err)
            self.progress.mark_failed(photo_id, url, str(err))
            LOG.warning("%s; download failed, moving on (a rerun retries it)", err)
            return False
        same = self.progress.photo_with_content(hashlib.sha256(data).hexdigest())
        if self.parameters["dedup"] and same is not None:
            self.skipped["duplicates"] += 1
            LOG.info("photo %s has the same bytes as photo %s; skipped", photo_id, same)
            return False
        self.progress.add(data, photo_id=photo_id, owner=str(photo.get("owner", "")),
                          license=str(photo.get("license", "")), url=url)
        return True

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {what}" for what, n in self.skipped.items())
        return f"{self.seen} search results, {skipped}, {len(self.failed)} downloads failed"

    def unfinished_message(self, voc_class: str) -> str:
        """Why the class is not finished, and how to finish it."""
        first, *others = self.failed
        also = f"; also photo {', '.join(others)}" if others else ""
        return (f"{voc_class}: {len(self.progress)} of {self.count} images, "
                f"{len(self.failed)} downloads failed ({self.failed[first]}{also}); the class "
                "is not finished: rerun the same command to retry them, or pass "
                "--finish_despite_failures to keep the class short")
