"""GPU check: each port's paper-size card for a few steps in float32 and mixed precision.

Rows: RECALL's DeepLab-v2 ResNet-101 (321 px, batch 4, encoder + decoder, through
`StageTrainer` as `bench/train_step.py`), and one stream card per port, read from its own gin
files (RM ImageNet ResNet-34, SSLAD ResNet-50-D, continuous SSL ResNet-18 MinRed, Kaizen
ResNet-18 CIFAR-100) on a generated record set at the card's image size, through the loop's
batch assembly (`bench/step_split.run_bounded`: the method's first training phase, bounded). Each
row prints images/s (trained rows: stream + replay; warm-up excluded), peak memory (GPU:
`tf.config.experimental.get_memory_info`, reset per row; CPU: the process's resident set),
the wall time per step split into input / buffer / train step / rest, and the train step's op
time shares (convolutions, batch norm, casts; `bench/op_profile.py`). Mixed precision is
mixed_float16 on a GPU (with each method's loss scaling), mixed_bfloat16 on a CPU.

`--tiny` (automatic without a GPU; `--paper` forces the paper sizes) runs the same code with
tiny models, images and batches: what the test suite runs. Asserts nothing; a row that fails
prints its error and the others still run.

Usage (from the repo root): python -m bench.gpu_check [--tiny | --paper] [--steps 5]
    [--warmup 2] [--ports recall,rainbow_memory,sslad,continuous_ssl,kaizen]
    [--precisions float32,mixed_float16]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import sys
import tempfile
import traceback
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclasses.dataclass(frozen=True)
class Card:
    """A port's stream experiment: its gin files, bindings the check adds, and its data."""

    description: str
    gin_files: tuple[str, ...]
    bindings: tuple[str, ...]       # paper size: only what a record-set-free check needs
    size: int
    num_classes: int
    tiny: tuple[str, ...]           # tiny mode: a small model, batch and buffer


TINY_CLASSIFIER = ("build_classifier.name = 'tiny_convnet'",)
STREAM_CARDS = {
    "rainbow_memory": Card(
        "RM ImageNet ResNet-34 (batch 128 + 128 replay)",
        ("config/ports/rainbow_memory/RM_IMAGENET.gin",), (), size=224, num_classes=1000,
        tiny=TINY_CLASSIFIER + ("ExperienceLoop.stream_batch_size = 4",
                                "ExperienceLoop.replay_batch_size = 4",
                                "EpisodicBuffer.capacity = 16")),
    "sslad": Card(
        "SSLAD ResNet-50-D (batch 10 + 6 replay)",
        ("config/ports/sslad/FULL.gin",), ("resnet50d_backbone.imagenet_weights = None",),
        size=224, num_classes=6,
        tiny=TINY_CLASSIFIER + ("ExperienceLoop.stream_batch_size = 4",
                                "ExperienceLoop.replay_batch_size = 2",
                                "EpisodicBuffer.capacity = 16",
                                "EpisodicBuffer.logits_dim = 4",
                                "UncertaintyGuidedReplay.sweep_size = 8")),
    "continuous_ssl": Card(
        "continuous SSL SimSiam ResNet-18 MinRed (batch 256, 5 updates)",
        ("config/ports/continuous_ssl/R18_MINRED_PAPER.gin",),
        ("SimSiamStream.redraw_frame_per_read = False", "ContinuousBuffer.shards = 1",
         "ContinuousBuffer.capacity = 16384"),
        size=224, num_classes=10,
        tiny=TINY_CLASSIFIER + ("ExperienceLoop.stream_batch_size = 4",
                                "ContinuousBuffer.capacity = 16",
                                "SimSiamStream.projection_dim = 16",
                                "SimSiamStream.predictor_dim = 8")),
    "kaizen": Card(
        "Kaizen ResNet-18 CIFAR-100 (batch 256 + 32 replay)",
        ("config/ports/kaizen/KAIZEN.gin",), (), size=32, num_classes=100,
        tiny=TINY_CLASSIFIER + ("ExperienceLoop.stream_batch_size = 4",
                                "ExperienceLoop.replay_batch_size = 2",
                                "EpisodicBuffer.capacity = 16")),
}
PORTS = ("recall", *STREAM_CARDS)
TINY_SIZE, TINY_CLASSES = 16, 4


def has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def memory_mb() -> tuple[str, float]:
    """('GPU', peak MB since the last reset) on a GPU, else ('RSS', resident MB now)."""
    import tensorflow as tf

    if has_gpu():
        return "GPU", tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return "RSS", pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def reset_memory() -> None:
    import keras
    import tensorflow as tf

    keras.backend.clear_session()
    gc.collect()
    if has_gpu():
        tf.config.experimental.reset_memory_stats("GPU:0")


def measure_recall(tiny: bool, steps: int, warmup: int) -> dict:
    """RECALL's step 0 (encoder + decoder) on one fixed batch; input is that batch (0 ms)."""
    import time

    from bench.op_profile import op_shares
    from bench.train_step import MODELS, build_trainer, fixed_batch

    spec = MODELS["tiny" if tiny else "resnet101"]
    trainer = build_trainer(spec, "all", "function", iterations=warmup + steps + 2)
    batch = fixed_batch(spec)
    for _ in range(warmup):
        float(trainer._step(batch))
    started = time.perf_counter()
    for _ in range(steps):
        float(trainer._step(batch))
    seconds = time.perf_counter() - started
    shares = op_shares(lambda: [float(trainer._step(batch)) for _ in range(2)])
    return {"images_per_sec": steps * spec.batch / seconds, "input_ms": 0.0, "buffer_ms": 0.0,
            "step_ms": 1000 * seconds / steps, "rest_ms": 0.0, "op_shares": shares,
            "card": f"{spec.description} ({spec.size} px, batch {spec.batch})"}


