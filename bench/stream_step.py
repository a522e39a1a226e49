"""Images/s of the experience loop, with and without replay.

Runs one offline experience of fine-tuning (stream batches only) and of ER (each stream batch
plus a replay batch from a reservoir buffer, then the buffer update) through
`continual.loop.experience.run_experience`, the same code a stream stage runs, on a generated
stream set; the loop's own throughput counter (first step of a run excluded: it traces) gives
the trained images/s (stream + replay rows). With replay a step trains on twice the images, so
the stream images/s (half of it for ER) is printed too. Each row also splits the wall time per
step after the first into input (gathering stream and replay rows), buffer (sampling, the
after-step update), train step and rest (`bench/step_split.py`), and gives the train step's op
time shares in convolutions, batch norm and casts over two profiled steps run after the
experience (`bench/op_profile.py`). Asserts nothing.

Usage (from the repo root): python bench/stream_step.py [--models tiny_convnet,resnet18_cifar]
    [--size 32] [--batch 32] [--images 1280]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gin  # noqa: E402

from bench.op_profile import op_shares  # noqa: E402
from bench.step_split import SplitTimer  # noqa: E402
from continual.data.image_table import ImageTable  # noqa: E402
from continual.data.scenarios import iid  # noqa: E402
from continual.data.shards import open_record_set  # noqa: E402
from continual.data.synthetic_stream import generate_stream_set  # noqa: E402
from continual.loop.experience import (  # noqa: E402
    ExperienceLoop,
    LoopState,
    _make_batch,
    run_experience,
)
from continual.methods.base import Phase  # noqa: E402
from continual.methods.baselines import ExperienceReplay, FineTuning  # noqa: E402
from continual.plans.stream_stages import make_method  # noqa: E402
from continual.replay.buffers import EpisodicBuffer  # noqa: E402


def measure(model: str, method_cls, table, experience, batch: int, work: Path) -> dict:
    gin.clear_config()
    gin.parse_config([f"build_classifier.name = '{model}'", "EpisodicBuffer.capacity = 500",
                      f"ExperienceLoop.stream_batch_size = {batch}",
                      f"ExperienceLoop.replay_batch_size = {batch}",
                      "ExperienceLoop.checkpoint_every = 100000"])
    plan = SimpleNamespace(method_cls=method_cls, method_name=method_cls.name,
                           buffer_cls=EpisodicBuffer if method_cls.uses_buffer else None)
    method = make_method(plan, table.image_shape, table.num_classes, seed=0)
    folder = work / f"{model}-{method_cls.name}"
    timer = SplitTimer(method, table, warmup=1)
    info = run_experience(method, experience, table, ExperienceLoop(), 0, folder, LoopState())
    timer.stop()
    per_step = 2 if method_cls.uses_buffer else 1
    return {"model": model, "method": method_cls.name, "batch": batch,
            "stream_images_per_sec": info["images_per_sec"] / per_step,
            "trained_images_per_sec": info["images_per_sec"], **timer.result(),
            "op_shares": profile_steps(method, table, experience, batch)}


def profile_steps(method, table, experience, batch: int, steps: int = 2) -> dict:
    """Op-time shares of `steps` more train steps on one batch (with replay for ER)."""
    batch_rows = _make_batch(method, Phase("offline"), table, experience.train_ids[:batch],
                             ExperienceLoop(), 0, LoopState())
    return op_shares(lambda: [float(method.train_step(batch_rows, LoopState().global_step)
                                    ["loss"]) for _ in range(steps)])


def table_line(row: dict) -> str:
    shares = row["op_shares"]
    percent = " | ".join(f"{100 * shares[c]:.0f}" if c in shares else "-"
                         for c in ("conv", "batch norm", "cast"))
    return (f"| {row['model']} | {row['method']} | {row['batch']} | "
            f"{row['stream_images_per_sec']:.0f} | {row['trained_images_per_sec']:.0f} | "
            f"{row['input_ms']:.2f} | {row['buffer_ms']:.2f} | {row['step_ms']:.1f} | "
            f"{row['rest_ms']:.2f} | {percent} |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="tiny_convnet,resnet18_cifar")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--images", type=int, default=1280)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generate_stream_set(work / "data", num_classes=10, size=args.size,
                            train_per_class=args.images // 10, test_per_class=2)
        train, test = (open_record_set(work / "data", s) for s in ("train", "test"))
        table = ImageTable(train)
        # One experience holding every image: the ER buffer fills in the first 500 rows.
        experience = iid(train, test, 0, num_tasks=1).experiences[0]
        rows = [measure(model, cls, table, experience, args.batch, work)
                for model in args.models.split(",") for cls in (FineTuning, ExperienceReplay)]
    print(f"\n{args.images} images of {args.size}x{args.size}, one offline epoch, CPU\n")
    print("| model | method | stream batch | stream images/s | trained images/s | input ms | "
          "buffer ms | step ms | rest ms | conv % | BN % | cast % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(table_line(row))


if __name__ == "__main__":
    main()
