"""A fake Flickr for tests: REST API (`flickr.photos.search`) and image host on 127.0.0.1.

It answers the way Flickr does: form-encoded POSTs to /services/rest/ signed with OAuth 1
(HMAC-SHA1 in the Authorization header, checked here against the key and secret), JSON when
`format=json&nojsoncallback=1`, `stat: fail` bodies for a bad key or signature. It serves the
image URLs it hands out, records every request, and plays scripted faults (an HTTP status with
an optional Retry-After, or a delay for time-outs) per target: "api" or a photo id.
It binds 127.0.0.1 only; `stop()` shuts it down.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import io
import json
import math
import random
import struct
import sys
import threading
import time
import zlib
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

from oauthlib.oauth1.rfc5849 import signature, utils
from PIL import Image

REST_PATH = "/services/rest/"
KINDS = ("jpeg", "html", "truncated", "bomb", "huge_bomb", "tiny", "png")


@dataclasses.dataclass
class FakePhoto:
    """One search result; `kind` says what its image URL serves."""

    id: str
    kind: str = "jpeg"
    owner: str = "12037949@N00"
    license: str = "4"
    title: str = "a photo"
    has_url_c: bool = True
    same_bytes_as: str | None = None   # serve exactly the bytes of that photo
    url_path: str | None = None        # a path instead of the usual /65535/{id}_{secret}_c.jpg


@dataclasses.dataclass
class Fault:
    """What to do instead of a normal answer: wait `delay_s`, then answer `status` (if set)."""

    status: int | None = None
    retry_after: str | None = None
    delay_s: float = 0.0


@dataclasses.dataclass
class RecordedRequest:
    time: float
    method: str
    path: str
    params: dict
    headers: dict


def hmac_sha1(base_string: str, consumer_secret: str) -> str:
    """OAuth 1 HMAC-SHA1 signature (RFC 5849 3.4.2) with no token secret."""
    key = f"{utils.escape(consumer_secret)}&".encode()
    digest = hmac.new(key, base_string.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def jpeg_bytes(seed: str, size: tuple[int, int] = (80, 64)) -> bytes:
    """A noise JPEG, different for every seed."""
    noise = random.Random(seed).randbytes(size[0] * size[1] * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", size, noise).save(out, format="JPEG", quality=90)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A small PNG that declares `width` x `height` pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def image_bytes(photo: FakePhoto) -> bytes:
    """The payload served for `photo`."""
    if photo.kind == "jpeg":
        return jpeg_bytes(photo.same_bytes_as or photo.id)
    if photo.kind == "html":
        return b"<!DOCTYPE html><html><body>503 Service Unavailable</body></html>"
    if photo.kind == "truncated":
        data = jpeg_bytes(photo.id)
        return data[: len(data) // 2]
    if photo.kind == "bomb":
        return png_header(9000, 9000)       # over our max_pixels, under PIL's own limit
    if photo.kind == "huge_bomb":
        return png_header(30000, 30000)     # over PIL's decompression-bomb error limit
    if photo.kind == "tiny":
        return jpeg_bytes(photo.id, size=(8, 8))
    if photo.kind == "png":
        out = io.BytesIO()
        Image.new("RGB", (80, 64), (10, 200, 30)).save(out, format="PNG")
        return out.getvalue()
    raise ValueError(f"unknown fake photo kind {photo.kind!r}; expected one of {KINDS}")


class FakeFlickr:
    """The server; use as a context manager or call start() / stop()."""

    def __init__(self, api_key: str, api_secret: str, photos: dict[str, list[FakePhoto]]):
        self.api_key, self.api_secret = api_key, api_secret
        self.photos = photos                # search text -> results in relevance order
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- control ---------------------------------------------------------------------------
    def start(self) -> FakeFlickr:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeFlickr:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def rest_url(self) -> str:
        return self.base_url + REST_PATH

    def script(self, target: str, *faults: Fault) -> None:
        """Queue faults for the next requests to `target` ("api" or a photo id)."""
        with self._lock:
            self._faults[target].extend(faults)

    def api_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == REST_PATH]

    def image_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path != REST_PATH]

    # -- behaviour -------------------------------------------------------------------------
    def next_fault(self, target: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(target)
            return queue.popleft() if queue else None

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def image_url(self, photo: FakePhoto) -> str:
        path = photo.url_path or f"/65535/{photo.id}_5ecret_c.jpg"
        return f"{self.base_url}{path}?photo={quote(photo.id)}"

    def search(self, params: dict) -> dict:
        """The JSON body of flickr.photos.search, paginated like Flickr."""
        found = list(self.photos.get(params.get("text", ""), []))
        if params.get("license"):
            allowed = set(params["license"].split(","))
            found = [p for p in found if p.license in allowed]
        per_page = min(int(params.get("per_page", 100)), 500)
        page = max(int(params.get("page", 1)), 1)
        pages = math.ceil(len(found) / per_page)
        chosen = found[(page - 1) * per_page: page * per_page]
        return {"photos": {"page": page, "pages": pages, "perpage": per_page,
                           "total": len(found), "photo": [self._result(p) for p in chosen]},
                "stat": "ok"}

    def _result(self, photo: FakePhoto) -> dict:
        result = {"id": photo.id, "owner": photo.owner, "secret": "5ecret", "server": "65535",
                  "farm": 66, "title": photo.title, "ispublic": 1, "isfriend": 0,
                  "isfamily": 0, "license": photo.license}
        if photo.has_url_c:
            result.update(url_c=self.image_url(photo), height_c=600, width_c=800)
        return result

    def photo(self, photo_id: str) -> FakePhoto | None:
        return next((p for ps in self.photos.values() for p in ps if p.id == photo_id), None)

    def auth_error(self, method: str, url: str, body: str, headers: dict) -> dict | None:
        """A Flickr `stat: fail` body when the OAuth header is missing or wrong, else None."""
        auth = headers.get("Authorization", "")
        if not auth.startswith("OAuth "):
            return {"stat": "fail", "code": 100, "message": "Invalid API Key (Key not found)"}
        oauth = {k: utils.unescape(v) for k, v in utils.parse_authorization_header(auth)}
        if oauth.get("oauth_consumer_key") != self.api_key:
            return {"stat": "fail", "code": 100,
                    "message": "Invalid API Key (Key has invalid format)"}
        params = signature.collect_parameters(body=parse_qsl(body), headers=headers,
                                              exclude_oauth_signature=True)
        base = signature.signature_base_string(
            method, signature.base_string_uri(url), signature.normalize_parameters(params))
        if hmac_sha1(base, self.api_secret) != oauth.get("oauth_signature"):
            return {"stat": "fail", "code": 96, "message": "Invalid signature"}
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeFlickr

    def handle_error(self, request, client_address) -> None:
        """Keep errors (e.g. a client that timed out and hung up) for tests to inspect."""
        self.fake.errors.append(sys.exc_info()[1])


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args) -> None:
        """Quiet: requests are recorded in FakeFlickr.requests instead."""

    def _record(self, params: dict) -> None:
        self.server.fake.record(RecordedRequest(time.monotonic(), self.command, self.path.split(
            "?")[0], params, dict(self.headers.items())))

    def _apply_fault(self, target: str) -> bool:
        """Play the next scripted fault of `target`; True when it answered the request."""
        fault = self.server.fake.next_fault(target)
        if fault is None:
            return False
        time.sleep(fault.delay_s)
        if fault.status is None:
            return False
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        self._send(fault.status, b"<html><body>error</body></html>", "text/html", headers)
        return True

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8")
        params = dict(parse_qsl(body))
        self._record(params)
        if self.path != REST_PATH:
            return self._send(404, b"not found", "text/plain")
        if self._apply_fault("api"):
            return None
        fake = self.server.fake
        url = f"http://{self.headers['Host']}{self.path}"
        answer = fake.auth_error("POST", url, body, dict(self.headers.items()))
        if answer is None and params.get("method") != "flickr.photos.search":
            answer = {"stat": "fail", "code": 112,
                      "message": f"Method \"{params.get('method')}\" not found"}
        if params.get("format") != "json" or params.get("nojsoncallback") != "1":
            xml = b'<?xml version="1.0"?>\n<rsp stat="fail"><err code="111" msg="Format not ' \
                  b'found" /></rsp>'
            return self._send(200, xml, "text/xml; charset=utf-8")
        answer = answer or fake.search(params)
        self._send(200, json.dumps(answer).encode("utf-8"), "application/json")

    def do_GET(self) -> None:
        query = dict(parse_qsl(urlsplit(self.path).query))
        self._record(query)
        photo = self.server.fake.photo(query.get("photo", ""))
        if photo is None:
            return self._send(404, b"<html>not found</html>", "text/html")
        if self._apply_fault(photo.id):
            return None
        self._send(200, image_bytes(photo), "image/jpeg")
