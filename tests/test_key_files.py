"""Bindings that hold a path enter the stream keys by their files' content
(`continual.key_files`): an ImageNet .npz rewritten at the same path changes every key, an
unset one adds nothing, a checkpoint prefix is hashed by its files, and a bound path with no
file is `error: ...` naming the binding (exit 2) before anything trains."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

import continual.models.resnet50d  # noqa: F401  (registers resnet50d_backbone with gin)
import main
import suite  # noqa: F401  (registers every configurable the files bind)
from continual import key_files
from continual.gin_files import parse_gin
from continual.replay.buffers.ssl_buffer import ContinuousBuffer
from tests.core.test_stream_keys import ER, data_dir  # noqa: F401  (fixture)
from tests.core.test_stream_run import stream_args
from train_manager import TrainManager

WEIGHTS = "resnet50d_backbone.imagenet_weights"


def plan_steps(data: Path, *params: str) -> dict:
    """The ER plan's steps by name (tiny convnet: the ResNet-50-D is never built; a bound
    registered binding enters the keys whether or not the model reads it)."""
    parse_gin([ER], [f"StreamPlan.data_dir = '{data}'",
                     "build_classifier.name = 'tiny_convnet'", *params])
    manager = TrainManager()
    sets = manager.planner.record_sets()
    steps = manager.plan({name: m.content_hash for name, m in sets.items()})
    return {step.name: step for step in steps}


def file_digest(path: Path) -> str:
    """planning.file_fingerprint of one file, by hand: sha256 of the file's sha256 (hex)."""
    return hashlib.sha256(hashlib.sha256(path.read_bytes()).hexdigest().encode()).hexdigest()


def test_an_npz_rewritten_at_the_same_path_changes_every_key(data_dir, tmp_path):  # noqa: F811
    path = tmp_path / "resnet50d_imagenet.npz"
    unset = plan_steps(data_dir)
    assert all("method_files" not in step.inputs for step in unset.values())
    np.savez(path, **{"conv1.0.weight": np.zeros((2, 3), np.float32)})
    first = plan_steps(data_dir, f"{WEIGHTS} = '{path}'")
    assert first["exp0"].inputs["method_files"] == {WEIGHTS: file_digest(path)}
    np.savez(path, **{"conv1.0.weight": np.ones((2, 3), np.float32)})  # same name and size
    second = plan_steps(data_dir, f"{WEIGHTS} = '{path}'")
    assert second["exp0"].inputs["method_files"] == {WEIGHTS: file_digest(path)}
    for name, step in first.items():  # training stages by content, evaluations by "model"
        assert step.key != second[name].key, name


def test_a_checkpoint_prefix_is_hashed_by_its_files(tmp_path):
    prefix = tmp_path / "state" / "state"
    prefix.parent.mkdir()
    (tmp_path / "state" / "state.index").write_bytes(b"index")
    (tmp_path / "state" / "state.data-00000-of-00001").write_bytes(b"data 1")
    parse_gin([], [f"ContinuousBuffer.restore_from = '{prefix}'"])
    first = key_files.bound_file_fingerprints()["ContinuousBuffer.restore_from"]
    (tmp_path / "state" / "state.data-00000-of-00001").write_bytes(b"data 22")
    assert key_files.bound_file_fingerprints()["ContinuousBuffer.restore_from"] != first


def test_registering_an_argument_the_configurable_lacks_is_refused():
    with pytest.raises(TypeError, match="ContinuousBuffer has no argument 'weights'"):
        key_files.register_file_binding(ContinuousBuffer, "weights")
    assert "ContinuousBuffer.weights" not in key_files.registered_file_bindings()
    assert {WEIGHTS, "ContinuousBuffer.restore_from"} <= set(key_files.registered_file_bindings())


def test_a_missing_file_is_an_error_naming_the_binding(tmp_path, capsys):
    absent = tmp_path / "absent.npz"
    args = stream_args(tmp_path, f"{WEIGHTS} = '{absent}'", only="ER")
    assert main.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {WEIGHTS} = '{absent}': no such file"), err
    assert not (tmp_path / "ckpt").exists()
    assert main.main([*args, "--dry_run"]) == 0  # a dry run lists it as missing
    out = capsys.readouterr().out
    assert "1 input is missing" in out and f"- {WEIGHTS} = '{absent}'" in out, out
