"""No binding of RECALL's configurables silently does nothing (issue 12, item 6).

Every argument of every RECALL configurable is one of: refused (the code always passes it; the
error names the binding to use), keyed (binding it changes the plan's keys), or listed below
with the reason it changes how a run goes but not what it computes. A new argument fails
`test_every_argument_of_every_recall_configurable_is_accounted_for` until it is placed.
"""

import inspect

import gin
import pytest

import suite  # noqa: F401 (registers generate_synthetic, prepare_replay_standins)
from continual.bindings import OWNERS
from continual.gin_files import parse_gin
from train_manager import TrainManager

RECALL_CONFIGURABLES = (
    "TrainManager", "train_stream", "mix_streams", "build_encoder", "build_decoder",
    "build_segmenter", "resnet101_v2", "tiny_encoder", "aspp_v2", "aspp_v3", "GanReplay",
    "WebReplay", "map_classes", "generate_class", "LoopSettings", "make_strategy",
    "generate_synthetic", "prepare_replay_standins", "sync_batch_norm")
BASE = ["TrainManager.pretrained_encoder = None", "build_encoder.backbone = 'tiny'",
        "GanReplay.generator_handle = 'gen'", "GanReplay.classifier_handle = 'clf'"]
HASHES = {"train": "train-hash", "val": "val-hash"}

# binding -> a value that must change the plan (its steps or their keys)
KEYED = {
    "TrainManager.helper_decoders_one_class": "True", "TrainManager.batch_size": "2",
    "TrainManager.dataset_mean": "(1.0, 2.0, 3.0)", "TrainManager.train_image_size": "64",
    "TrainManager.eval_pad_to": "512", "TrainManager.eval_batch_size": "2",
    "TrainManager.labelling_padded": "True", "TrainManager.momentum": "0.8",
    "TrainManager.decay_power": "1.0", "TrainManager.l2_decay": "0.0",
    "TrainManager.dataset_type_first_step": "'overlapped'",
    "TrainManager.lr_initial_value": "1e-3", "TrainManager.lr_final_value": "1e-5",
    "TrainManager.training_steps_per_class": "7",
    "TrainManager.dataset_type_helpers": "'overlapped'",
    "TrainManager.lr_initial_value_helper": "1e-3", "TrainManager.lr_final_value_helper": "1e-5",
    "TrainManager.training_steps_per_class_helper": "7",
    "TrainManager.dataset_type_incremental": "'overlapped'", "TrainManager.mix_labels": "False",
    "TrainManager.lr_initial_value_incremental": "1e-3",
    "TrainManager.lr_final_value_incremental": "1e-5",
    "TrainManager.training_steps_per_class_incremental": "7",
    "TrainManager.interleave_ratio_old": "2", "TrainManager.interleave_ratio_new": "2",
    "TrainManager.train_encoder_incremental": "True", "TrainManager.seed": "1",
    "TrainManager.share_artifacts": "False", "TrainManager.replay_images_per_class": "3",
    "TrainManager.mixed_precision": "'mixed_bfloat16'", "TrainManager.validate": "False",
    "TrainManager.pretrained_encoder": "'{weights}'",
    "train_stream.scale_range": "(0.5, 2.0)", "train_stream.num_parallel_calls": "2",
    "mix_streams.mode": "'mixed'", "build_encoder.backbone": "'resnet101_v2'",
    "build_encoder.bn_affine_trainable": "True", "build_encoder.input_channels": "4",
    "build_decoder.head": "'aspp_v3'", "resnet101_v2.units": "(1, 1, 1, 1)",
    "resnet101_v2.base_depth": "8", "resnet101_v2.name": "'r'",
    "resnet101_v2.output_stride": "16",
    "tiny_encoder.widths": "(8, 8, 8)", "tiny_encoder.bn_momentum": "0.5",
    "tiny_encoder.name": "'t'", "aspp_v2.rates": "(1, 2)", "aspp_v2.name": "'d'",
    "aspp_v3.rates": "(1, 2)", "aspp_v3.filters": "8", "aspp_v3.name": "'d'",
    "GanReplay.generator_handle": "'gen2'", "GanReplay.classifier_handle": "'clf2'",
    "GanReplay.images_per_class": "3", "GanReplay.truncation": "0.5",
    "GanReplay.batch_size": "2", "GanReplay.mapper_batch_size": "2",
    "GanReplay.overrides": "(('aeroplane', 5),)", "GanReplay.seed": "1",
    "TrainManager.code_in_keys": "False",
    "map_classes.image_size": "224", "map_classes.background_slot": "True",
}
# binding -> why it need not enter a key
NOT_KEYED = {
    "TrainManager.plan_kind": "selects another plan kind (StreamPlan), with its own keys",
    "TrainManager.test_name": "names the experiment; keys hold it when share_artifacts=False",
    "TrainManager.base_folder_path": "where data and artefacts live, not what they hold",
    "TrainManager.checkpoint_dir": "where artefacts live",
    "TrainManager.data_dir": "enters keys through the record sets' content hashes",
    "TrainManager.n_classes": "must be 21 (refused otherwise)",
    "TrainManager.start_decay_step": "must be 0 (refused otherwise)",
    "TrainManager.deterministic": "op determinism: the same computation, reproducible",
    "TrainManager.decay_steps_per_class": "original name, accepted and logged (poly horizon "
                                          "is the stage's iteration count)",
    "TrainManager.decay_steps_per_class_helper": "as decay_steps_per_class",
    "TrainManager.decay_steps_per_class_incremental": "as decay_steps_per_class",
    "TrainManager.parameters_common_index": "original name, accepted with a warning",
    "TrainManager.parameters_fs_index": "as parameters_common_index",
    "TrainManager.parameters_helper_index": "as parameters_common_index",
    "TrainManager.parameters_incremental_index": "as parameters_common_index",
    "WebReplay.folder": "enters keys through each class folder's manifest hash",
    "GanReplay.folder": "as WebReplay.folder (tests/core/test_gan_folder.py)",
    "LoopSettings.checkpoint_every": "how often a stage saves, not what it computes",
    "LoopSettings.log_every": "logging only",
    "LoopSettings.jit_compile": "XLA compilation of the same train step",
    "LoopSettings.warmup_iterations": "throughput measurement only",
    "make_strategy.name": "devices a step runs on",
    "sync_batch_norm.enabled": "with one replica BN is the same either way (batch_norm.py)",
    **{f"generate_synthetic.{a}": "the data it writes enters keys by content hash"
       for a in ("size", "num_train", "num_val", "seed", "records_per_shard", "void_border")},
    **{f"prepare_replay_standins.{a}": "stand-ins enter keys by build record and manifests"
       for a in ("size", "seed", "web_per_class", "web_size")},
}


