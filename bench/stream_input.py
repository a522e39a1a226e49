"""Stream sets larger than memory: peak RSS of a run, and input images/s against the step's.

Writes a classification set whose decoded images are `--factor` x `--budget_mb`, then:
1. RSS: one offline epoch of ER (tiny convnet) over the whole set through `run_experience`, in
   a fresh process per path: the in-memory table (no budget) and the table read from the
   shards (`input_memory_budget.megabytes = budget_mb`). The RSS before is taken after a
   warm-up experience of a few batches (step traced, tf.data threads up) and before the set's
   table is built; the peak is the process's high-water mark (VmHWM) after the epoch.
2. Speed: the shard table's stream input (a phase's batches read ahead: parallel read and
   PNG decode, prefetch) and its replay input (random rows read by id, batch by batch), in
   images/s, against the images/s that the train step consumes (trained rows: stream +
   replay, in-memory table, first step excluded) of each model and method. The input can feed
   a step at `input images/s` = batch rows over the time to read them: the stream batch by
   read-ahead, plus for ER the replay batch by id; the ratio is that over the step's images/s.
Asserts nothing; numbers depend on the machine and its load.

Usage (from the repo root): python bench/stream_input.py [--budget_mb 32] [--factor 4]
    [--size 32] [--batch 32] [--models tiny_convnet,resnet18_cifar] [--step_images 1280]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gin  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from continual.data.classification import (  # noqa: E402
    ClassificationSample,
    write_classification_set,
)
from continual.data.image_table import ImageTable, decoded_bytes, image_table  # noqa: E402
from continual.data.scenarios import iid  # noqa: E402
from continual.data.shard_table import ShardTable  # noqa: E402
from continual.data.shards import open_record_set  # noqa: E402
from continual.loop.batches import chunks, epoch_order  # noqa: E402
from continual.loop.experience import ExperienceLoop, LoopState, run_experience  # noqa: E402
from continual.methods.baselines import ExperienceReplay, FineTuning  # noqa: E402
from continual.plans.stream_stages import make_method  # noqa: E402
from continual.replay.buffers import EpisodicBuffer  # noqa: E402

MIB = 2**20
CAPACITY = 500  # the ER buffer's rows
WARMUP_BATCHES = 4


def write_set(folder: Path, name: str, count: int, size: int) -> None:
    """`count` random-content images of `size` px over 10 classes (noise: PNG barely
    compresses it, so the shards are about the decoded size)."""
    def samples():
        rng = np.random.default_rng(count)
        for index in range(count):
            image = rng.integers(0, 256, (size, size, 3), np.uint8)
            yield ClassificationSample(image, index % 10, f"{name}{index:07d}")
    write_classification_set(folder, name, samples(), num_classes=10)


def memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def configure(model: str, batch: int, budget_mb: float | None) -> None:
    gin.clear_config()
    gin.parse_config([f"build_classifier.name = '{model}'", f"EpisodicBuffer.capacity = {CAPACITY}",
                      f"ExperienceLoop.stream_batch_size = {batch}",
                      f"ExperienceLoop.replay_batch_size = {batch}",
                      "ExperienceLoop.checkpoint_every = 1000000", "FineTuning.epochs = 1",
                      "ExperienceReplay.epochs = 1"])
    if budget_mb is not None:
        gin.bind_parameter("input_memory_budget.megabytes", budget_mb)


def build(method_cls, manifest):
    plan = SimpleNamespace(method_cls=method_cls, method_name=method_cls.name,
                           buffer_cls=EpisodicBuffer if method_cls.uses_buffer else None)
    return make_method(plan, manifest.image_shape, manifest.num_classes, seed=0)


def variable_bytes(objects) -> int:
    variables = {id(v): v for obj in objects for v in getattr(obj, "variables", [])}
    return sum(int(np.prod(v.shape)) * tf.as_dtype(v.dtype).size for v in variables.values())


def rss_row(data: Path, work: Path, batch: int, budget_mb: float | None) -> dict:
    """One epoch of ER over the whole set; RSS before the table and the peak after."""
    configure("tiny_convnet", batch, budget_mb)
    train, test = (open_record_set(data, s) for s in ("train", "test"))
    experience = iid(train, test, 0, num_tasks=1).experiences[0]
    method = build(ExperienceReplay, train)
    warm_up(method, experience, ShardTable(train), batch, work / "warmup")
    before = memory_kib("VmRSS")
    table = image_table(train)
    info = run_experience(method, experience, table, ExperienceLoop(), 1, work / "epoch",
                          LoopState())
    buffer = variable_bytes([method.buffer])
    model = variable_bytes(method.trackables().values()) - buffer
    return {"table": type(table).__name__, "decoded_mib": decoded_bytes(train) / MIB,
            "budget_mib": budget_mb, "model_mib": model / MIB, "buffer_mib": buffer / MIB,
            "rss_before_mib": before / 1024, "peak_mib": memory_kib("VmHWM") / 1024,
            "images_per_sec": info["images_per_sec"]}


def rss_in_subprocess(data: Path, work: Path, batch: int, budget_mb: float | None) -> dict:
    command = [sys.executable, __file__, "--rss_row", str(data), "--work", str(work),
               "--batch", str(batch)]
    if budget_mb is not None:
        command += ["--budget_mb", str(budget_mb)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the RSS row failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def input_rates(manifest, batch: int, batches: int) -> tuple[float, float]:
    """(read-ahead images/s over one shuffled epoch's first `batches`, its start included;
    by-id images/s of `batches` // 2 batches of random rows)."""
    table = ShardTable(manifest)
    order = chunks(epoch_order(np.arange(manifest.num_records), 0, 0, 0, 0), batch)[:batches]
    table.gather(order[0])  # traces the reader
    started = time.perf_counter()
    table.read_ahead(order)
    for ids in order:
        table.gather(ids)
    ahead = len(order) * batch / (time.perf_counter() - started)
    rng = np.random.default_rng(1)
    started = time.perf_counter()
    for _ in range(batches // 2):
        table.gather(rng.integers(0, manifest.num_records, batch))
    by_id = batches // 2 * batch / (time.perf_counter() - started)
    return ahead, by_id


def warm_up(method, experience, table, batch: int, folder: Path) -> None:
    """A few batches first, so that every trace (ER's at its first replay batch too) and the
    tf.data threads are done before anything is measured."""
    warmup = dataclasses.replace(experience,
                                 train_ids=experience.train_ids[:WARMUP_BATCHES * batch])
    run_experience(method, warmup, table, ExperienceLoop(), 0, folder, LoopState())


def step_rate(model: str, method_cls, small, batch: int, work: Path) -> float:
    configure(model, batch, None)
    experience = iid(small, small, 0, num_tasks=1).experiences[0]
    method, table, folder = build(method_cls, small), ImageTable(small), work / model
    warm_up(method, experience, table, batch, folder / f"{method_cls.name}-warmup")
    info = run_experience(method, experience, table, ExperienceLoop(), 1,
                          folder / method_cls.name, LoopState())
    return info["images_per_sec"]


def print_rss(rows: list[dict]) -> None:
    print("\n| table | set decoded MiB | budget MiB | model + optimiser MiB | buffer MiB | "
          "RSS before MiB | peak RSS MiB | growth MiB | growth <= budget + model + buffer | "
          "trained images/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        growth = row["peak_mib"] - row["rss_before_mib"]
        limit = (row["budget_mib"] or 0) + row["model_mib"] + row["buffer_mib"]
        budget = "none" if row["budget_mib"] is None else f"{row['budget_mib']:.0f}"
        print(f"| {row['table']} | {row['decoded_mib']:.0f} | {budget} | "
              f"{row['model_mib']:.2f} | {row['buffer_mib']:.3f} | {row['rss_before_mib']:.0f} | "
              f"{row['peak_mib']:.0f} | {growth:.0f} | "
              f"{'yes' if row['budget_mib'] and growth <= limit else 'no'} | "
              f"{row['images_per_sec']:.0f} |")


def print_speed(ahead: float, by_id: float, steps: list[tuple], batch: int) -> None:
    print(f"\nShard table input, batch {batch}: read ahead {ahead:.0f} images/s, by id "
          f"{by_id:.0f} images/s\n")
    print("| model | method | step images/s (trained rows) | input images/s | input / step |")
    print("|---|---|---|---|---|")
    for model, method, rate in steps:
        feed = ahead if method == FineTuning.name else 2 / (1 / ahead + 1 / by_id)
        print(f"| {model} | {method} | {rate:.0f} | {feed:.0f} | {feed / rate:.1f}x |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget_mb", type=float, default=None)
    parser.add_argument("--factor", type=float, default=4.0)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--models", default="tiny_convnet,resnet18_cifar")
    parser.add_argument("--step_images", type=int, default=1280)
    parser.add_argument("--rss_row", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--work", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_row:
        print(json.dumps(rss_row(Path(args.rss_row), Path(args.work), args.batch,
                                 args.budget_mb)))
        return
    budget = args.budget_mb or 32.0
    count = int(args.factor * budget * MIB) // (args.size * args.size * 3)
    with tempfile.TemporaryDirectory(prefix="bench-stream-input-") as tmp:
        data = Path(tmp) / "data"
        for name, images in (("train", count), ("test", 100), ("small", args.step_images)):
            write_set(data, name, images, args.size)
        rss = [rss_in_subprocess(data, Path(tmp) / label, args.batch, limit)
               for label, limit in (("memory", None), ("shards", budget))]
        ahead, by_id = input_rates(open_record_set(data, "train"), args.batch, 1000)
        small = open_record_set(data, "small")
        steps = [(model, cls.name, step_rate(model, cls, small, args.batch, Path(tmp)))
                 for model in args.models.split(",") for cls in (FineTuning, ExperienceReplay)]
    print(f"\n{count} images of {args.size}x{args.size}x3, one offline epoch of ER (tiny "
          f"convnet, batch {args.batch}, buffer {CAPACITY}), CPU")
    print_rss(rss)
    print_speed(ahead, by_id, steps, args.batch)


if __name__ == "__main__":
    main()
