"""Temporary files of killed writers are removed before a rerun writes, never a live one's."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from continual.artifacts import ArtifactStore
from continual.data.atomic import atomic_target
from continual.data.records import Record
from continual.data.shards import RecordWriter
from continual.data.stale_temps import (
    TempFileError,
    Writer,
    host_tag,
    process_start,
    refuse_temp_files,
    temp_file_pid,
    temp_file_writer,
    this_writer,
)


@pytest.fixture(scope="module")
def dead_pid():
    """The id of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half-written")
    return path


def record(image_id: str) -> Record:
    return Record(image=b"jpeg", label=None, image_id=image_id, height=4, width=4)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_temp_names_of_every_writer_are_recognised_and_others_are_not():
    assert temp_file_pid(".00001.tmp-4242.jpg") == 4242
    assert temp_file_pid(".train-00000.tfrecord.tmp-77") == 77
    assert temp_file_pid(".train.manifest.tmp-5.json") == 5
    for name in ("00001.jpg", "x.tmp-4242.jpg", ".hidden", ".a.tmp-.jpg", ".a.tmp-12.tar.gz"):
        assert temp_file_pid(name) is None


def test_prepare_removes_only_temp_files_of_dead_processes(tmp_path, dead_pid):
    store = ArtifactStore(tmp_path)
    folder = store.path("step", "k1")
    stale = [touch(folder / f".00001.tmp-{dead_pid}.jpg"),
             touch(folder / "ckpt" / f".train-00000.tfrecord.tmp-{dead_pid}")]
    live = touch(folder / f".metrics.tmp-{os.getpid()}.json")
    others = [touch(folder / f"data.tmp-{dead_pid}.jpg"), touch(folder / ".hidden")]
    store.prepare("step", "k1", {"a": 1})
    assert not any(path.exists() for path in stale)
    assert live.exists() and all(path.exists() for path in others)


def test_complete_refuses_while_a_temp_file_is_inside(tmp_path, dead_pid):
    store = ArtifactStore(tmp_path)
    folder = store.prepare("step", "k1", {})
    live = touch(folder / "weights" / f".model.tmp-{os.getpid()}.h5")
    with pytest.raises(TempFileError, match=rf"artefact step/k1 is not marked complete: "
                                            rf".*model.tmp-{os.getpid()}.h5 \(this process\)"):
        store.complete("step", "k1", {})
    assert not store.is_complete("step", "k1")
    live.unlink()
    touch(folder / f".late.tmp-{dead_pid}.json")      # a killed writer's: removed, not refused
    store.complete("step", "k1", {"ok": True})
    assert store.info("step", "k1") == {"ok": True}
    assert files_under(folder) == ["COMPLETE.json", "key_inputs.json", "weights"]


def test_record_writer_removes_stale_shards_and_refuses_a_live_writers(tmp_path, dead_pid):
    stale = touch(tmp_path / f".train-00003.tfrecord.tmp-{dead_pid}")
    other_set = touch(tmp_path / f".val-00000.tfrecord.tmp-{dead_pid}")
    with RecordWriter(tmp_path, "train", records_per_shard=1) as writer:
        writer.write(record("a"))
    assert not stale.exists() and other_set.exists()   # only its own set's temp files
    live = touch(tmp_path / f".train-00009.tfrecord.tmp-{os.getpid()}")
    with pytest.raises(TempFileError, match=r"record set .*train is not marked complete: "
                                            r".*\.train-00009\.tfrecord\.tmp-"):
        with RecordWriter(tmp_path, "train", records_per_shard=1) as writer:
            writer.write(record("b"))
    assert live.exists()



def test_temp_names_carry_host_pid_and_start_time(tmp_path):
    """Issue 24, item 6: the writer is named by host, process id and process start time."""
    with atomic_target(tmp_path / "metrics.json") as tmp:
        tmp.write_text("{}")
        assert temp_file_writer(tmp.name) == this_writer()
    me = this_writer()
    assert me.host == host_tag() and me.pid == os.getpid()
    assert me.start == process_start(os.getpid()) and me.start > 0
    assert temp_file_writer(".a.tmp-node7-42-9001.json") == Writer("node7", 42, 9001)
    assert temp_file_writer(".a.tmp-42.json") == Writer(None, 42, None)  # the older names


def test_a_temp_whose_pid_was_reused_is_stale(tmp_path):
    """A live process with the file's id that started at another time did not write it (an id
    reused after a reboot, or pid 1 of every container): the file is removed, not waited for."""
    me = this_writer()
    reused = [touch(tmp_path / f".a.tmp-{me.host}-{me.pid}-{me.start + 1}.json"),
              touch(tmp_path / f".b.tmp-{me.host}-1-{process_start(1) + 1}.json")]
    live = touch(tmp_path / f".c.tmp-{me.host}-{me.pid}-{me.start}.json")
    with pytest.raises(TempFileError, match=r"\.c\.tmp-.* \(this process\)"):
        refuse_temp_files(tmp_path, "the folder")
    assert not any(path.exists() for path in reused) and live.exists()


def test_another_hosts_temp_is_left_alone_and_named(tmp_path, dead_pid):
    other = touch(tmp_path / f".a.tmp-otherhost{host_tag()}-{dead_pid}-5.json")
    with pytest.raises(TempFileError, match=rf"process {dead_pid} on host otherhost.*cannot "
                                            r"check; if nothing there writes it"):
        refuse_temp_files(tmp_path, "the folder")
    assert other.exists()
