"""Save and restore the weights of ONE sub-model (encoder or decoder), with strict checks.

Encoder and decoders are saved separately so that helper decoders can share one encoder. The
checkpoint is a TF2 `tf.train.Checkpoint` whose entries are the model's variables keyed by
their Keras path (`block1_unit_1_conv1/kernel`, `aspp_conv1/bias`), so a mismatch can be named
precisely. A restore never proceeds partially: any missing, unexpected or mis-shaped variable
raises `CheckpointMismatchError` naming the checkpoint, the variable and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import keras
import tensorflow as tf

from continual.artifacts import MARKER
from continual.errors import InputError

VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# Bookkeeping entries written by tf.train.Checkpoint.save / CheckpointManager, not model weights.
BOOKKEEPING = ("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter" + VALUE_SUFFIX)
MAX_LISTED = 12


class CheckpointMismatchError(InputError):
    """A checkpoint that does not fit the model; the message names both and the fix."""


def weights_by_path(model: keras.Model) -> dict[str, keras.Variable]:
    """The model's weights keyed by Keras variable path; paths must be unique."""
    by_path: dict[str, keras.Variable] = {}
    for variable in model.weights:
        if variable.path in by_path:
            raise ValueError(f"Model {model.name!r} has two variables at path {variable.path!r};"
                             " give its layers unique names.")
        by_path[variable.path] = variable
    return by_path


def model_checkpoint(model: keras.Model) -> tf.train.Checkpoint:
    """A `tf.train.Checkpoint` over the model's weights (usable with `CheckpointManager`)."""
    return tf.train.Checkpoint(**weights_by_path(model))


encoder_checkpoint = model_checkpoint
decoder_checkpoint = model_checkpoint


def save_weights(model: keras.Model, prefix: str | os.PathLike) -> str:
    """Write the model's weights under checkpoint `prefix`; returns the prefix written."""
    os.makedirs(os.path.dirname(os.fspath(prefix)) or ".", exist_ok=True)
    return model_checkpoint(model).write(os.fspath(prefix))


def resolve_checkpoint(path: str | os.PathLike, error: type[Exception]) -> str:
    """A checkpoint prefix from a prefix or a folder (its latest checkpoint); `error` if none."""
    path = os.fspath(path)
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise error(f"Checkpoint folder {path!r} holds no checkpoint (no 'checkpoint' file);"
                        " pass a checkpoint prefix such as 'dir/model.ckpt-1000'.")
        return latest
    if not os.path.isfile(path + ".index"):
        raise error(f"Checkpoint {path!r} not found: expected the file {path + '.index'!r}. "
                    "Pass an existing checkpoint prefix (the path without .index) or its folder.")
    return path


def _unescape(name: str) -> str:
    """Undo tf.train.Checkpoint's escaping of a child name ('.S' -> '/', '..' -> '.')."""
    out, i = [], 0
    while i < len(name):
        if name[i] == "." and i + 1 < len(name):
            out.append("/" if name[i + 1] == "S" else name[i + 1])
            i += 2
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def restore_weights(model: keras.Model, path: str | os.PathLike) -> str:
    """Restore every weight of `model` from a checkpoint written by `save_weights`.

    Returns the prefix read. Raises CheckpointMismatchError before assigning anything if the
    checkpoint lacks a variable, holds one the model lacks, or has a different shape.
    """
    prefix = resolve_checkpoint(path, CheckpointMismatchError)
    try:
        reader = tf.train.load_checkpoint(prefix)
        stored = {
            _unescape(key[: -len(VALUE_SUFFIX)]): key
            for key in reader.get_variable_to_shape_map()
            if key not in BOOKKEEPING and key.endswith(VALUE_SUFFIX)
        }
        assign_checked(
            weights_by_path(model), reader, stored, checkpoint=prefix, model_name=model.name,
            error=CheckpointMismatchError,
            fix="build the model with the configuration the checkpoint was saved with (e.g. "
                "the same num_classes, backbone and head), or restore the checkpoint saved for "
                "it.")
    except (tf.errors.OpError, IndexError) as err:  # the reader raises IndexError on a short read
        raise damaged(prefix, err) from err
    return prefix


def damaged(prefix: str, err: Exception) -> CheckpointMismatchError:
    """The error for a checkpoint whose files cannot be read (truncated, corrupt): it names
    the folder to delete, the whole artefact when the checkpoint lies in a complete one."""
    folder = Path(prefix).parent
    artefact = next((p for p in (folder, *folder.parents[:3]) if (p / MARKER).exists()), None)
    where = (f"the artefact folder {artefact} (it is marked complete around a damaged file)"
             if artefact else f"the folder {folder} (the stage's resume point)")
    return CheckpointMismatchError(
        f"checkpoint {prefix} cannot be read ({type(err).__name__}: {str(err).strip()}); it "
        f"is damaged. Delete {where} and rerun to make it again")


def resume(checkpoint: tf.train.Checkpoint, manager: tf.train.CheckpointManager) -> bool:
    """Restore the manager's latest checkpoint, if any; a damaged one is an error naming it."""
    if not manager.latest_checkpoint:
        return False
    try:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    except (tf.errors.OpError, IndexError) as err:
        raise damaged(manager.latest_checkpoint, err) from err
    return True


def assign_checked(variables: Mapping[str, keras.Variable], reader, stored: Mapping[str, str], *,
                   checkpoint: str, model_name: str, error: type[Exception], fix: str,
                   describe: Callable[[str], str] = repr) -> None:
    """Assign checkpoint values to variables after checking names and shapes one to one.

    Args:
      variables: checkpoint-side name -> model variable.
      reader: a `tf.train.load_checkpoint` reader.
      stored: checkpoint-side name -> reader key, for every entry the model must consume.
      describe: how to name a variable in messages (e.g. add the Keras path).
    """
    shapes = reader.get_variable_to_shape_map()
    problems = []
    for name, variable in sorted(variables.items()):
        if name not in stored:
            problems.append(f"missing variable {describe(name)}")
        elif tuple(shapes[stored[name]]) != tuple(variable.shape):
            problems.append(f"variable {describe(name)} has shape {tuple(shapes[stored[name]])} "
                            f"in the checkpoint but {tuple(variable.shape)} in the model")
    problems += [f"unexpected variable {name!r} (not in the model)"
                 for name in sorted(set(stored) - set(variables))]
    if problems:
        listed = problems[:MAX_LISTED]
        if len(problems) > MAX_LISTED:
            listed.append(f"... and {len(problems) - MAX_LISTED} more")
        raise error(f"Checkpoint {checkpoint!r} does not match model {model_name!r} "
                    f"({len(problems)} problems):\n  - " + "\n  - ".join(listed) +
                    f"\nFix: {fix}")
    for name, variable in variables.items():
        variable.assign(reader.get_tensor(stored[name]).astype(variable.dtype))
