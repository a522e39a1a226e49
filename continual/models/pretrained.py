"""Load pretrained encoder weights: a Keras `.weights.h5` file or a TF1 `resnet_v1_101` checkpoint.

TF1 names follow RECALL's DeepLab-v2 checkpoints: `resnet_v1_101/conv1/weights`,
`resnet_v1_101/conv1/BatchNorm/{beta,gamma,moving_mean,moving_variance}` and
`resnet_v1_101/block{b}/unit_{u}/bottleneck_v1/{conv1,conv2,conv3,shortcut}/...` likewise. Every
encoder variable must be matched exactly once; loading never falls back to random weights.
"""

from __future__ import annotations

import os
import re
import warnings

import h5py
import keras
import tensorflow as tf

from continual.errors import InputError
from continual.models.checkpoints import assign_checked, resolve_checkpoint

TF1_SCOPE = "resnet_v1_101"
_UNIT_LAYER = re.compile(r"^block(\d+)_unit_(\d+)_(conv[123]|shortcut)(_bn)?$")
_STEM_LAYER = re.compile(r"^conv1(_bn)?$")
_BN_VARIABLES = ("beta", "gamma", "moving_mean", "moving_variance")
# Entries of a training checkpoint that are not encoder weights.
_OPTIMIZER_SLOTS = {"Momentum", "Adam", "Adam_1", "RMSProp", "RMSProp_1",
                    "ExponentialMovingAverage"}
_FIX = ("use a DeepLab-v2 resnet_v1_101 checkpoint for the encoder built by "
        "build_encoder('resnet101_v2') with the default units (3, 4, 23, 3) and base_depth 64 "
        "(a smaller encoder needs a checkpoint of the same size).")


class PretrainedWeightsError(InputError):
    """Pretrained weights that are missing or do not fit the encoder; names file and variable."""


def tf1_variable_name(keras_variable_path: str) -> str:
    """TF1 name of a `resnet101_v2` encoder variable, from its Keras path (`layer/variable`).

    `conv1/kernel` -> `resnet_v1_101/conv1/weights`;
    `block2_unit_1_shortcut_bn/moving_mean` ->
    `resnet_v1_101/block2/unit_1/bottleneck_v1/shortcut/BatchNorm/moving_mean`.
    """
    layer, variable = keras_variable_path.split("/")[-2:]
    unit, stem = _UNIT_LAYER.match(layer), _STEM_LAYER.match(layer)
    if unit:
        scope = f"{TF1_SCOPE}/block{unit[1]}/unit_{unit[2]}/bottleneck_v1/{unit[3]}"
        is_bn = unit[4] is not None
    elif stem:
        scope, is_bn = f"{TF1_SCOPE}/conv1", stem[1] is not None
    else:
        scope, is_bn = None, False
    if scope and is_bn and variable in _BN_VARIABLES:
        return f"{scope}/BatchNorm/{variable}"
    if scope and not is_bn and variable == "kernel":
        return f"{scope}/weights"
    raise PretrainedWeightsError(
        f"Encoder variable {keras_variable_path!r} has no {TF1_SCOPE} name; only the "
        "'resnet101_v2' encoder can load TF1 checkpoints (use a .weights.h5 file otherwise).")


def _is_encoder_entry(name: str) -> bool:
    """True for checkpoint entries the encoder must consume (not logits, slots, step counters)."""
    parts = name.split("/")
    return (parts[0] == TF1_SCOPE and len(parts) > 1 and parts[1] != "logits"
            and not _OPTIMIZER_SLOTS.intersection(parts))


def load_encoder_weights(encoder: keras.Model, path: str | os.PathLike) -> None:
    """Load `path` into `encoder`: a `*.h5` Keras weights file or a TF1 checkpoint (prefix/folder).

    Raises PretrainedWeightsError naming the file and the variable when the file is missing or
    any variable is missing, unexpected or mis-shaped.
    """
    path = os.fspath(path)
    if path.endswith(".h5"):
        _load_keras_weights(encoder, path)
        return
    prefix = resolve_checkpoint(path, PretrainedWeightsError)
    reader = tf.train.load_checkpoint(prefix)
    variables = {tf1_variable_name(v.path): v for v in encoder.weights}
    if len(variables) != len(encoder.weights):
        raise PretrainedWeightsError(f"Encoder {encoder.name!r} maps two variables to one TF1 "
                                     "name; its layer names must be unique.")
    stored = {name: name for name in reader.get_variable_to_shape_map() if _is_encoder_entry(name)}
    keras_paths = {name: v.path for name, v in variables.items()}
    assign_checked(variables, reader, stored, checkpoint=prefix, model_name=encoder.name,
                   error=PretrainedWeightsError, fix=_FIX,
                   describe=lambda name: f"{name!r} (encoder {keras_paths[name]!r})")


def _count_arrays(path: str) -> int:
    count = 0

    def visit(_, item):
        nonlocal count
        count += isinstance(item, h5py.Dataset)

    with h5py.File(path, "r") as handle:
        handle.visititems(visit)
    return count


def _load_keras_weights(encoder: keras.Model, path: str) -> None:
    """`encoder.load_weights` with a missing-file check and a check for surplus arrays."""
    if not os.path.isfile(path):
        raise PretrainedWeightsError(f"Encoder weights file {path!r} not found; pass an existing "
                                     "*.weights.h5 file saved by encoder.save_weights.")
    stored, expected = _count_arrays(path), len(encoder.weights)
    if stored != expected:
        raise PretrainedWeightsError(
            f"Encoder weights file {path!r} holds {stored} arrays but encoder {encoder.name!r} "
            f"has {expected} variables; save and load with the same build_encoder settings.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            encoder.load_weights(path)
        except ValueError as err:
            detail = re.sub(r", value=.*?\]>", ">", str(err), flags=re.S)
            raise PretrainedWeightsError(
                f"Encoder weights file {path!r} does not fit encoder {encoder.name!r}: {detail}"
                "\nFix: save and load with the same build_encoder settings.") from err
    skipped = [str(w.message) for w in caught if "freshly-initialized" in str(w.message)]
    if skipped:  # Keras only warns when it leaves layers at their initial values
        raise PretrainedWeightsError(
            f"Encoder weights file {path!r} left part of encoder {encoder.name!r} unloaded: "
            f"{skipped[0]}\nFix: save and load with the same build_encoder settings.")
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
