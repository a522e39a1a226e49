"""XLA and precision parity of the segmentation train step: from the same weights and batch,
two steps with `LoopSettings.jit_compile` on and off, and under float32, mixed_bfloat16 and
mixed_float16, give the same losses within the tolerances below. The second step's loss reads
the weights the first step wrote, so it also checks that the update is the same (in float16:
that the loss scale is undone before SGD)."""

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from continual.methods.segmentation import LoopSettings, Schedule, StageTrainer
from continual.models.segmenter import build_segmenter

SIZE = 32
# run name -> (global policy, jit_compile)
RUNS = {"float32": ("float32", False), "float32_xla": ("float32", True),
        "bfloat16": ("mixed_bfloat16", False), "float16": ("mixed_float16", False),
        "float16_xla": ("mixed_float16", True)}
# run name -> relative tolerance of its losses against the float32 run, and why (measured on
# this CPU: XLA 5e-7, bfloat16 1.2e-4, float16 1.4e-5)
RTOL = {
    "float32_xla": 1e-5,   # same float32 arithmetic; XLA only fuses ops and reorders sums
    "bfloat16": 5e-3,      # 8-bit mantissa (0.4% per op); the mean over pixels averages it down
    "float16": 1e-3,       # 11-bit mantissa (0.05% per op), averaged the same way
    "float16_xla": 1e-3,   # as float16; XLA adds only reordering
}


def _batch():
    rng = np.random.default_rng(3)
    return (rng.normal(size=(2, SIZE, SIZE, 3)).astype(np.float32),
            rng.integers(0, 6, (2, SIZE, SIZE)).astype(np.int32))


def _losses(policy: str, jit: bool, weights: list[np.ndarray] | None, tmp_path) -> tuple:
    keras.mixed_precision.set_global_policy(policy)
    try:
        gin.parse_config(["build_encoder.backbone = 'tiny'", "tiny_encoder.widths = (8, 8, 8)",
                          "aspp_v2.rates = (1, 2)"])
        keras.utils.set_random_seed(0)
        segmenter = build_segmenter()
        parts = (segmenter.encoder, segmenter.decoder)
        if weights is not None:
            for variable, value in zip([w for p in parts for w in p.weights], weights,
                                       strict=True):
                variable.assign(value)
        start = [w.numpy().copy() for p in parts for w in p.weights]
        trainer = StageTrainer(encoder=segmenter.encoder, decoder=segmenter.decoder,
                               train_encoder=True, seen_classes=range(6),
                               schedule=Schedule(iterations=2, lr_initial=0.05, lr_final=0.05),
                               strategy=tf.distribute.get_strategy(),
                               settings=LoopSettings(jit_compile=jit, log_every=1))
        images, labels = _batch()
        logs = []
        trainer.train(lambda s: tf.data.Dataset.from_tensors((images, labels)).repeat(),
                      tmp_path / f"{policy}_{jit}", batch_size=2, desc="parity",
                      log=lambda step, row: logs.append(row))
        return [row["loss"] for row in logs], start
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="module")
def losses(tmp_path_factory) -> dict[str, list[float]]:
    folder = tmp_path_factory.mktemp("parity")
    found, weights = {}, None
    for name, (policy, jit) in RUNS.items():
        found[name], start = _losses(policy, jit, weights, folder)
        weights = weights or start  # every run starts from the float32 run's weights
    return found


def test_the_reference_run_trains(losses):
    first, second = losses["float32"]
    assert np.isfinite(first) and second < first


@pytest.mark.parametrize("name", sorted(RTOL))
def test_losses_agree_with_float32_within_tolerance(losses, name):
    np.testing.assert_allclose(losses[name], losses["float32"], rtol=RTOL[name])


def test_bfloat16_is_really_lower_precision(losses):
    # guards the test itself: a policy that silently stayed float32 would match exactly
    assert losses["bfloat16"] != losses["float32"]
    assert losses["float16"] != losses["float32"]
