"""Up-front checks of a RECALL experiment: what can be checked is checked before any stage.

The network is built from its gin bindings (a bad `aspp_v2.rates` or `tiny_encoder.widths`
fails here, not mid-training), the pretrained encoder is loaded into it (a non-HDF5, truncated
or wrong-shape file is refused naming `TrainManager.pretrained_encoder`), and the loop settings
are range-checked. A model is built once per process for each distinct set of bindings and
weights, so a 43-experiment suite pays for it once. The replay inputs are checked too: every
image of a replay folder made beforehand must decode (checked once per folder manifest), and the
GAN and classifier handles are loaded and their signatures checked (not in a dry run, which
must not download models).
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from continual import planning
from continual.errors import InputError
from continual.methods.segmentation import LoopSettings
from continual.models.pretrained import PretrainedWeightsError, load_encoder_weights
from continual.models.segmenter import build_segmenter
from continual.plans.replay_plan import GanReplay, WebReplay, web_class_folder
from continual.replay import hub_models
from continual.replay.folders import verified_images

_checked: set[str] = set()


def check_experiment(manager) -> None:
    """Raise an InputError naming the binding or file if the experiment cannot train."""
    LoopSettings()  # checks its own values
    pretrained = manager.pretrained_encoder
    fingerprint = planning.file_fingerprint(pretrained)
    key = json.dumps([planning.model_bindings(), manager.common["n_classes"], fingerprint],
                     sort_keys=True, default=repr)
    if key in _checked:
        return
    try:
        segmenter = build_segmenter(num_classes=manager.common["n_classes"])
    except (TypeError, ValueError) as err:
        raise InputError(f"the model bindings do not build a network: {err}\nFix the gin "
                         "bindings of build_encoder / build_decoder and their backbones and "
                         "heads") from err
    if pretrained is not None and not str(fingerprint).startswith("missing:"):
        _check_pretrained(segmenter.encoder, pretrained)
    keras.backend.clear_session()
    _checked.add(key)


def _check_pretrained(encoder: keras.Model, path: str) -> None:
    try:
        load_encoder_weights(encoder, path)
    except (PretrainedWeightsError, OSError, tf.errors.OpError) as err:
        kind = "file" if os.path.isfile(path) else "checkpoint"
        raise PretrainedWeightsError(
            f"TrainManager.pretrained_encoder = {path!r}: this {kind} cannot be loaded into the "
            f"encoder ({err}). Point the binding at a DeepLab-v2 resnet_v1_101 checkpoint or a "
            ".weights.h5 file saved by encoder.save_weights for the same build_encoder "
            "settings") from err


def check_replay_inputs(steps) -> None:
    """Decode-check the replay folders the plan reads and load the TF-Hub handles it uses."""
    for step in steps:
        if step.kind == "replay_images":
            _check_folder(step)
        if step.kind == "class_mapping" and not planning.planning_only():
            _check_handles(GanReplay())


def _check_folder(step) -> None:
    digest = step.inputs.get("gan_manifest") or step.inputs.get("web_manifest")
    if digest is None or digest.startswith("missing:") or digest in _checked:
        return
    source = GanReplay() if "gan_manifest" in step.inputs else WebReplay()
    verified_images(web_class_folder(source, step.inputs["class"]))  # raises naming the file
    _checked.add(digest)


def _check_handles(gan: GanReplay) -> None:
    for binding, handle, load in (
            ("GanReplay.generator_handle", gan.generator_handle, hub_models.load_generator),
            ("GanReplay.classifier_handle", gan.classifier_handle,
             hub_models.load_classifier)):
        if f"{binding}:{handle}" in _checked:
            continue
        try:
            load(handle)
        except hub_models.HubModelError as err:
            raise hub_models.HubModelError(f"{binding} = {handle!r}: {err}") from err
        _checked.add(f"{binding}:{handle}")
