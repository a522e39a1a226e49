"""TrainManager: the plan of an experiment and its content keys."""

import logging

import gin
import pytest

import suite  # noqa: F401  (registers every configurable the files bind)
from continual.gin_files import parse_gin
from train_manager import TrainManager

HASHES = {"train": "train-hash", "val": "val-hash"}
TINY = ["TrainManager.pretrained_encoder = None", "build_encoder.backbone = 'tiny'"]


def plan(config: str, test: str, *params: str, hashes=HASHES, source=None):
    parse_gin([f"config/{config}.gin"], [*TINY, *params])
    manager = TrainManager(test_type=test, replay_source=source)
    return {step.name: step for step in manager.plan(hashes)}


def keys(steps):
    return {name: step.key for name, step in steps.items()}


def test_plan_lists_steps_and_evaluations_in_order():
    steps = plan("FINE_TUNING_DISJOINT_NO_MIX", "15-1x5")
    assert list(steps) == [f"{kind}{i}" for i in range(6) for kind in ("step", "eval")]
    assert steps["step0"].kind == "model_step0"
    assert steps["step3"].kind == "model_incremental"
    assert steps["step3"].depends == ("step2",)
    assert steps["eval3"].depends == ("step3",)
    assert steps["step3"].inputs["previous"] == steps["step2"].key
    assert steps["step3"].step.new_classes == (18,)


def test_experiments_sharing_a_prefix_share_keys():
    a = keys(plan("FINE_TUNING_DISJOINT_NO_MIX", "15-5"))
    b = keys(plan("FINE_TUNING_DISJOINT_NO_MIX", "15-1x5"))
    assert a["step0"] == b["step0"] and a["eval0"] == b["eval0"]
    assert a["step1"] != b["step1"]
    # Sequential and disjoint configs share the sequential step 0; overlapped does not.
    c = keys(plan("FINE_TUNING", "15-5"))
    d = keys(plan("FINE_TUNING_OVERLAPPED_NO_MIX", "15-5"))
    assert c["step0"] == a["step0"] and c["step1"] != a["step1"]
    assert d["step0"] != a["step0"]


def test_changing_an_incremental_value_retrains_from_step_1_only():
    base = keys(plan("FINE_TUNING_DISJOINT_NO_MIX", "10-2x5"))
    changed = keys(plan("FINE_TUNING_DISJOINT_NO_MIX", "10-2x5",
                        "TrainManager.lr_initial_value_incremental = 1e-3"))
    assert base["step0"] == changed["step0"] and base["eval0"] == changed["eval0"]
    assert all(base[f"{k}{i}"] != changed[f"{k}{i}"] for i in range(1, 6) for k in ("step", "eval"))


def test_step0_values_model_data_and_seed_change_every_key():
    base = keys(plan("FINE_TUNING_DISJOINT_NO_MIX", "15-5"))
    for params, hashes in ((["TrainManager.lr_initial_value = 1e-3"], HASHES),
                           (["aspp_v2.rates = (1, 2, 3, 4)"], HASHES),
                           (["TrainManager.seed = 1"], HASHES),
                           ([], {"train": "other", "val": "val-hash"})):
        other = keys(plan("FINE_TUNING_DISJOINT_NO_MIX", "15-5", *params, hashes=hashes))
        assert all(base[n] != other[n] for n in base), params
    val_only = keys(plan("FINE_TUNING_DISJOINT_NO_MIX", "15-5",
                         hashes={"train": "train-hash", "val": "other"}))
    assert val_only["step0"] == base["step0"] and val_only["eval0"] != base["eval0"]


def test_share_artifacts_false_isolates_experiments():
    a = keys(plan("FINE_TUNING_DISJOINT_NO_MIX", "15-5", "TrainManager.share_artifacts = False"))
    b = keys(plan("FINE_TUNING_DISJOINT_NO_MIX", "15-1x5", "TrainManager.share_artifacts = False"))
    assert a["step0"] != b["step0"]


def test_iterations_follow_the_paper_rule():
    steps = plan("FINE_TUNING_OVERLAPPED_NO_MIX", "15-5")
    assert steps["step0"].inputs["stage"]["steps_per_class"] == 1500
    assert steps["step0"].inputs["setup"] == "overlapped"
    assert steps["step1"].inputs["stage"]["setup"] == "overlapped"


def test_bad_inputs_get_clear_errors():
    with pytest.raises(ValueError, match="ADD_ONE_ONE_TIME"):
        plan("FINE_TUNING", "16-4")
    with pytest.raises(ValueError, match="unknown replay_source 'web'"):
        plan("FINE_TUNING", "15-5", source="web")
    with pytest.raises(TypeError, match="TrainManager.batch_size must be an integer"):
        plan("FINE_TUNING", "15-5", "TrainManager.batch_size = 'four'")
    with pytest.raises(ValueError, match="batch_sise"):
        plan("FINE_TUNING", "15-5", "TrainManager.batch_sise = 4")
    with pytest.raises(ValueError, match="make_strategy|No configurable matching"):
        plan("FINE_TUNING", "15-5", "make_stratgy.name = 'mirrored'")
    with pytest.raises(FileNotFoundError, match="pretrained_encoder = 'nowhere/ckpt'"):
        plan("FINE_TUNING", "15-5", "TrainManager.pretrained_encoder = 'nowhere/ckpt'")


