"""The project's TensorFlow train steps against their PyTorch twins, side by side.

For each row of `bench/torch_twin.py` (ResNet-18 CIFAR FT and ER at stream batch 32 and 128;
DeepLab-v2 ResNet-101 decoder only in float32 and mixed bfloat16 at 321 px, batch 4) it starts
two warm worker processes, one running the project's step (this interpreter: `FineTuning`'s
train step as a stream stage runs it, `StageTrainer`'s compiled step as a RECALL stage does)
and one running the PyTorch twin (`--torch_python`, an interpreter with torch; PyTorch is not
a dependency of the project), each limited to `--threads` threads (TensorFlow: intra- and
inter-op pools; torch: `set_num_threads` / `set_num_interop_threads`). After their warm-up
steps the driver alternates single steps, TF then torch, so whatever else loads the machine
weighs on both about equally; it prints the median ms per step of each side and TF / torch
(below 1: the project's step is faster). Absolute ms depend on the machine and its load (on a
shared machine they are measured under load; the ratio is the number to read). Caveat: on an
oversubscribed machine (load above the core count) torch's OpenMP pool loses far more than
TensorFlow's thread pool at 2 threads (its workers wait for descheduled peers at every op;
on a loaded machine torch's ResNet-18 step was slower with 2 threads than with 1), so
2-thread ratios measured under load flatter TF; compare on a quiet machine, or with
`--threads 1`, which has no such bias. Asserts nothing.

Usage (from the repo root, with the project's interpreter):
    python bench/side_by_side.py --torch_python /work/torchvenv/bin/python
        [--rows r18_ft_b32,r18_er_b32,r18_ft_b128,r18_er_b128,deeplab_decoder_f32,
                deeplab_decoder_bf16] [--steps N] [--warmup 2] [--threads 2]
Without torch the same driver runs against a second TF worker with `--torch_python none`
(a TF / TF sanity row: ratio about 1).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.torch_twin import CIFAR_CLASSES, ROWS, Row, serve  # noqa: E402  (no torch)


class Worker:
    """A worker process answering `torch_twin.serve`'s line protocol."""

    def __init__(self, command: list[str], threads: int):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "OMP_NUM_THREADS": str(threads)}
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def ask(self, request: dict) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.process.args[:3]} exited "
                               f"({self.process.wait()}) without answering {request}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def close(self) -> None:
        """End of input: the worker returns from `serve` and exits."""
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=120)


def tf_worker(threads: int) -> Worker:
    return Worker([sys.executable, str(Path(__file__).resolve()), "--tf_worker",
                   "--threads", str(threads)], threads)


def torch_worker(python: str, threads: int) -> Worker:
    return Worker([python, str(ROOT / "bench" / "torch_twin.py"), "--serve",
                   "--threads", str(threads)], threads)


def compare(name: str, workers: tuple[Worker, Worker], steps: int, warmup: int) -> dict:
    """Warm both workers on the row, then alternate `steps` single steps; median ms each."""
    for worker in workers:
        worker.ask({"row": name, "warmup": warmup})
    times: tuple[list, list] = ([], [])
    losses = [None, None]
    for _ in range(steps):
        for side, worker in enumerate(workers):
            answer = worker.ask({"step": True})
            times[side].append(answer["ms"])
            losses[side] = answer["loss"]
    tf_ms, other_ms = (statistics.median(t) for t in times)
    return {"row": name, "tf_ms": tf_ms, "other_ms": other_ms, "ratio": tf_ms / other_ms,
            "losses": losses, "times": times}


def run_row(name: str, torch_python: str | None, threads: int, steps: int | None,
            warmup: int) -> dict:
    """One row in fresh workers (the mixed-precision policy is global to a TF process)."""
    other = torch_worker(torch_python, threads) if torch_python else tf_worker(threads)
    workers = (tf_worker(threads), other)
    try:
        return compare(name, workers, steps or ROWS[name].steps, warmup)
    except RuntimeError as error:
        return {"row": name, "error": str(error)}
    finally:
        for worker in workers:
            worker.close()


# ---------------------------------------------------------------- the TF worker