def stream_data(card: Card, tiny: bool, rows: int, work: Path):
    """(table, scenario): a generated set at the card's size, one iid experience."""
    from continual.data.image_table import ImageTable
    from continual.data.scenarios import iid
    from continual.data.shards import open_record_set
    from continual.data.synthetic_stream import generate_stream_set

    size, classes = (TINY_SIZE, TINY_CLASSES) if tiny else (card.size, card.num_classes)
    folder = work / f"data-{size}-{classes}-{rows}"
    generate_stream_set(folder, num_classes=classes, size=size,
                        train_per_class=-(-rows // classes), test_per_class=1,
                        domains=1, run_length=1)
    train, test = (open_record_set(folder, s) for s in ("train", "test"))
    return ImageTable(train), iid(train, test, 0, num_tasks=1)


def measure_stream(card: Card, precision: str, tiny: bool, steps: int, warmup: int,
                   work: Path) -> dict:
    import gin

    import train_manager  # noqa: F401  (registers TrainManager, which the cards bind)
    from bench.step_split import run_bounded
    from continual.loop.experience import ExperienceLoop
    from continual.plans.stream import StreamPlan
    from continual.plans.stream_stages import make_method

    gin.add_config_file_search_path(str(ROOT))

    def parse_card() -> None:
        gin.clear_config()
        gin.parse_config_files_and_bindings(
            [str(ROOT / f) for f in card.gin_files],
            list(card.bindings + (card.tiny if tiny else ())))

    parse_card()
    rows = (warmup + steps + 2) * ExperienceLoop().stream_batch_size
    gin.clear_config()
    table, scenario = stream_data(card, tiny, rows, work)   # with no card binding in force
    parse_card()
    manager = SimpleNamespace(base_folder=ROOT,
                              mixed_precision=None if precision == "float32" else precision)
    plan = StreamPlan(manager)
    method = make_method(plan, table.image_shape, table.num_classes, seed=0)
    method.check_stream(scenario, ExperienceLoop())   # sizes schedules and buffers
    result = run_bounded(method, scenario.experiences[0], table, ExperienceLoop(), steps=steps,
                         warmup=warmup)
    return {**result, "card": card.description if not tiny else f"{card.description}, tiny"}


def measure(port: str, precision: str, tiny: bool, steps: int, warmup: int,
            work: Path) -> dict:
    """One row; a failure is reported in the row, not raised."""
    import gin
    import keras

    gin.clear_config()
    reset_memory()
    keras.mixed_precision.set_global_policy(precision)
    try:
        if port == "recall":
            result = measure_recall(tiny, steps, warmup)
        else:
            result = measure_stream(STREAM_CARDS[port], precision, tiny, steps, warmup, work)
        kind, megabytes = memory_mb()
        return {"port": port, "precision": precision, **result, "memory": kind,
                "memory_mb": megabytes}
    except Exception as error:  # reported in its row: the other rows still run
        traceback.print_exc()
        return {"port": port, "precision": precision,
                "error": f"{type(error).__name__}: {str(error).splitlines()[0][:150]}"}
    finally:
        keras.mixed_precision.set_global_policy("float32")
        gin.clear_config()


HEADER = ("| port | card | precision | images/s | memory MB | input ms | buffer ms | step ms | "
          "rest ms | conv % | BN % | cast % |\n|---|---|---|---|---|---|---|---|---|---|---|---|")


def table_line(row: dict) -> str:
    head = f"| {row['port']} | {row.get('card', '-')} | {row['precision']} | "
    if "error" in row:
        return head + f"failed: {row['error']} | - | - | - | - | - | - | - | - |"
    shares = row.get("op_shares") or {}
    percent = " | ".join(f"{100 * shares[c]:.0f}" if c in shares else "-"
                         for c in ("conv", "batch norm", "cast"))
    return head + (f"{row['images_per_sec']:.1f} | {row['memory_mb']:.0f} ({row['memory']}) | "
                   f"{row['input_ms']:.1f} | {row['buffer_ms']:.1f} | {row['step_ms']:.1f} | "
                   f"{row['rest_ms']:.1f} | {percent} |")


def check(ports, precisions, tiny: bool, steps: int, warmup: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder:
        return [measure(port, precision, tiny, steps, warmup, Path(folder))
                for port in ports for precision in precisions]


def main(argv: list[str] | None = None) -> list[dict]:
    from bench.train_step import device_name, split_choice

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--tiny", action="store_true", help="tiny cards (default without GPU)")
    size.add_argument("--paper", action="store_true", help="paper sizes even on a CPU")
    parser.add_argument("--ports", default=",".join(PORTS))
    parser.add_argument("--precisions", default=None,
                        help="default: float32 and mixed_float16 (GPU) / mixed_bfloat16 (CPU)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per row")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (>= 1)")
    args = parser.parse_args(argv)
    if args.warmup < 1 or args.steps < 1:
        raise SystemExit("error: --warmup and --steps must be >= 1 (the first step traces)")
    gpu = has_gpu()
    tiny = args.tiny or not (gpu or args.paper)
    mixed = "mixed_float16" if gpu else "mixed_bfloat16"
    precisions = split_choice(args.precisions or f"float32,{mixed}",
                              ("float32", "mixed_float16", "mixed_bfloat16"), "precisions")
    ports = split_choice(args.ports, PORTS, "ports")
    print(f"device: {device_name()}; {'tiny' if tiny else 'paper-size'} cards; "
          f"{args.steps} timed steps after {args.warmup} warm-up", flush=True)
    rows = check(ports, precisions, tiny, args.steps, args.warmup)
    print("\n" + HEADER + "\n" + "\n".join(table_line(row) for row in rows), flush=True)
    return rows


if __name__ == "__main__":
    main()