def arguments(name: str) -> list[str]:
    target = gin.config._REGISTRY.get_match(name).wrapped  # the registry gin parses against
    params = inspect.signature(target).parameters.values()
    return [f"{name}.{p.name}" for p in params
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def test_every_argument_of_every_recall_configurable_is_accounted_for():
    walked = [b for name in RECALL_CONFIGURABLES for b in arguments(name)]
    unplaced = [b for b in walked if b not in OWNERS and b not in KEYED and b not in NOT_KEYED]
    assert unplaced == []
    placed_twice = [b for b in walked if b in OWNERS and (b in KEYED or b in NOT_KEYED)]
    assert placed_twice == []


@pytest.mark.parametrize("binding", sorted(b for b in OWNERS
                                           if b.split(".")[0] in RECALL_CONFIGURABLES))
def test_a_binding_the_code_would_override_is_refused_naming_its_owner(binding):
    owner = OWNERS[binding]
    expected = f"bind {owner}" if owner else "the runner derives it"
    with pytest.raises(ValueError) as refused:
        parse_gin([], [f"{binding} = 1"])
    assert f"{binding} cannot be bound" in str(refused.value)
    assert expected in str(refused.value)


def plan_keys(*params: str) -> set:
    parse_gin(["config/DISJOINT.gin"], [*BASE, *params])
    return {(s.name, s.key) for s in TrainManager("10-2x5", "gan").plan(HASHES)}


def test_every_keyed_binding_changes_the_plan(tmp_path):
    weights = tmp_path / "encoder.weights.h5"
    weights.write_bytes(b"weights")
    base = plan_keys()
    unchanged = [b for b, value in KEYED.items()
                 if plan_keys(f"{b} = {value.format(weights=weights)}") == base]
    assert unchanged == []
