"""Where a step's op time goes: convolutions, batch norm, casts and the rest, from a TF profile.

`op_shares(run)` runs `run()` under `tf.profiler.experimental` and sums the duration of every op
the profile records: on a GPU its kernels (named by their TensorFlow op where the profile says),
on a CPU the ops of TensorFlow's executor threads. An op counts as a convolution when its name
or type says Conv (oneDNN's fused conv + bias + BN + ReLU included), as batch norm when it
belongs to a BN layer or is a BatchNorm op, as a cast when it is a Cast. Shares are of op time
summed over threads (parallel ops overlap, so they are not shares of wall time). Bench code:
profiles cost time, so a bench profiles steps it does not time.
"""

from __future__ import annotations

import collections
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

CATEGORIES = ("conv", "batch norm", "cast", "other")
BN_SCOPE = re.compile(r"batchnorm|batch_norm|_bn\d*(_\d+)?/")


def category(op: str) -> str:
    """The category of one op, from its 'name:Type' (CPU) or kernel / tf_op name (GPU)."""
    lower = op.lower()
    kind = lower.rsplit(":", 1)[-1]
    if "conv" in kind or "conv2d" in lower or "convolution" in lower:
        return "conv"
    if BN_SCOPE.search(lower):
        return "batch norm"
    if kind == "cast" or "/cast" in lower:
        return "cast"
    return "other"


def _xplane_pb2():
    try:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2
    except ImportError:  # newer TensorFlow layouts
        from tsl.profiler.protobuf import xplane_pb2
    return xplane_pb2


def _gpu_op_name(plane, event) -> str:
    for stat in event.stats:
        if plane.stat_metadata[stat.metadata_id].name == "tf_op":
            return stat.str_value or plane.stat_metadata[stat.ref_value].name
    return plane.event_metadata[event.metadata_id].name


def op_times(space) -> collections.Counter:
    """Seconds of op time per category in one profiled XSpace (GPU kernels if any)."""
    gpu_planes = [p for p in space.planes if p.name.startswith("/device:GPU")]
    totals = collections.Counter()
    for plane in gpu_planes or [p for p in space.planes if p.name == "/host:CPU"]:
        for line in plane.lines:
            if not gpu_planes and not line.name.startswith(("tf_Compute", "tf_numa", "tf_")):
                continue
            for event in line.events:
                name = (_gpu_op_name(plane, event) if gpu_planes
                        else plane.event_metadata[event.metadata_id].name)
                if not gpu_planes and (":" not in name or "::" in name):
                    continue  # executor bookkeeping, not an op
                totals[category(name)] += event.duration_ps * 1e-12
    return totals


def op_shares(run: Callable[[], None]) -> dict[str, float]:
    """Share of op time per category (CATEGORIES) while `run()` executes; {} if none."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as folder:
        tf.profiler.experimental.start(folder)
        try:
            run()
        finally:
            tf.profiler.experimental.stop()
        space = _xplane_pb2().XSpace()
        files = sorted(Path(folder).rglob("*.xplane.pb"))
        if not files:
            return {}
        space.ParseFromString(files[-1].read_bytes())
    totals = op_times(space)
    whole = sum(totals.values())
    return {c: totals[c] / whole for c in CATEGORIES} if whole > 0 else {}
