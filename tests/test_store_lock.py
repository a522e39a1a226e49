"""Claims on artefact keys: a live holder in another process blocks (or is named to a claim
that does not wait), a holder killed with SIGKILL is taken over, the lock names its holder."""

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from continual.data.stale_temps import process_start
from continual.store_lock import KeyLocks, StageClaimed, hold, holder_of

ROOT = Path(__file__).resolve().parents[1]
HOLDER = """
import sys
sys.path.insert(0, sys.argv[1])
from continual.store_lock import hold
with hold(sys.argv[2]):
    print("held", flush=True)
    sys.stdin.readline()  # hold until the test writes a line (or kills this process)
"""


def start_holder(path: Path) -> subprocess.Popen:
    """Another process that holds the lock at `path` once it has printed "held"."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(ROOT), str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_live_holder_blocks_and_is_named(tmp_path, caplog):
    path = KeyLocks(tmp_path).path("model_step0", "abc")
    assert path == tmp_path / ".locks" / "model_step0" / "abc.lock"
    holder = start_holder(path)
    try:
        with pytest.raises(StageClaimed, match=f"{socket.gethostname()} pid {holder.pid} "):
            with hold(path, wait=False):
                pass
        acquired = threading.Event()

        def claim_and_wait():
            with hold(path, poll_seconds=0.05, what="model_step0/abc"):
                acquired.set()

        with caplog.at_level(logging.INFO):
            waiter = threading.Thread(target=claim_and_wait)
            waiter.start()
            time.sleep(0.5)
            assert not acquired.is_set()  # the holder is alive: the claim waits
            holder.communicate("release\n", timeout=10)
            waiter.join(timeout=10)
        assert acquired.is_set()
        assert f"waiting for model_step0/abc: claimed by {socket.gethostname()} pid " \
               f"{holder.pid}" in caplog.text
    finally:
        holder.kill()
        holder.wait()


def test_a_dead_holder_is_taken_over(tmp_path):
    path = tmp_path / "kind" / "key.lock"
    holder = start_holder(path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert f"pid {holder.pid} (process start " in holder_of(path)  # the dead holder's text
    with hold(path, wait=False):  # no waiting: the OS released the dead process's lock
        assert holder_of(path).startswith(
            f"{socket.gethostname()} pid {os.getpid()} (process start "
            f"{process_start(os.getpid())} ticks after boot) since ")
    assert holder_of(path) == ""  # released cleanly: nobody holds it


def test_claims_in_one_process_exclude_each_other_and_poll_is_checked(tmp_path):
    locks = KeyLocks(tmp_path, poll_seconds=0.1)
    with locks.claim("stream_experience", "k1"):
        with pytest.raises(StageClaimed):
            with locks.claim("stream_experience", "k1", wait=False):
                pass
        with locks.claim("stream_experience", "k2", wait=False):  # another key: free
            pass
    with pytest.raises(ValueError, match="KeyLocks.poll_seconds = 0"):
        KeyLocks(tmp_path, poll_seconds=0)
