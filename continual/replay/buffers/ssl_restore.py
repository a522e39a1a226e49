"""Start a continuous-SSL buffer from the buffer of an earlier run's checkpoint.

`ContinuousBuffer.restore_from` names a stage checkpoint (e.g. `<checkpoint_dir>/
stream_experience/<key>/state/state`): the run begins with the items that run kept, their
statistics and MinRed's neighbour table, as when a stream continues after a pause. The
checkpoint's shapes are checked against this buffer before anything is read, so a different
feature size (`SimSiamStream.projection_dim`), shard count or capacity is an error naming the
binding, raised while the plan is checked, not a TensorFlow shape error mid-training. The
checkpoint's files enter the stage keys by their content (`continual.key_files`), so one
rewritten at the same path is never answered from stale artefacts.
"""

from __future__ import annotations

import tensorflow as tf

BINDING = "ContinuousBuffer.restore_from"
PREFIX = "buffer/shards/"
SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def _stored_shapes(path: str) -> dict[int, dict[str, list[int]]]:
    """Per shard index, the stored shape of each of its fields."""
    try:
        shapes = tf.train.load_checkpoint(path).get_variable_to_shape_map()
    except (tf.errors.NotFoundError, ValueError) as err:
        raise ValueError(f"{BINDING} = {path!r} is not a readable checkpoint ({err}); give "
                         "the prefix of a stage's state, e.g. .../state/state") from err
    shards: dict[int, dict[str, list[int]]] = {}
    for name, shape in shapes.items():
        if name.startswith(PREFIX) and name.endswith(SUFFIX):
            index, _, field = name[len(PREFIX):-len(SUFFIX)].partition("/")
            shards.setdefault(int(index), {})[field] = list(shape)
    if not shards:
        raise ValueError(f"{BINDING} = {path!r} holds no ContinuousBuffer (no '{PREFIX}' "
                         "variables); point it at a run that had StreamPlan.buffer set")
    return shards


def check_restorable(buffer, path: str) -> None:
    """Refuse a checkpoint whose buffer does not fit `buffer` (built): shards, slots, feature
    size, MinRed tables."""
    stored = _stored_shapes(path)
    if len(stored) != len(buffer.shards):
        raise ValueError(f"{BINDING} = {path!r} holds {len(stored)} shards but "
                         f"ContinuousBuffer.shards = {len(buffer.shards)}; use the same shards")
    for index, shard in enumerate(buffer.shards):
        want = list(shard.features.shape)
        got = stored[index].get("features")
        if got is not None and got[1:] != want[1:]:
            raise ValueError(f"{BINDING} = {path!r} stores features of size {got[1]}, but this "
                             f"buffer's are {want[1]} (SimSiamStream.projection_dim); restore "
                             "from a run with the same projection_dim")
        if got is None or got[0] != want[0]:
            raise ValueError(f"{BINDING} = {path!r} stores {got and got[0]} slots per shard, but "
                             f"this buffer has {want[0]} (ContinuousBuffer.capacity / shards + "
                             "the stream batch's share); use the same capacity and batch size")


def restore_buffer(buffer, path: str) -> None:
    """Check, then read the buffer's variables (nothing else) from `path`."""
    check_restorable(buffer, path)
    tf.train.Checkpoint(buffer=buffer).read(path).expect_partial()
