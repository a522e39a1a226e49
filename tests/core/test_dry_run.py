"""`--dry_run` plans a paper config on a machine that has none of its inputs yet."""

from __future__ import annotations

import main


def _args(tmp_path, *extra):
    return ["--gin_file", "config/DISJOINT.gin", "--workdir", str(tmp_path / "runs"),
            "--gin_param", f"TrainManager.base_folder_path = '{tmp_path}'",
            "--gin_param", f"WebReplay.folder = '{tmp_path / 'flickr'}'", *extra]


def test_paper_config_plans_resnet101_without_data_or_weights(tmp_path, capsys):
    assert main.main(_args(tmp_path, "--dry_run")) == 0
    out = capsys.readouterr().out
    assert "14 experiments" in out
    assert out.count("(resnet101_v2 + aspp_v2)") == 14
    missing = out.split(" missing; the keys")[1]
    assert "voc/train.manifest.json does not exist" in missing
    assert "voc/val.manifest.json does not exist" in missing
    assert "pretrained_encoder" in missing and "checkpoints/README.md" in missing
    assert "flickr/cat/manifest.json does not exist" in missing
    assert "reuse (on disk)" not in out  # nothing on disk under a placeholder key
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "runs").exists()


def test_a_real_run_still_refuses_missing_data(tmp_path, capsys):
    assert main.main(_args(tmp_path, "--only", "DISJOINT_15-5_gan")) == 2
    assert "voc/train.manifest.json does not exist" in capsys.readouterr().err
    assert not (tmp_path / "checkpoints").exists()


def _stream_args(tmp_path, config, *extra):
    return ["--gin_file", config, "--workdir", str(tmp_path / "runs"),
            "--gin_param", f"StreamPlan.data_dir = '{tmp_path / 'mine'}'",
            "--gin_param", f"TrainManager.checkpoint_dir = '{tmp_path / 'ckpt'}'", *extra]


def test_a_stream_experiment_plans_without_its_data_and_names_the_stream_converters(
        tmp_path, capsys):
    assert main.main(_stream_args(tmp_path, "config/ports/baselines/ER.gin", "--dry_run")) == 0
    out = capsys.readouterr().out
    assert out.count("stream_experience") == 5 and out.count("stream_evaluation") == 6
    missing = out.split(" missing; the keys")[1]
    assert "mine/train.manifest.json and" in missing and "test.manifest.json do not" in missing
    for converter in ("image_folder", "cifar", "idx", "synthetic_stream"):
        assert f"python -m continual.data.{converter} " in missing
    assert "continual.data.voc" not in out and "continual.data.synthetic " not in out
    assert not (tmp_path / "ckpt").exists() and not (tmp_path / "runs").exists()

    joint = _stream_args(tmp_path, "config/ports/baselines/JOINT.gin", "--dry_run")
    assert main.main(joint) == 0
    assert capsys.readouterr().out.count("stream_experience") == 1

    assert main.main(_stream_args(tmp_path, "config/ports/baselines/ER.gin")) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(err) == 1 and "python -m continual.data.image_folder" in err[0], err
    assert not (tmp_path / "ckpt").exists()
