"""Worker of tests/test_distribute.py: three train steps under one tf.distribute strategy.

    python tests/distribute_worker.py default|mirrored

"mirrored" first splits the CPU into two logical devices, which TensorFlow allows only before
it initialises; that is why the test runs this script in a fresh interpreter. Both runs seed
the same, build the same models, and train them with `StageTrainer.train` (the path a stage
takes: distributed dataset, compiled step) on the same three batches of 4 images, so a
mirrored run feeds 2 images per replica. Two cases, each one JSON line on stdout:

- "decoder": tiny encoder (frozen, so its BN runs in inference mode) + ASPP-v2, decoder only,
  the RECALL incremental step;
- "encoder+decoder": a one-unit-per-block DeepLab-v2 ResNet (frozen BN, as in RECALL) +
  ASPP-v2, both trained, the RECALL step 0.

Each line holds the replica count, the loss of every step and, per trained variable, the norm
of its update and a fixed random projection of it (a checksum of the new weights).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for imports

import gin  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from continual.methods.segmentation import LoopSettings, Schedule, StageTrainer  # noqa: E402
from continual.models.segmenter import build_segmenter  # noqa: E402
from training import make_strategy  # noqa: E402

GLOBAL_BATCH, STEPS, SIZE = 4, 3, 32
SEEN_CLASSES = tuple(range(16))  # labels 16..20 are dropped by the loss, as unseen classes are
# case -> (train_encoder, initial learning rate, gin bindings of the encoder)
CASES = {
    "decoder": (False, 1e-2, ["build_encoder.backbone = 'tiny'",
                              "tiny_encoder.widths = (8, 16, 16)"]),
    "encoder+decoder": (True, 1e-3, ["build_encoder.backbone = 'resnet101_v2'",
                                     "resnet101_v2.units = (1, 1, 1, 1)",
                                     "resnet101_v2.base_depth = 4"]),
}


def split_cpu_in_two() -> None:
    """Two logical CPU devices, so MirroredStrategy has two replicas on one CPU."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])


def fixed_batches() -> tf.data.Dataset:
    """STEPS batches of GLOBAL_BATCH images with labels 0..20 and some 255 (ignored)."""
    rng = np.random.default_rng(7)
    count = GLOBAL_BATCH * STEPS
    images = rng.normal(0.0, 1.0, (count, SIZE, SIZE, 3)).astype(np.float32)
    labels = rng.integers(0, 23, (count, SIZE, SIZE))
    labels = np.where(labels > 20, 255, labels).astype(np.uint8)
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(GLOBAL_BATCH)


def weight_checksum(before: list[np.ndarray], after: list[np.ndarray]) -> dict:
    """Per trained variable: norm of its update and a seeded random projection of it."""
    norms, projections = [], []
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        delta = (new - old).ravel().astype(np.float64)
        direction = np.random.default_rng(index).standard_normal(delta.size)
        norms.append(float(np.linalg.norm(delta)))
        projections.append(float(direction @ delta))
    return {"update_norms": norms, "update_projections": projections,
            "weight_sum": float(sum(np.abs(w).sum() for w in after))}


def run_case(case: str, strategy: tf.distribute.Strategy) -> dict:
    train_encoder, lr, bindings = CASES[case]
    gin.clear_config()
    gin.parse_config(bindings + ["aspp_v2.rates = (1, 2)"])
    keras.utils.set_random_seed(0)
    with strategy.scope():
        segmenter = build_segmenter(num_classes=21)
    trainer = StageTrainer(encoder=segmenter.encoder, decoder=segmenter.decoder,
                           train_encoder=train_encoder, seen_classes=SEEN_CLASSES,
                           schedule=Schedule(iterations=STEPS, lr_initial=lr, lr_final=lr / 100),
                           strategy=strategy,
                           settings=LoopSettings(log_every=1, checkpoint_every=1000))
    before = [v.numpy() for v in trainer.trainable_variables]
    losses = []
    with tempfile.TemporaryDirectory(prefix="distribute-worker-") as work_dir:
        trainer.train(lambda start: fixed_batches().skip(start), Path(work_dir), GLOBAL_BATCH,
                      desc=case, log=lambda it, values: losses.append(values["loss"]))
    after = [v.numpy() for v in trainer.trainable_variables]
    return {"case": case, "replicas": strategy.num_replicas_in_sync,
            "trained_variables": len(after), "losses": losses,
            **weight_checksum(before, after)}


def main(strategy_name: str) -> None:
    if strategy_name == "mirrored":
        split_cpu_in_two()
    strategy = make_strategy(strategy_name)
    for case in CASES:
        print(json.dumps({"strategy": strategy_name, **run_case(case, strategy)}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("default", "mirrored"):
        raise SystemExit("usage: python tests/distribute_worker.py default|mirrored")
    main(sys.argv[1])
