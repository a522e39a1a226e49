"""Train-step throughput of RECALL's models: eager, tf.function, XLA; float32, bfloat16, float16.

Each row runs in its own subprocess (so peak RSS, the global mixed-precision policy and XLA
caches belong to that row alone): it builds the segmenter from gin bindings, wraps it in the
`StageTrainer` a stage uses (SGD + poly schedule, masked cross-entropy + kernel L2, default
strategy), runs warm-up steps on one fixed random batch (the first one traces and compiles),
then times `--steps` steps, reading the loss back after each as `StageTrainer.train` does.

Modes: `eager` calls the trainer's distributed step without tf.function; `function` is the
trainer's compiled step; `xla` the same with `LoopSettings(jit_compile=True)`. Trained parts:
`all` = encoder + decoder (step 0, joint), `decoder` = decoder only (incremental steps, helper
decoders). `mixed_float16` rows include the trainer's dynamic loss scaling.
Asserts nothing; numbers depend on the machine and on whatever else runs on it.

Usage (from the repo root): python -m bench.train_step [--models tiny,resnet101]
    [--parts all,decoder] [--modes eager,function,xla]
    [--precisions float32,mixed_bfloat16,mixed_float16]
    [--steps N] [--warmup 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = ("eager", "function", "xla")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
PARTS = {"all": "encoder+decoder", "decoder": "decoder only"}
NUM_CLASSES = 21


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A model as gin bindings, with the input size, batch and default timed steps it runs at."""

    description: str
    bindings: tuple[str, ...]
    size: int
    batch: int
    steps: int


MODELS = {
    "tiny": ModelSpec("demo: tiny encoder + ASPP-v2 (1,2,3,4)",
                      ("build_encoder.backbone = 'tiny'", "aspp_v2.rates = (1, 2, 3, 4)"),
                      size=64, batch=8, steps=50),
    "resnet101": ModelSpec("DeepLab-v2 ResNet-101",
                           ("build_encoder.backbone = 'resnet101_v2'",), size=321, batch=4,
                           steps=3),
}


def fixed_batch(spec: ModelSpec):
    """One deterministic batch: normalised-looking images and labels 0..20 with some 255."""
    import tensorflow as tf

    shape = (spec.batch, spec.size, spec.size)
    images = tf.random.stateless_normal((*shape, 3), seed=(1, 2), stddev=50.0)
    labels = tf.random.stateless_uniform(shape, seed=(3, 4), maxval=NUM_CLASSES + 2,
                                         dtype=tf.int32)
    labels = tf.where(labels > NUM_CLASSES - 1, 255, labels)
    return images, tf.cast(labels, tf.uint8)


def build_trainer(spec: ModelSpec, part: str, mode: str, iterations: int):
    """The StageTrainer of one stage on the bound model (built under the current policy)."""
    import gin
    import keras
    import tensorflow as tf

    from continual.methods.segmentation import LoopSettings, Schedule, StageTrainer
    from continual.models.segmenter import build_segmenter

    gin.parse_config(list(spec.bindings))
    keras.utils.set_random_seed(0)
    segmenter = build_segmenter(num_classes=NUM_CLASSES)
    return StageTrainer(encoder=segmenter.encoder, decoder=segmenter.decoder,
                        train_encoder=part == "all", seen_classes=range(NUM_CLASSES),
                        schedule=Schedule(iterations=iterations, lr_initial=5e-4,
                                          lr_final=5e-6),
                        strategy=tf.distribute.get_strategy(),
                        settings=LoopSettings(jit_compile=mode == "xla"))


def measure(model: str, part: str, mode: str, precision: str, steps: int, warmup: int) -> dict:
    """Images/s of one configuration after `warmup` steps; runs in the row's own process."""
    import keras

    from bench.op_profile import op_shares

    spec = MODELS[model]
    keras.mixed_precision.set_global_policy(precision)
    trainer = build_trainer(spec, part, mode, iterations=warmup + steps)
    # eager: the distributed step itself; otherwise the trainer's tf.function (XLA or not).
    step = trainer._distributed_step if mode == "eager" else trainer._step
    batch = fixed_batch(spec)
    started = time.perf_counter()
    first_loss = float(step(batch))
    first_step_s = time.perf_counter() - started
    for _ in range(warmup - 1):
        float(step(batch))
    started = time.perf_counter()
    for _ in range(steps):
        loss = float(step(batch))
    seconds = time.perf_counter() - started
    shares = op_shares(lambda: [float(step(batch)) for _ in range(2)])
    return {"images_per_sec": steps * spec.batch / seconds, "first_step_s": first_step_s,
            "first_loss": first_loss, "last_loss": loss, "peak_rss_mb": peak_rss_mb(),
            "peak_gpu_mb": peak_gpu_mb(), "step_ms": 1000 * seconds / steps,
            "op_shares": shares}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def peak_gpu_mb() -> float | None:
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


