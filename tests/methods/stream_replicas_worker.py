"""Worker of tests/methods/test_stream_replicas.py: stream methods trained by the experience loop
under one tf.distribute strategy.

    python tests/methods/stream_replicas_worker.py default|mirrored CASE...

"mirrored" first splits the CPU into two logical devices (TensorFlow allows it only before it
initialises: hence a fresh interpreter). Each case builds its method inside the strategy's scope
(as `make_method` does), trains two experiences of a tiny synthetic stream with
`run_experience` and prints one JSON line: the replica count, which replicas cut a slice of a
batch, every train step's loss and other outputs (loss terms, head steps), a checksum of every
float variable it checkpoints and the buffer's contents. The stream's batches have an odd last
batch, so a replica also trains on a 1-row slice.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

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
from continual.methods.kaizen import Kaizen  # noqa: E402
from continual.methods.rainbow_memory import RainbowMemory  # noqa: E402
from continual.methods.rainbow_memory.bic import BiC  # noqa: E402
from continual.methods.rainbow_memory.ewc import EWC  # noqa: E402
from continual.methods.rainbow_memory.gdumb import GDumb  # noqa: E402
from continual.methods.rainbow_memory.icarl import ICaRL  # noqa: E402
from continual.methods.rainbow_memory.joint_reference import JointFromScratch  # noqa: E402
from continual.methods.rainbow_memory.rwalk import RWalk  # noqa: E402
from continual.methods.simsiam_stream import SimSiamStream  # noqa: E402
from continual.methods.sslad.method import UncertaintyGuidedReplay  # noqa: E402
from continual.replay.buffers import EpisodicBuffer  # noqa: E402
from continual.replay.buffers.ssl_buffer import ContinuousBuffer  # noqa: E402
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
    classes: tuple


# Two experiences of 14 rows (batches of 6, 6 and 2), classes {0, 1} then {2, 3}.
EXPERIENCES = (Experience(0, tuple(range(0, 14)), (0, 1), (0, 1)),
               Experience(1, tuple(range(14, 28)), (0, 1, 2, 3), (2, 3)))


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


def record_losses(method) -> tuple[list, list]:
    """(every step's loss, every step's other outputs in name order: loss terms, head loss)."""
    losses, others, step = [], [], method.train_step

    def recorded(batch, global_step):
        outputs = step(batch, global_step)
        if "loss" in outputs:  # GDumb's stream pass only fills the memory
            losses.append(float(outputs["loss"]))
        others.extend(float(outputs[name]) for name in sorted(outputs) if name != "loss")
        return outputs

    method.train_step = recorded
    return losses, others


# RM and its baselines: class, memory policy, arguments (the baselines' loop at batch 4).
RAINBOW_MEMORY = {
    "rainbow_memory": (RainbowMemory, "rainbow", {}),
    "ewc": (EWC, "reservoir", {"batch_size": 4, "reg_coef": 1.0}),
    "rwalk": (RWalk, "reservoir", {"batch_size": 4, "reg_coef": 1.0}),
    "icarl": (ICaRL, "herding", {"batch_size": 4}),
    "gdumb": (GDumb, "greedy_class_balanced", {"batch_size": 4}),
    "bic": (BiC, "herding", {"batch_size": 4, "validation_size": 4, "bias_epochs": 2}),
}


# SSLAD: every loss term on from the second step (soft labels, contrastive, supcon, focal
# with class-balanced weights), sweeps every 3 steps; per-update head steps on 3 memory rows
# (an odd split) with their soft-label term, or head epochs after each experience.
SSLAD_COMMON = {"sweep_size": 4, "sweep_every": 3, "votes": 2, "learning_rate": 0.05,
                "lr_milestones": (4,), "soft_label_milestones": (1,),
                "soft_label_weights": (1.0,), "focal_gamma": 1.0}
SSLAD = {
    "sslad": {"head_batch_size": 3, "head_soft_labels": True,
              "head_soft_label_milestones": (1,), "head_soft_label_weights": (1.0,)},
    "sslad_head_epochs": {"head_epochs": 1},
}


# SimSiam on the stream: one buffer shard per replica (FIFO or MinRed), two updates per batch.
SIMSIAM = {"simsiam_fifo": "fifo", "simsiam_minred": "minred"}


# Kaizen, CaSSLe and no-distill (flags of one class) with each SSL method: two epochs a task
# (its last partial batch dropped), tiny heads; with replay the memory keeps half of each class
# of task 0 and task 1 trains on 6 + 4 rows; the online probe reads 7 or 14 seen rows a step
# (an odd split). MoCo v2+'s queue (16 rows) wraps within a task.
KAIZEN_COMMON = {"epochs": 2, "warmup_epochs": 1, "learning_rate": 0.3, "projection_dim": 8,
                 "projector_hidden": 16, "predictor_hidden": 16, "distill_hidden": 16,
                 "classifier_hidden": 8, "queue_size": 16}
CASSLE = {"replay": False, "distill_classifier": False}
KAIZEN = {
    "kaizen_byol": {},
    "cassle_byol": CASSLE,
    "no_distill_byol": {"replay": False, "distill_features": False,
                        "distill_classifier": False},
    "kaizen_mocov2plus": {"ssl_method": "mocov2plus"},
    "cassle_simclr": {"ssl_method": "simclr", **CASSLE},
    "kaizen_vicreg": {"ssl_method": "vicreg", "learning_rate": 0.02},  # 0.3 diverges
}


def make_method(case: str, strategy):
    buffer = None
    if case == "finetune":
        method = FineTuning(epochs=2, flip=True)
    elif case == "joint_from_scratch":
        method = JointFromScratch(epochs=2, flip=True)
    elif case == "er":
        method = ExperienceReplay(online=True)
        buffer = EpisodicBuffer(capacity=8, policy="reservoir", num_classes=CLASSES)
    elif case in RAINBOW_MEMORY:
        method_cls, policy, kwargs = RAINBOW_MEMORY[case]
        method = method_cls(memory_epochs=2, **kwargs)
        buffer = EpisodicBuffer(capacity=8, policy=policy, num_classes=CLASSES)
    elif case in SSLAD:
        method = UncertaintyGuidedReplay(**SSLAD_COMMON, **SSLAD[case])
        buffer = EpisodicBuffer(capacity=8, policy="uncertainty", num_classes=CLASSES,
                                logits_dim=CLASSES)
    elif case in SIMSIAM:
        method = SimSiamStream(updates_per_batch=2, learning_rate=0.1, projection_dim=16,
                               predictor_dim=8)
        buffer = ContinuousBuffer(capacity=12, policy=SIMSIAM[case], shards=2,
                                  num_classes=CLASSES)
    elif case in KAIZEN:
        method = Kaizen(**{**KAIZEN_COMMON, **KAIZEN[case]})
        gin.parse_config("ProportionPerClassPolicy.replay_proportion = 0.5")
        buffer = EpisodicBuffer(capacity=8, policy="proportion_per_class", num_classes=CLASSES)
    else:
        raise SystemExit(f"unknown case {case!r}")
    keras.utils.set_random_seed(SEED)
    with strategy.scope():
        method.build((SIZE, SIZE, 3), CLASSES, buffer, SEED)
    if case in SIMSIAM or case in KAIZEN:  # as make_method does: sizes, schedule, memory
        method.check_stream(SimpleNamespace(experiences=EXPERIENCES, params={}, name="stream"),
                            LOOP)
    return method


def run_method(case: str, strategy) -> dict:
    method = make_method(case, strategy)
    losses, others = record_losses(method)
    table, state = Table(), LoopState()
    with tempfile.TemporaryDirectory(prefix="stream-replicas-") as folder:
        for experience in EXPERIENCES:
            state.phase.assign(0)
            state.batch.assign(0)
            state.begun.assign(False)
            run_experience(method, experience, table, LOOP, SEED, Path(folder) /
                           str(experience.index), state)
    return {"losses": losses, "outputs": others, **weight_checksum(state_variables(method)),
            **buffer_contents(method)}


def state_variables(method) -> list:
    """Every float variable the method checkpoints (weights, BN statistics, optimiser slots,
    a method's own state such as RWalk's path score or BiC's bias), in a fixed order."""
    found = []
    for name in sorted(method.trackables()):
        value = method.trackables()[name]
        variables = [value] if isinstance(value, tf.Variable) else value.variables
        found += [v for v in variables if tf.as_dtype(v.dtype).is_floating]
    return found


def run_linear_probe(strategy) -> dict:
    rng = np.random.default_rng(5)
    features = rng.normal(size=(37, 6)).astype(np.float32)
    labels = rng.integers(0, CLASSES, 37).astype(np.int32)
    probe = LinearProbe(learning_rate=0.5, epochs=3, batch_size=8)
    head = train_linear_probe(features, labels, CLASSES, probe, SEED, strategy)
    logits = head(tf.constant(features)).numpy()
    return {"losses": [float(v) for v in logits.ravel()[:8]], "outputs": [],
            **weight_checksum(head.weights), "buffer_ids": []}


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
