"""Worker of tests/methods/test_stream_replicas.py: stream methods trained by the experience loop
under one tf.distribute strategy.

    python tests/methods/stream_replicas_worker.py default|mirrored CASE...

"mirrored" first splits the CPU into two logical devices (TensorFlow allows it only before it
initialises: hence a fresh interpreter). Each case builds its method inside the strategy's scope
(as `make_method` does), trains two experiences of a tiny synthetic stream with
`run_experience` and prints one JSON line: the replica count, every train step's loss, a
checksum of every weight (trainable or not: BN statistics too) and the buffer's contents. The
stream's batches have an odd last batch, so a replica also trains on a 1-row slice.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for imports

import gin  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from continual.loop.experience import ExperienceLoop, LoopState, run_experience  # noqa: E402
from continual.loop.linear_probe import LinearProbe, train_linear_probe  # noqa: E402
from continual.methods import data_parallel  # noqa: E402
from continual.methods.baselines import ExperienceReplay, FineTuning  # noqa: E402
from continual.methods.rainbow_memory.joint_reference import JointFromScratch  # noqa: E402
from continual.replay.buffers import EpisodicBuffer  # noqa: E402
from training import make_strategy  # noqa: E402

SIZE, CLASSES, SEED = 8, 4, 3
LOOP = ExperienceLoop(stream_batch_size=6, replay_batch_size=4, checkpoint_every=1000)
COMMON = ["TorchSGD.learning_rate = 0.1", "TorchSGD.momentum = 0.9",
          "TorchSGD.weight_decay = 1e-3", "tiny_convnet_backbone.widths = (8, 8)",
          "tiny_convnet_backbone.strides = (1, 2)"]


@dataclasses.dataclass(frozen=True)
class Experience:
    index: int
    train_ids: tuple
    seen_classes: tuple


# Two experiences of 14 rows (batches of 6, 6 and 2), classes {0, 1} then {2, 3}.
EXPERIENCES = (Experience(0, tuple(range(0, 14)), (0, 1)),
               Experience(1, tuple(range(14, 28)), (0, 1, 2, 3)))


class Table:
    """Row i: a seeded random uint8 image; label: classes of its experience, alternating."""

    num_classes = CLASSES

    def __init__(self, rows: int = 28):
        rng = np.random.default_rng(11)
        self.images = rng.integers(0, 256, (rows, SIZE, SIZE, 3), dtype=np.uint8)
        self.labels = np.asarray([2 * (i // 14) + i % 2 for i in range(rows)], np.int32)

    def gather(self, ids):
        ids = np.asarray(ids, np.int64)
        return tf.constant(self.images[ids]), tf.constant(self.labels[ids])

    def labels_of(self, ids) -> np.ndarray:
        return self.labels[np.asarray(ids, np.int64)]


def split_cpu_in_two() -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])


def weight_checksum(variables) -> dict:
    """Per variable: its sum, norm and a seeded random projection (in the model's order)."""
    sums, projections, norms = [], [], []
    for index, variable in enumerate(variables):
        value = np.asarray(variable.numpy(), np.float64).ravel()
        sums.append(float(value.sum()))
        norms.append(float(np.linalg.norm(value)))
        projections.append(float(np.random.default_rng(index).standard_normal(value.size)
                                 @ value))
    return {"weight_sums": sums, "weight_projections": projections, "weight_norms": norms}


def buffer_contents(method) -> dict:
    buffer = getattr(method, "buffer", None)
    if buffer is None:
        return {"buffer_ids": []}
    return {"buffer_ids": sorted(int(i) for i in buffer.stored_ids())}


def record_losses(method) -> list:
    losses, step = [], method.train_step

    def recorded(batch, global_step):
        outputs = step(batch, global_step)
        losses.append(float(outputs["loss"]))
        return outputs

    method.train_step = recorded
    return losses


def make_method(case: str, strategy):
    buffer = None
    if case == "finetune":
        method = FineTuning(epochs=2, flip=True)
    elif case == "joint_from_scratch":
        method = JointFromScratch(epochs=2, flip=True)
    elif case == "er":
        method = ExperienceReplay(online=True)
        buffer = EpisodicBuffer(capacity=8, policy="reservoir", num_classes=CLASSES)
    else:
        raise SystemExit(f"unknown case {case!r}")
    keras.utils.set_random_seed(SEED)
    with strategy.scope():
        method.build((SIZE, SIZE, 3), CLASSES, buffer, SEED)
    return method


def run_method(case: str, strategy) -> dict:
    method = make_method(case, strategy)
    losses = record_losses(method)
    table, state = Table(), LoopState()
    with tempfile.TemporaryDirectory(prefix="stream-replicas-") as folder:
        for experience in EXPERIENCES:
            state.phase.assign(0)
            state.batch.assign(0)
            state.begun.assign(False)
            run_experience(method, experience, table, LOOP, SEED, Path(folder) /
                           str(experience.index), state)
    return {"losses": losses, **weight_checksum(method.model.weights),
            **buffer_contents(method)}


def run_linear_probe(strategy) -> dict:
    rng = np.random.default_rng(5)
    features = rng.normal(size=(37, 6)).astype(np.float32)
    labels = rng.integers(0, CLASSES, 37).astype(np.int32)
    probe = LinearProbe(learning_rate=0.5, epochs=3, batch_size=8)
    head = train_linear_probe(features, labels, CLASSES, probe, SEED, strategy)
    logits = head(tf.constant(features)).numpy()
    return {"losses": [float(v) for v in logits.ravel()[:8]], **weight_checksum(head.weights),
            "buffer_ids": []}


def spy_on_replica_slices() -> set:
    """Record, when a step is traced, which replicas cut their slice of the global batch."""
    seen, cut = set(), data_parallel._local_rows

    def recorded(tensor):
        context = tf.distribute.get_replica_context()
        seen.add(int(tf.get_static_value(context.replica_id_in_sync_group)))
        return cut(tensor)

    data_parallel._local_rows = recorded
    return seen


def main(strategy_name: str, cases: list[str]) -> None:
    if strategy_name == "mirrored":
        split_cpu_in_two()
    strategy = make_strategy(strategy_name)
    for case in cases:
        gin.clear_config()
        gin.parse_config(COMMON)
        sliced = spy_on_replica_slices()
        report = run_linear_probe(strategy) if case == "linear_probe" else run_method(
            case, strategy)
        print(json.dumps({"case": case, "replicas": strategy.num_replicas_in_sync,
                          "sliced_on_replicas": sorted(sliced), **report}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("default", "mirrored"):
        raise SystemExit("usage: python tests/methods/stream_replicas_worker.py "
                         "default|mirrored CASE...")
    main(sys.argv[1], sys.argv[2:])