def tf_step(row: Row):
    """The project's train step of `row` on a fixed batch, as a callable returning the loss."""
    import keras

    keras.mixed_precision.set_global_policy(row.precision)
    if row.model == "resnet18_cifar":
        return _classifier_step(row)
    return _segmentation_step(row)


def _classifier_step(row: Row):
    from types import SimpleNamespace

    import gin
    import tensorflow as tf

    from continual.methods.base import StreamBatch
    from continual.methods.baselines import FineTuning
    from continual.plans.stream_stages import make_method

    gin.clear_config()
    gin.parse_config(["build_classifier.name = 'resnet18_cifar'"])
    plan = SimpleNamespace(method_cls=FineTuning, method_name="finetune", buffer_cls=None)
    method = make_method(plan, (32, 32, 3), CIFAR_CLASSES, seed=0)

    def rows(seed: int):
        images = tf.random.stateless_uniform((row.batch, 32, 32, 3), (seed, 0), maxval=256,
                                             dtype=tf.int32)
        labels = tf.random.stateless_uniform((row.batch,), (seed, 1), maxval=CIFAR_CLASSES,
                                             dtype=tf.int32)
        return tf.cast(images, tf.uint8), labels

    images, labels = rows(1)
    replay_images, replay_labels = rows(2) if row.replay else (None, None)
    # ExperienceReplay inherits this train step: it concatenates the replay rows.
    batch = StreamBatch(images=images, labels=labels, ids=tf.range(row.batch, dtype=tf.int64),
                        replay_images=replay_images, replay_labels=replay_labels,
                        phase="offline")
    step = tf.constant(0, tf.int64)
    return lambda: float(method.train_step(batch, step)["loss"])


def _segmentation_step(row: Row):
    from bench.train_step import MODELS, build_trainer, fixed_batch

    spec = MODELS["resnet101"]
    trainer = build_trainer(spec, "decoder", "function", iterations=1000)
    batch = fixed_batch(spec)
    return lambda: float(trainer._step(batch))


def start_tf_worker(threads: int) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    serve(tf_step)


def table(results: list[dict], other: str) -> str:
    lines = [f"| row | description | batch | precision | TF ms | {other} ms | TF / {other} |",
             "|---|---|---|---|---|---|---|"]
    for result in results:
        row = ROWS[result["row"]]
        batch = f"{row.batch} + {row.batch}" if row.replay else str(row.batch)
        head = f"| {result['row']} | {row.description} | {batch} | {row.precision} | "
        if "error" in result:
            lines.append(head + f"failed: {result['error'][:100]} | - | - |")
        else:
            lines.append(head + f"{result['tf_ms']:.0f} | {result['other_ms']:.0f} | "
                         f"{result['ratio']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--torch_python", default="/work/torchvenv/bin/python",
                        help="interpreter with torch (default: %(default)s); 'none': a "
                             "second TF worker instead")
    parser.add_argument("--rows", default=",".join(ROWS),
                        help="comma-separated (default: all: %(default)s)")
    parser.add_argument("--steps", type=int, default=None, help="alternated steps per side")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per side (>= 1)")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads per side, TF and torch alike (default: %(default)s)")
    parser.add_argument("--tf_worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tf_worker:
        start_tf_worker(args.threads)
        return []
    names = [n.strip() for n in args.rows.split(",") if n.strip()]
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise SystemExit(f"error: --rows names {unknown}; choose from {list(ROWS)}")
    torch_python = None if args.torch_python == "none" else args.torch_python
    if torch_python and not Path(torch_python).exists():
        raise SystemExit(f"error: --torch_python {torch_python} does not exist; give an "
                         "interpreter with torch installed (see bench/torch_twin.py), or none")
    other = "torch" if torch_python else "TF (2nd)"
    print(f"{args.threads} threads per side, alternating single steps after {args.warmup} "
          f"warm-up steps; load average {os.getloadavg()[0]:.2f}", flush=True)
    results = []
    for name in names:
        results.append(run_row(name, torch_python, args.threads, args.steps, args.warmup))
        print(table(results[-1:], other).splitlines()[-1], flush=True)
    print("\n" + table(results, other))
    return results


if __name__ == "__main__":
    main()
