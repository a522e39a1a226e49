"""Flickr web replay through the real flickrapi client, against a fake Flickr on 127.0.0.1."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from continual.replay.flickr import (
    FlickrDownloadError,
    class_keywords,
    download_class,
    load_keys,
    make_client,
)
from continual.replay.folders import read_class_manifest, verified_images
from continual.replay.web_images import RateLimiter, RequestPolicy, retry_after_seconds
from tests.replay.fake_flickr import FakeFlickr, FakePhoto, Fault, jpeg_bytes

KEY, SECRET = "K3Yzz9f1c0ffee5eed", "S3CRzz77aa1dea5bad"
REPO = Path(__file__).resolve().parents[2]


class FakeTime:
    """Clock and sleep for RequestPolicy: sleeping only advances the clock (and is recorded)."""

    def __init__(self):
        self.now, self.sleeps = 1000.0, []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def serve():
    """serve(photos) -> a running FakeFlickr answering search text 'airplane' with `photos`."""
    servers = []

    def start(photos, text="airplane"):
        servers.append(FakeFlickr(KEY, SECRET, {text: photos}).start())
        return servers[-1]
    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def fake_time():
    return FakeTime()


def good(n, prefix="p"):
    return [FakePhoto(f"{prefix}{i}", owner=f"owner{i}", license=str(i % 8)) for i in range(n)]


def download(fake, out, fake_time, count, **kwargs):
    policy = kwargs.pop("policy", None) or RequestPolicy(
        timeout_s=2.0, max_retries=3, clock=fake_time.clock, sleep=fake_time.sleep)
    client = kwargs.pop("client", None) or make_client(KEY, SECRET, fake.rest_url)
    return download_class(client, voc_class="aeroplane", keyword="airplane", count=count,
                          out_folder=out, policy=policy, progress_bar=False, **kwargs)


def kept(folder):
    """(file, photo id, sha256) of every image in the class manifest."""
    return [(e["file"], e["photo_id"], e["sha256"]) for e in read_class_manifest(folder)["images"]]


def test_downloads_images_with_manifest_provenance_and_our_names(serve, tmp_path, fake_time):
    fake = serve(good(12))
    folder = download(fake, tmp_path, fake_time, count=5)
    assert folder == tmp_path / "aeroplane"
    assert sorted(p.name for p in folder.glob("*.jpg")) == [f"{i:05d}.jpg" for i in range(5)]
    manifest = read_class_manifest(folder)
    assert manifest["source"] == "flickr" and manifest["count"] == 5
    assert manifest["parameters"] == {
        "keyword": "airplane", "per_class": 5, "sort": "relevance", "size": "url_c",
        "license": None, "safe_search": None, "dedup": False, "min_side": 1,
        "max_pixels": 40_000_000, "jpeg_only": False, "rest_host": "127.0.0.1"}
    first = manifest["images"][0]
    assert (first["photo_id"], first["owner"], first["license"]) == ("p0", "owner0", "0")
    assert first["url"] == fake.image_url(fake.photos["airplane"][0])
    assert [e["photo_id"] for e in manifest["images"]] == ["p0", "p1", "p2", "p3", "p4"]
    assert verified_images(folder)[1][1] == jpeg_bytes("p1")
    search = fake.api_requests()[0]
    assert search.params["text"] == "airplane" and search.params["sort"] == "relevance"
    assert "url_c" in search.params["extras"] and "license" not in search.params
    assert f'oauth_consumer_key="{KEY}"' in search.headers["Authorization"]


def test_paginates_until_enough_or_pages_run_out(serve, tmp_path, fake_time):
    fake = serve(good(7))
    download(fake, tmp_path / "a", fake_time, count=4, per_page=3)
    assert [r.params["page"] for r in fake.api_requests()] == ["1", "2"]
    folder = download(fake, tmp_path / "b", fake_time, count=20, per_page=3)
    assert [r.params["page"] for r in fake.api_requests()[2:]] == ["1", "2", "3"]
    assert [photo for _, photo, _ in kept(folder)] == [f"p{i}" for i in range(7)]


def test_licence_and_safe_search_filters_are_sent(serve, tmp_path, fake_time):
    fake = serve(good(8))
    folder = download(fake, tmp_path, fake_time, count=5, license=[4, 5], safe_search=1)
    assert fake.api_requests()[0].params["license"] == "4,5"
    assert fake.api_requests()[0].params["safe_search"] == "1"
    assert [photo for _, photo, _ in kept(folder)] == ["p4", "p5"]


def test_retries_503_and_429_with_retry_after_and_time_outs(serve, tmp_path, fake_time, caplog):
    fake = serve(good(3))
    fake.script("api", Fault(status=503))
    fake.script("p1", Fault(status=429, retry_after="7"))
    fake.script("p2", Fault(delay_s=1.0))
    policy = RequestPolicy(timeout_s=0.3, backoff_s=0.5, api_rps=None, download_rps=None,
                           clock=fake_time.clock, sleep=fake_time.sleep)
    with caplog.at_level(logging.WARNING, logger="continual"):
        folder = download(fake, tmp_path, fake_time, count=3, policy=policy)
    assert [photo for _, photo, _ in kept(folder)] == ["p0", "p1", "p2"]
    assert fake_time.sleeps == [0.5, 7.0, 0.5]   # back-off, Retry-After, back-off
    assert len(fake.api_requests()) == 2
    assert [r.params["photo"] for r in fake.image_requests()] == ["p0", "p1", "p1", "p2", "p2"]
    assert "HTTP 503" in caplog.text and "HTTP 429" in caplog.text
    assert "photo p2: ReadTimeout" in caplog.text


def test_retry_after_header_in_seconds_or_as_a_date():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0   # in the past
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_api_that_keeps_failing_is_a_clear_error(serve, tmp_path, fake_time):
    fake = serve(good(3))
    fake.script("api", *[Fault(status=502)] * 4)
    with pytest.raises(FlickrDownloadError, match="unreachable.*4 attempts.*HTTP 502"):
        download(fake, tmp_path, fake_time, count=3)
    assert fake_time.sleeps == [1.0, 2.0, 4.0]   # exponential back-off


def test_bad_images_are_rejected_and_reported(serve, tmp_path, fake_time, caplog):
    bad = [FakePhoto(kind, kind=kind) for kind in
           ("html", "truncated", "bomb", "huge_bomb", "tiny", "png")]
    fake = serve(bad + good(2))
    with caplog.at_level(logging.INFO, logger="continual"):
        folder = download(fake, tmp_path, fake_time, count=10, min_side=64, jpeg_only=True)
    assert [photo for _, photo, _ in kept(folder)] == ["p0", "p1"]
    reasons = {"html": "not an image", "truncated": "does not decode fully",
               "bomb": "9000x9000 pixels exceed max_pixels=40000000",
               "huge_bomb": "decompression bomb", "tiny": "8x8 is below min_side=64",
               "png": "a PNG image, not a JPEG"}
    for photo_id, reason in reasons.items():
        assert f"photo {photo_id} rejected: {reason}" in caplog.text
    summary = "aeroplane: 2 of 10 images (8 search results, 0 without url_c, 6 rejected"
    assert summary in caplog.text


def test_no_usable_image_is_an_error_not_an_empty_set(serve, tmp_path, fake_time):
    fake = serve([FakePhoto("h", kind="html"), FakePhoto("n", has_url_c=False)])
    with pytest.raises(FlickrDownloadError, match="no usable image for class 'aeroplane'"):
        download(fake, tmp_path, fake_time, count=3)
    assert read_class_manifest(tmp_path / "aeroplane") is None


def test_by_default_small_and_png_images_are_kept_as_the_original_keeps_them(
        serve, tmp_path, fake_time):
    """Issue 12 item 5: only images that do not decode (or are bombs) are rejected."""
    fake = serve([FakePhoto(k, kind=k) for k in ("html", "tiny", "png")] + good(1))
    folder = download(fake, tmp_path, fake_time, count=10)
    assert [photo for _, photo, _ in kept(folder)] == ["tiny", "png", "p0"]


def test_duplicates_removed_on_request_and_missing_url_skipped(serve, tmp_path, fake_time,
                                                                caplog):
    photos = good(2) + [FakePhoto("d", same_bytes_as="p0"), FakePhoto("n", has_url_c=False),
                        FakePhoto("p2")]
    fake = serve(photos)
    with caplog.at_level(logging.INFO, logger="continual"):
        folder = download(fake, tmp_path / "dedup", fake_time, count=5, dedup=True)
    assert [photo for _, photo, _ in kept(folder)] == ["p0", "p1", "p2"]
    assert "photo d has the same bytes as photo p0; skipped" in caplog.text
    assert "photo n has no url_c; skipped" in caplog.text
    folder = download(fake, tmp_path / "all", fake_time, count=5)   # the default keeps all
    assert [photo for _, photo, _ in kept(folder)] == ["p0", "p1", "d", "p2"]


def test_hostile_titles_and_urls_never_name_files(serve, tmp_path, fake_time):
    fake = serve([FakePhoto("t", title="../../etc/passwd"),
                  FakePhoto("u", url_path="/../../../etc/passwd"),
                  FakePhoto("v", title="..\\..\\x", url_path="/%2e%2e/%2e%2e/evil%00.jpg"),
                  FakePhoto("w", url_path="/a/..%2F..%2Fb.jpg")])
    out = tmp_path / "out"
    download(fake, out, fake_time, count=4)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["out/aeroplane/00000.jpg", "out/aeroplane/00001.jpg",
                       "out/aeroplane/00002.jpg", "out/aeroplane/00003.jpg",
                       "out/aeroplane/manifest.json", "out/aeroplane/progress.jsonl"]


def test_interrupted_run_resumes_to_the_same_images(serve, tmp_path, fake_time):
    fake = serve(good(8))
    reference = kept(download(fake, tmp_path / "ref", fake_time, count=6, per_page=3))
    fake.requests.clear()
    fake.script("api", Fault(), Fault(status=400))       # page 2 fails: the run stops
    with pytest.raises(FlickrDownloadError, match="Status code 400"):
        download(fake, tmp_path / "run", fake_time, count=6, per_page=3)
    folder = tmp_path / "run" / "aeroplane"
    assert read_class_manifest(folder) is None
    (folder / "00001.jpg").unlink()
    (folder / "00009.jpg").write_bytes(b"orphan of a crash")
    fake.requests.clear()
    assert kept(download(fake, tmp_path / "run", fake_time, count=6, per_page=3)) == reference
    assert [r.params["photo"] for r in fake.image_requests()] == ["p1", "p3", "p4", "p5"]
    assert not (folder / "00009.jpg").exists()


def test_deleted_manifest_and_files_are_rebuilt_and_complete_class_is_skipped(
        serve, tmp_path, fake_time):
    fake = serve(good(6))
    folder = download(fake, tmp_path, fake_time, count=4)
    reference = kept(folder)
    fake.requests.clear()
    assert download(fake, tmp_path, fake_time, count=4) == folder
    assert fake.requests == []                            # complete: no request at all
    (folder / "manifest.json").unlink()
    (folder / "00002.jpg").unlink()
    assert kept(download(fake, tmp_path, fake_time, count=4)) == reference
    assert [r.params["photo"] for r in fake.image_requests()] == ["p2"]
    with pytest.raises(FlickrDownloadError, match="other parameters.*per_class: 4 -> 5"):
        download(fake, tmp_path, fake_time, count=5)


def test_keys_never_reach_logs_files_or_errors(serve, tmp_path, fake_time, caplog, capsys):
    fake = serve([FakePhoto("h", kind="html")] + good(3))
    fake.script("api", Fault(status=503))
    caplog.set_level(logging.DEBUG)
    client = make_client(KEY, SECRET, fake.rest_url)
    folder = download(fake, tmp_path, fake_time, count=3, client=client)
    with pytest.raises(FlickrDownloadError) as bad_secret:
        download(fake, tmp_path / "b", fake_time, count=3,
                 client=make_client(KEY, "wrong-" + SECRET, fake.rest_url))
    assert "Invalid signature" in str(bad_secret.value)
    assert any(KEY in r.headers.get("Authorization", "") for r in fake.api_requests())
    outputs = [caplog.text, *capsys.readouterr(), repr(client), str(bad_secret.value)]
    outputs += [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    assert "oauth_consumer_key" not in caplog.text     # oauthlib's DEBUG signing logs are off
    assert read_class_manifest(folder)["count"] == 3
    for secret in (KEY, SECRET):
        assert not [text for text in outputs if secret in text]


def test_invalid_key_is_a_clear_api_error(serve, tmp_path, fake_time):
    fake = serve(good(2))
    client = make_client("not-the-key", SECRET, fake.rest_url)
    with pytest.raises(FlickrDownloadError, match="Error: 100: Invalid API Key.*FLICKR_API_KEY"):
        download(fake, tmp_path, fake_time, count=2, client=client)


def test_keys_from_environment_or_key_file_and_missing_key_error(tmp_path):
    assert load_keys(environ={"FLICKR_API_KEY": "k", "FLICKR_API_SECRET": "s"}) == ("k", "s")
    (tmp_path / "keys.json").write_text(json.dumps({"api_key": "k1", "api_secret": "s1"}))
    (tmp_path / "keys.txt").write_text("k2\ns2\n")
    assert load_keys(tmp_path / "keys.json") == ("k1", "s1")
    assert load_keys(tmp_path / "keys.txt") == ("k2", "s2")
    with pytest.raises(FlickrDownloadError, match="FLICKR_API_SECRET not set.*--key_file"):
        load_keys(environ={"FLICKR_API_KEY": "k"})
    (tmp_path / "bad.txt").write_text("only-one-line-S3CRET")
    with pytest.raises(FlickrDownloadError, match="bad.txt holds no key") as err:
        load_keys(tmp_path / "bad.txt")
    assert "S3CRET" not in str(err.value)


def test_keywords_default_to_recall_and_can_be_overridden():
    assert class_keywords(["aeroplane", "diningtable", "tvmonitor"]) == {
        "aeroplane": "airplane", "diningtable": "dining table", "tvmonitor": "monitor"}
    assert class_keywords(["cat"], {"cat": "kitten"}) == {"cat": "kitten"}
    with pytest.raises(FlickrDownloadError, match="unknown VOC class 'plane'"):
        class_keywords(["plane"])


def test_rate_limits_are_honoured(serve, tmp_path, fake_time):
    limiter = RateLimiter(2.0, clock=fake_time.clock, sleep=fake_time.sleep)
    for _ in range(3):
        limiter.wait()
    assert fake_time.sleeps == [0.5, 0.5]
    fake = serve(good(5))
    policy = RequestPolicy(api_rps=None, download_rps=10.0)    # real clock: 100 ms apart
    download(fake, tmp_path, fake_time, count=5, policy=policy)
    starts = [r.time for r in fake.image_requests()]
    assert len(starts) == 5
    assert min(b - a for a, b in zip(starts[:-1], starts[1:], strict=True)) >= 0.08


def run_cli(*args, env):
    return subprocess.run([sys.executable, "flickr/download_flickr.py", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)


def test_cli_downloads_classes_and_reports_shortfall(tmp_path):
    photos = {"jet": good(4), "kitten": good(2, prefix="c")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLICKR_")}
    (tmp_path / "keywords.json").write_text(json.dumps({"cat": "kitten"}))
    with FakeFlickr(KEY, SECRET, photos) as fake:
        result = run_cli("--out", str(tmp_path), "--classes", "aeroplane", "cat",
                         "--per_class", "3", "--keywords", str(tmp_path / "keywords.json"),
                         "aeroplane=jet", "--no_progress", "--rest_url",
                         fake.rest_url, "--api_rps", "50", "--download_rps", "50",
                         env={**env, "FLICKR_API_KEY": KEY, "FLICKR_API_SECRET": SECRET})
    assert result.returncode == 0, result.stderr
    assert read_class_manifest(tmp_path / "aeroplane")["count"] == 3
    assert read_class_manifest(tmp_path / "cat")["parameters"]["keyword"] == "kitten"
    assert "cat: 2 of 3" in result.stderr and "1 short of 3" in result.stdout
    assert KEY not in result.stdout + result.stderr and SECRET not in result.stderr
    missing = run_cli("--out", str(tmp_path / "x"), "--rest_url", "http://127.0.0.1:9/", env=env)
    assert missing.returncode == 2
    assert missing.stderr.startswith(
        "error: no Flickr API key: FLICKR_API_KEY and FLICKR_API_SECRET"), missing.stderr
    assert "Traceback" not in missing.stderr and not (tmp_path / "x").exists()

