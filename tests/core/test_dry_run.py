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
    missing = out.split("inputs are missing")[1]
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
