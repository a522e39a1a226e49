"""Through main.py, as a user runs it: a record set whose manifest was edited is refused with
`error: ... does not match its manifest ...` and exit 2 before any stage trains, for a stream
(classification) experiment and a RECALL (segmentation) one."""

from __future__ import annotations

import json
from pathlib import Path

import main
from continual.data.manifest import manifest_path
from continual.data.synthetic import generate_synthetic
from continual.data.synthetic_stream import generate_stream_set


def swap_first_labels(data_dir: Path) -> None:
    """Give the train manifest's first record the classes of a record that has others."""
    path = manifest_path(data_dir, "train")
    data = json.loads(path.read_text())
    first = data["records"][0]
    other = next(r for r in data["records"] if r["classes"] != first["classes"])
    first["classes"], other["classes"] = other["classes"], first["classes"]
    path.write_text(json.dumps(data))


def run(args: list[str], params: list[str], capsys) -> tuple[int, str]:
    for param in params:
        args += ["--gin_param", param]
    capsys.readouterr()
    code = main.main(args)
    return code, capsys.readouterr().err


def test_a_stream_run_on_an_edited_manifest_stops_before_training(tmp_path, capsys):
    data = tmp_path / "data"
    generate_stream_set(data, num_classes=4, size=12, train_per_class=12, test_per_class=2,
                        run_length=4)
    swap_first_labels(data)
    code, err = run(["--gin_file", "config/ports/baselines/demo.gin", "--workdir",
                     str(tmp_path / "runs"), "--only", "ER"],
                    ["Suite.stream_data_dir = None", f"StreamPlan.data_dir = '{data}'",
                     "class_incremental.num_tasks = 2",
                     f"TrainManager.checkpoint_dir = '{tmp_path / 'ckpt'}'"], capsys)
    assert code == 2, err[-2000:]
    assert "error: " in err and "Traceback" not in err
    assert f"{data / 'train-00000.tfrecord'} does not match its manifest" in err, err[-2000:]
    assert "rebuild it with `python -m continual.data.synthetic_stream`" in err
    assert not list(tmp_path.rglob("COMPLETE.json"))


def test_a_recall_run_on_an_edited_manifest_stops_before_training(tmp_path, capsys):
    data = tmp_path / "data"
    generate_synthetic(data, size=32, num_train=12, num_val=4)
    swap_first_labels(data)
    code, err = run(["--gin_file", "config/demo.gin", "--workdir", str(tmp_path / "runs"),
                     "--only", "FINE_TUNING_DISJOINT_NO_MIX_10-10"],
                    ["Suite.synthetic_data_dir = None", "Suite.replay_standins_dir = None",
                     f"TrainManager.data_dir = '{data}'",
                     f"TrainManager.checkpoint_dir = '{tmp_path / 'ckpt'}'"], capsys)
    assert code == 2, err[-2000:]
    assert "error: " in err and "Traceback" not in err
    assert f"{data / 'train-00000.tfrecord'} does not match its manifest" in err, err[-2000:]
    assert "rebuild it with `python -m continual.data.synthetic`" in err
    assert not list(tmp_path.rglob("COMPLETE.json"))
