"""Process of tests/test_multi_worker.py: one training stage, alone or as one of two workers.

    python tests/multi_worker_process.py single|multi_worker WORK_DIR STOP_AT

"single" trains on one device; "multi_worker" builds `make_strategy('multi_worker')`
(MultiWorkerMirroredStrategy from the TF_CONFIG the test sets) and trains with its peer. Both
seed the same, build the tiny encoder (BN training, synchronised across the workers by
`sync_batch_norm`'s auto setting) + ASPP-v2 and train RECALL's step 0 with `StageTrainer.train`
for STEPS iterations of 4 images, checkpointing every 2 into WORK_DIR/ckpt, and stop after
iteration STOP_AT (the data ends there, as if the job were stopped), so a second run resumes
from WORK_DIR. One JSON line on stdout: this process's role, the iteration resumed from, the loss
of each iteration it trained, and per variable the sum of |w| and a seeded projection of w.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for imports

import gin  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from continual.methods.segmentation import LoopSettings, Schedule, StageTrainer  # noqa: E402
from continual.models.segmenter import build_segmenter  # noqa: E402
from continual.models.stage_checkpoints import is_chief  # noqa: E402
from training import make_strategy  # noqa: E402

GLOBAL_BATCH, STEPS, SIZE = 4, 4, 16
BINDINGS = ["build_encoder.backbone = 'tiny'", "tiny_encoder.widths = (4, 8, 8)",
            "aspp_v2.rates = (1, 2)", "LoopSettings.checkpoint_every = 2",
            "LoopSettings.log_every = 1"]


def batches() -> tf.data.Dataset:
    """STEPS batches of GLOBAL_BATCH images with labels 0..20 and some 255 (ignored)."""
    rng = np.random.default_rng(11)
    count = GLOBAL_BATCH * STEPS
    images = rng.normal(0.5, 1.5, (count, SIZE, SIZE, 3)).astype(np.float32)
    labels = rng.integers(0, 23, (count, SIZE, SIZE))
    labels = np.where(labels > 20, 255, labels).astype(np.uint8)
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(GLOBAL_BATCH)


def checksum(variables) -> dict:
    sums, projections = [], []
    for index, variable in enumerate(variables):
        value = variable.numpy().ravel().astype(np.float64)
        sums.append(float(np.abs(value).sum()))
        projections.append(float(np.random.default_rng(index).standard_normal(value.size)
                                 @ value))
    return {"abs_sums": sums, "projections": projections}


def main(role: str, work_dir: Path, stop_at: int) -> None:
    gin.parse_config(BINDINGS)
    strategy = make_strategy("default" if role == "single" else "multi_worker")
    keras.utils.set_random_seed(0)
    with strategy.scope():
        segmenter = build_segmenter(num_classes=21)
    trainer = StageTrainer(encoder=segmenter.encoder, decoder=segmenter.decoder,
                           train_encoder=True, seen_classes=tuple(range(21)),
                           schedule=Schedule(iterations=STEPS, lr_initial=0.02, lr_final=0.002),
                           strategy=strategy, settings=LoopSettings())
    losses = {}
    info = trainer.train(lambda start: batches().skip(start).take(stop_at - start), work_dir,
                         GLOBAL_BATCH, desc=role,
                         log=lambda it, values: losses.update({it: values["loss"]}))
    print(json.dumps({"role": role, "chief": is_chief(strategy),
                      "replicas": strategy.num_replicas_in_sync,
                      "resumed_from": info["resumed_from"], "losses": losses,
                      **checksum(segmenter.encoder.weights + segmenter.decoder.weights)}),
          flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("single", "multi_worker"):
        raise SystemExit("usage: python tests/multi_worker_process.py single|multi_worker "
                         "WORK_DIR STOP_AT")
    main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))