def test_replay_plan_orders_dependencies_and_keys_labels_by_test_and_source(tmp_path):
    gan = ("GanReplay.generator_handle = 'gen'", "GanReplay.classifier_handle = 'clf'")
    steps = plan("DISJOINT", "10-2x5", *gan, source="gan")
    names = list(steps)
    for name, step in steps.items():  # every dependency comes before its dependent
        assert all(names.index(d) < names.index(name) for d in step.depends), name
    assert steps["labels3"].depends == ("images3", "step0")        # step-0 classes: step-0 model
    assert steps["labels12"].depends == ("images12", "helper11-12")  # later: their helper
    assert steps["helper11-12"].step.setup == "sequential"
    assert "helper19-20" not in steps                                # last step: no replay
    assert steps["images12"].depends == ("map1",)
    assert {"inpaint1", "inpaint5"} <= set(steps)
    assert set(steps["step2"].depends) >= {"step1", "inpaint2", "labels1", "labels12"}
    other = plan("DISJOINT", "10-5-5", *gan, source="gan")
    assert other["images3"].key == steps["images3"].key        # same images, shared
    assert other["labels3"].key != steps["labels3"].key        # labelled per test
    assert other["inpaint1"].key != steps["inpaint1"].key
    (tmp_path / "aeroplane").mkdir()
    with pytest.raises(FileNotFoundError, match="no complete web replay set"):
        plan("SEQUENTIAL", "15-5", f"WebReplay.folder = '{tmp_path}'", source="flickr")


def test_original_index_bindings_are_accepted_and_ignored(caplog):
    base = keys(plan("FINE_TUNING", "15-5"))
    with caplog.at_level(logging.WARNING):
        other = keys(plan("FINE_TUNING", "15-5", "TrainManager.parameters_common_index = 3"))
    assert other == base
    assert "parameters_*_index bindings are ignored" in caplog.text
    gin.clear_config()


def test_an_original_config_plans_the_papers_model_and_needs_its_pretrained_encoder(tmp_path):
    """Issue 12, items 7 and 10: no model bindings = ResNet-101 from ImageNet weights."""
    from continual.models.segmenter import build_encoder
    original = tmp_path / "DISJOINT.gin"   # an original config: TrainManager bindings only
    original.write_text("TrainManager.dataset_type_incremental = 'disjoint'\n"
                        "TrainManager.mix_labels = True\n")
    gin.parse_config_files_and_bindings([str(original)], [])
    with pytest.raises(FileNotFoundError, match=r"'checkpoints/encoders/pretrained'.*"
                       r"resnet_v1_101.*None only to train from random initialisation"):
        TrainManager(test_type="ADD_FIVE_ONE_TIME").plan(HASHES)
    assert build_encoder().count_params() > 40_000_000   # DeepLab-v2 ResNet-101


def test_random_initialisation_only_when_bound_explicitly_and_logged(caplog):
    with caplog.at_level(logging.WARNING):
        plan("FINE_TUNING", "15-5")
    assert "pretrained_encoder = None: step 0 starts from random initialisation" in caplog.text


def test_methods_are_named_by_what_runs():
    """Issue 12 item 13: a fine-tuning config with a replay source replays nothing."""
    def method(config, source):
        parse_gin([f"config/{config}.gin"], TINY)
        return TrainManager(test_type="15-5", replay_source=source).method
    assert method("FINE_TUNING_DISJOINT", "gan") == "inpainting-only"
    assert method("FINE_TUNING_OVERLAPPED_NO_MIX", "flickr") == "fine-tuning"
    assert method("DISJOINT", "gan") == "RECALL-GAN"
    assert method("SEQUENTIAL", "flickr") == "RECALL-web"


def test_a_one_class_helper_trains_on_its_steps_images_with_the_other_classes_allowed():
    """Issue 12 item 3: as the original's per-class files (class c new, its step's others ok)."""
    from continual.data.splits import step_images
    steps = plan("DISJOINT", "10-5-5", "TrainManager.helper_decoders_one_class = True",
                 "GanReplay.generator_handle = 'g'", "GanReplay.classifier_handle = 'c'",
                 source="gan")
    helper = steps["helper12"].step
    assert helper.new_classes == (12,) and helper.future_classes == (16, 17, 18, 19, 20)
    records = [(0, 12, 13), (0, 12), (0, 13), (0, 12, 17)]
    assert step_images(helper, records) == [0, 1]   # 13 is allowed, 17 (a later step) is not
