"""Flickr crawl faults: a transient failure is retried later, never a shortfall; a killed crawl
leaves no temporary file once it is rerun. Against the fake Flickr on 127.0.0.1."""

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from continual.data.stale_temps import TempFileError, temp_file_writer
from continual.replay.crawl_state import FAILED
from continual.replay.flickr import DownloadsFailed, download_class, make_client
from continual.replay.folders import read_class_manifest
from continual.replay.web_images import RequestPolicy
from tests.replay.fake_flickr import FakeFlickr, FakePhoto, Fault

KEY, SECRET = "K3Yzz9f1c0ffee5eed", "S3CRzz77aa1dea5bad"
REPO = Path(__file__).resolve().parents[2]
OUTAGE = [Fault(status=503)] * 2      # as many as the attempts of the policy below
# Writes an image of the class folder through our atomic writer and waits there to be killed.
KILLED_WRITER = """
import sys, time
from pathlib import Path
from continual.data.atomic import atomic_target
with atomic_target(Path(sys.argv[1]) / "00002.jpg") as tmp:
    tmp.write_bytes(b"half an image")
    print("ready", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def fake():
    photos = [FakePhoto(f"p{i}", owner=f"owner{i}") for i in range(5)]
    with FakeFlickr(KEY, SECRET, {"airplane": photos}) as server:
        yield server


def download(fake, out, count, **options):
    policy = RequestPolicy(max_retries=1, backoff_s=0.0, api_rps=None, download_rps=None)
    return download_class(make_client(KEY, SECRET, fake.rest_url), voc_class="aeroplane",
                          keyword="airplane", count=count, out_folder=out, policy=policy,
                          progress_bar=False, **options)


def photos_kept(folder):
    return [(e["file"], e["photo_id"]) for e in read_class_manifest(folder)["images"]]


def fetched(fake):
    return [r.params["photo"] for r in fake.image_requests()]


def test_failed_download_moves_on_and_the_class_finishes_when_enough(fake, tmp_path, caplog):
    fake.script("p1", *OUTAGE)
    with caplog.at_level(logging.INFO, logger="continual"):
        folder = download(fake, tmp_path, count=3)
    assert photos_kept(folder) == [("00000.jpg", "p0"), ("00001.jpg", "p2"), ("00002.jpg", "p3")]
    assert "photo p1: still failing after 2 attempts (last: HTTP 503" in caplog.text
    assert "aeroplane: 3 of 3 images (4 search results" in caplog.text
    assert "1 downloads failed" in caplog.text and not (folder / FAILED).exists()


def test_class_short_by_failures_is_unfinished_and_a_rerun_fetches_them(fake, tmp_path, caplog):
    fake.script("p1", *OUTAGE)
    fake.script("p3", *OUTAGE)
    with caplog.at_level(logging.INFO, logger="continual"), \
            pytest.raises(DownloadsFailed) as failed:
        download(fake, tmp_path, count=5)
    folder = tmp_path / "aeroplane"
    assert str(failed.value).startswith(
        "aeroplane: 3 of 5 images, 2 downloads failed (photo p1: still failing after 2 "
        "attempts (last: HTTP 503")
    assert "also photo p3); the class is not finished: rerun the same command" in str(failed.value)
    assert "search ran out" not in caplog.text
    assert read_class_manifest(folder) is None                    # not finished
    record = json.loads((folder / FAILED).read_text())["failed"]
    assert sorted(record) == ["p1", "p3"] and "HTTP 503" in record["p1"]["reason"]
    fake.requests.clear()
    rerun = download(fake, tmp_path, count=5)                       # the outage is over
    assert fetched(fake) == ["p1", "p3"]
    assert photos_kept(rerun) == [("00000.jpg", "p0"), ("00001.jpg", "p2"), ("00002.jpg", "p4"),
                                  ("00003.jpg", "p1"), ("00004.jpg", "p3")]
    assert not (folder / FAILED).exists()
    fake.requests.clear()
    download(fake, tmp_path, count=5)
    assert fake.requests == []                                      # complete now: skipped


def test_a_class_can_be_finished_short_on_request(fake, tmp_path):
    fake.script("p4", *OUTAGE)
    folder = download(fake, tmp_path, count=5, finish_despite_failures=True)
    assert [photo for _, photo in photos_kept(folder)] == ["p0", "p1", "p2", "p3"]
    assert not (folder / FAILED).exists()


def test_rerun_after_a_killed_crawl_leaves_no_temp_file(fake, tmp_path):
    folder = tmp_path / "aeroplane"
    folder.mkdir(parents=True)
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(folder)], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    left = [p.name for p in folder.iterdir()]
    assert len(left) == 1 and left[0].startswith(".00002.tmp-") and left[0].endswith(".jpg")
    assert temp_file_writer(left[0]).pid == child.pid
    fake.script("p1", *OUTAGE)
    with pytest.raises(DownloadsFailed):                 # a rerun that stays unfinished ...
        download(fake, tmp_path, count=5)
    assert not list(tmp_path.rglob("*.tmp-*"))           # ... has removed it before writing
    download(fake, tmp_path, count=5)
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "00000.jpg", "00001.jpg", "00002.jpg", "00003.jpg", "00004.jpg", "aeroplane",
        "manifest.json", "progress.jsonl"]


def test_a_live_writers_temp_file_stops_the_class_from_being_marked_complete(fake, tmp_path):
    live = tmp_path / "aeroplane" / f".00007.tmp-{os.getpid()}.jpg"
    live.parent.mkdir(parents=True)
    live.write_bytes(b"being written")
    with pytest.raises(TempFileError, match=r"replay class folder .*aeroplane is not marked "
                                            rf"complete: .*\.00007\.tmp-{os.getpid()}\.jpg"):
        download(fake, tmp_path, count=2)
    assert read_class_manifest(tmp_path / "aeroplane") is None and live.exists()


def run_cli(out, fake, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLICKR_")}
    env.update(FLICKR_API_KEY=KEY, FLICKR_API_SECRET=SECRET)
    return subprocess.run(
        [sys.executable, "flickr/download_flickr.py", "--out", str(out), "--classes",
         "aeroplane", "cat", "--per_class", "3", "--keywords", "cat=kitten", "--no_progress",
         "--rest_url", fake.rest_url, "--max_retries", "0", "--api_rps", "50",
         "--download_rps", "50", *extra], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120)


def test_cli_reports_failed_downloads_and_its_rerun_fetches_them(tmp_path):
    photos = {"airplane": [FakePhoto(f"p{i}") for i in range(3)],
              "kitten": [FakePhoto(f"c{i}") for i in range(3)]}
    with FakeFlickr(KEY, SECRET, photos) as fake:
        fake.script("p2", Fault(status=502))
        first = run_cli(tmp_path, fake)
        assert first.returncode == 2
        assert ("\nerror: aeroplane: 2 of 3 images, 1 downloads failed (photo "
                "p2: still failing after 1 attempts (last: HTTP 502") in "\n" + first.stderr
        assert "1 class under" in first.stderr and "rerun the same command" in first.stderr
        assert "search ran out" not in first.stderr and "Traceback" not in first.stderr
        assert read_class_manifest(tmp_path / "cat")["count"] == 3    # the others went on
        assert read_class_manifest(tmp_path / "aeroplane") is None
        fake.requests.clear()
        second = run_cli(tmp_path, fake)
        assert second.returncode == 0, second.stderr
        assert [r.params["photo"] for r in fake.image_requests()] == ["p2"]
    assert read_class_manifest(tmp_path / "aeroplane")["count"] == 3
