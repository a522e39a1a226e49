"""RECALL with replay end to end on tiny data, through the offline stand-ins."""

import json
import logging

import pytest
import tensorflow as tf

import main
from continual.replay.standins import SYNTHETIC_CLASS_IDS
from tests.core.test_suite_run import suite_args

EXPERIMENTS = ("DISJOINT_10-5-5_gan", "OVERLAPPED_10-5-5_flickr")


def replay_args(tmp, *extra):
    standins = tmp / "standins"
    params = [f"Suite.replay_standins_dir = '{standins}'", "Suite.tests = ['10-5-5']",
              "prepare_replay_standins.size = 32", "prepare_replay_standins.web_per_class = 5",
              "prepare_replay_standins.web_size = 40",
              f"GanReplay.generator_handle = '{standins / 'generator'}'",
              f"GanReplay.classifier_handle = '{standins / 'classifier'}'",
              "GanReplay.images_per_class = 5", "GanReplay.batch_size = 5",
              f"WebReplay.folder = '{standins / 'web'}'",
              "TrainManager.training_steps_per_class_helper = 2", *extra]
    args = [a for a in suite_args(tmp, 2, *params) if a != "--only"]
    args = [a for a in args if a != "FINE_TUNING_DISJOINT_NO_MIX_10-10"]
    for name in EXPERIMENTS:
        args += ["--only", name]
    return args


def infos(tmp, kind):
    return [json.loads(p.read_text())["info"]
            for p in sorted((tmp / "ckpt" / kind).glob("*/COMPLETE.json"))]


def test_replay_experiments_run_and_a_rerun_reuses_every_replay_artefact(tmp_path, caplog):
    assert main.main(replay_args(tmp_path)) == 0
    for name in EXPERIMENTS:
        path = tmp_path / "runs" / "experiments" / name / "metrics.jsonl"
        records = [json.loads(line) for line in path.read_text().splitlines()]
        assert [r["step"] for r in records] == [0, 1, 2]
        assert records[0]["method"] in ("RECALL-GAN", "RECALL-web")
    # The class mapper, run on the stand-in classifier, finds the generator's class ids.
    mapping = {k: v for info in infos(tmp_path, "class_mapping")
               for k, v in info["mapping"].items()}
    assert mapping["aeroplane"] == SYNTHETIC_CLASS_IDS[1]
    assert mapping["person"] == SYNTHETIC_CLASS_IDS[15]
    # Replayed classes: 1-10 at step 1, 1-15 at step 2, for each source; 16-20 never.
    labels = infos(tmp_path, "replay_labels")
    assert len(labels) == 2 * 15 and all(i["num_images"] == 5 for i in labels)
    assert len(infos(tmp_path, "helper_decoder")) == 2           # 11-15, per helper setup
    assert len(infos(tmp_path, "inpainted")) == 2 * 2
    summary = (tmp_path / "runs" / "summary.md").read_text()
    assert "RECALL-GAN" in summary and "RECALL-web" in summary

    before = sorted(p.stat().st_mtime_ns for p in (tmp_path / "ckpt").rglob("COMPLETE.json"))
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert main.main(replay_args(tmp_path)) == 0
    after = sorted(p.stat().st_mtime_ns for p in (tmp_path / "ckpt").rglob("COMPLETE.json"))
    assert after == before and " running " not in caplog.text


@pytest.mark.slow
def test_an_independent_run_rebuilds_every_replay_artefact_with_the_same_key_and_bytes(tmp_path):
    assert main.main(replay_args(tmp_path)) == 0
    # An independent run (new data folder, rebuilt stand-ins, empty store) whose incremental
    # steps differ (another learning rate), so different stages ran before each helper:
    # everything upstream of the change gets the same key, and the same bytes.
    again = tmp_path / "again"
    assert main.main(replay_args(again, "TrainManager.lr_initial_value_incremental = 1e-3")) == 0
    for kind in ("model_step0", "class_mapping", "replay_images", "helper_decoder"):
        assert keys(again, kind) == keys(tmp_path, kind), kind
    assert keys(again, "model_incremental").isdisjoint(keys(tmp_path, "model_incremental"))
    for key in keys(tmp_path, "helper_decoder"):
        assert weights(again, key) == weights(tmp_path, key)


def keys(tmp, kind):
    return {p.name for p in (tmp / "ckpt" / kind).iterdir()}


def weights(tmp, key):
    reader = tf.train.load_checkpoint(str(tmp / "ckpt" / "helper_decoder" / key / "weights"
                                          / "decoder"))
    return {name: reader.get_tensor(name).tobytes()
            for name in sorted(reader.get_variable_to_shape_map()) if "VARIABLE_VALUE" in name}
