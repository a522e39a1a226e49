"""Worker of tests/models/test_batch_norm_replicas.py: a few steps of models whose BN trains.

    python tests/models/sync_bn_worker.py one|two

"one" trains on the default strategy (one device); "two" splits the CPU into two logical
devices (possible only before TensorFlow initialises, hence a fresh interpreter) and trains
under MirroredStrategy twice: with `sync_batch_norm.enabled` left at auto (on) and bound False.
Every run seeds the same and trains on the same three batches of 8 images (4 per replica), so
only the BN statistics can differ. Two models, one JSON line per (model, sync setting):

- "tiny_encoder": RECALL's step 0 on the tiny encoder (BN training) + ASPP-v2, with
  `StageTrainer.train`;
- "tiny_convnet": the ports' classifier (conv-BN-ReLU backbone + linear head), cross-entropy
  and SGD in a distributed step written here.
"""

from __future__ import annotations

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

from continual.methods.segmentation import LoopSettings, Schedule, StageTrainer  # noqa: E402
from continual.models.classifiers import build_classifier  # noqa: E402
from continual.models.segmenter import build_segmenter  # noqa: E402

BATCH, STEPS, SIZE = 8, 3, 16
ENCODER_BINDINGS = ["build_encoder.backbone = 'tiny'", "tiny_encoder.widths = (4, 8, 8)",
                    "aspp_v2.rates = (1, 2)"]


def batches(num_classes: int, dense: bool) -> tf.data.Dataset:
    """STEPS batches of BATCH images; per-pixel labels when `dense`, else one per image."""
    rng = np.random.default_rng(3)
    count = BATCH * STEPS
    images = rng.normal(1.0, 2.0, (count, SIZE, SIZE, 3)).astype(np.float32)
    shape = (count, SIZE, SIZE) if dense else (count,)
    labels = rng.integers(0, num_classes, shape).astype(np.uint8 if dense else np.int32)
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(BATCH)


def train_tiny_encoder(strategy: tf.distribute.Strategy) -> tuple[list, keras.Model]:
    with strategy.scope():
        segmenter = build_segmenter(num_classes=21)
    trainer = StageTrainer(encoder=segmenter.encoder, decoder=segmenter.decoder,
                           train_encoder=True, seen_classes=tuple(range(21)),
                           schedule=Schedule(iterations=STEPS, lr_initial=0.05, lr_final=0.05),
                           strategy=strategy, settings=LoopSettings(log_every=1))
    losses = []
    with tempfile.TemporaryDirectory(prefix="sync-bn-worker-") as work_dir:
        trainer.train(lambda start: batches(21, dense=True).skip(start), Path(work_dir), BATCH,
                      desc="tiny_encoder", log=lambda it, values: losses.append(values["loss"]))
    return losses, segmenter.encoder


def train_tiny_convnet(strategy: tf.distribute.Strategy) -> tuple[list, keras.Model]:
    with strategy.scope():
        model = build_classifier("tiny_convnet", input_shape=(SIZE, SIZE, 3), num_classes=5)
        optimizer = keras.optimizers.SGD(0.1)
        optimizer.build(model.trainable_variables)

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(
                labels, logits, from_logits=True)) / BATCH
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                      model.trainable_variables, strict=True))
        return loss

    @tf.function
    def step(batch):
        per_replica = strategy.run(replica_step, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    data = strategy.experimental_distribute_dataset(batches(5, dense=False))
    return [float(step(batch)) for batch in data], model


def run(model_name: str, strategy: tf.distribute.Strategy, sync: bool | None) -> dict:
    gin.clear_config()
    gin.parse_config(ENCODER_BINDINGS + [f"sync_batch_norm.enabled = {sync}"])
    keras.utils.set_random_seed(0)
    train = train_tiny_encoder if model_name == "tiny_encoder" else train_tiny_convnet
    losses, model = train(strategy)
    synchronized = sorted({layer.synchronized for layer in model._flatten_layers()
                           if isinstance(layer, keras.layers.BatchNormalization)})
    moving = [v for v in model.non_trainable_weights if "moving" in v.path]
    return {"model": model_name, "sync": sync, "replicas": strategy.num_replicas_in_sync,
            "synchronized": synchronized, "losses": losses,
            "weights": [float(np.sum(np.abs(v.numpy()))) for v in model.trainable_weights],
            "moving_statistics": [float(np.sum(v.numpy())) for v in moving]}


def main(mode: str) -> None:
    if mode == "two":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()
                                                         for _ in range(2)])
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy, settings = tf.distribute.MirroredStrategy(devices=devices), (None, False)
    else:
        strategy, settings = tf.distribute.get_strategy(), (None,)
    for model_name in ("tiny_encoder", "tiny_convnet"):
        for sync in settings:
            print(json.dumps(run(model_name, strategy, sync)), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("one", "two"):
        raise SystemExit("usage: python tests/models/sync_bn_worker.py one|two")
    main(sys.argv[1])