def device_name() -> str:
    """The GPU's name if TensorFlow sees one, else the CPU model and core count."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return "GPU: " + tf.config.experimental.get_device_details(gpus[0]).get(
            "device_name", gpus[0].name)
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    return f"CPU: {model}, {os.cpu_count()} cores visible, no GPU"


def run_row(row: dict, steps: int | None, warmup: int, timeout: int) -> dict:
    """Measure one row in a fresh interpreter; a failure is reported in the row, not raised."""
    steps = steps or MODELS[row["model"]].steps
    command = [sys.executable, "-m", "bench.train_step", "--measure", json.dumps(row),
               "--steps", str(steps), "--warmup", str(warmup)]
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ}
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**row, "error": f"timed out after {timeout} s"}
    results = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not results:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {**row, "error": f"exit {done.returncode}: {tail[:120]}"}
    return {**row, **json.loads(results[-1])}


def table_line(result: dict) -> str:
    spec = MODELS[result["model"]]
    head = (f"| {spec.description} | {spec.size}x{spec.size} | {spec.batch} | "
            f"{PARTS[result['part']]} | {result['mode']} | {result['precision']} | ")
    if "error" in result:
        return head + f"failed: {result['error']} | - | - | - | - | - | - |"
    gpu = result.get("peak_gpu_mb")
    memory = f"{result['peak_rss_mb']:.0f}" + (f" (GPU {gpu:.0f})" if gpu is not None else "")
    shares = result.get("op_shares") or {}
    percent = " | ".join(f"{100 * shares[c]:.0f}" if c in shares else "-"
                         for c in ("conv", "batch norm", "cast"))
    return head + (f"{result['images_per_sec']:.2f} | {result['step_ms']:.0f} | {memory} | "
                   f"{result['first_step_s']:.1f} | {percent} |")


def split_choice(text: str, allowed, what: str) -> list[str]:
    chosen = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [c for c in chosen if c not in allowed]
    if unknown:
        raise SystemExit(f"unknown {what} {unknown}; choose from {sorted(allowed)}")
    return chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="tiny,resnet101",
                        help=f"comma-separated, of {','.join(MODELS)} (default: %(default)s)")
    parser.add_argument("--parts", default="all,decoder",
                        help="comma-separated: all (encoder + decoder), decoder (default: "
                             "%(default)s)")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="comma-separated (default: %(default)s)")
    parser.add_argument("--precisions", default=",".join(PRECISIONS),
                        help="comma-separated (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per row (default: tiny 50, resnet101 3)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (>= 1)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per row")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: one row, JSON out
    args = parser.parse_args(argv)
    if args.warmup < 1:
        raise SystemExit("--warmup must be >= 1: the first step traces and compiles")
    if args.measure:
        row = json.loads(args.measure)
        print(json.dumps(measure(**row, steps=args.steps, warmup=args.warmup)), flush=True)
        return
    rows = [{"model": m, "part": p, "mode": mode, "precision": precision}
            for m in split_choice(args.models, MODELS, "models")
            for p in split_choice(args.parts, PARTS, "parts")
            for precision in split_choice(args.precisions, PRECISIONS, "precisions")
            for mode in split_choice(args.modes, MODES, "modes")]
    print(f"device: {device_name()}; warm-up {args.warmup} steps (excluded), load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    header = ("| model | input | batch | trained part | mode | precision | images/s | step ms | "
              "peak RSS MB | first step s (trace+compile) | conv % | BN % | cast % |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(header, flush=True)
    lines = []
    for row in rows:
        lines.append(table_line(run_row(row, args.steps, args.warmup, args.timeout)))
        print(lines[-1], flush=True)
    print("\n" + header + "\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
