"""Episodic buffer cost as a class-incremental stream grows: does any cost grow with tasks?

For each capacity and policy, an `EpisodicBuffer` (512-d features + logits over all classes,
uniform sampler) takes a class-incremental stream of `--tasks` tasks, `--classes_per_task` new
classes each and `capacity` items per task (task 1 fills the buffer), fed through `observe` in
chunks of 500, with `end_experience(task's ids, labels, features, logits)` after every task.
At the end of task 1 and of the last task it times, after warm-up, the median of `--calls`
calls of `observe` (one stream batch) and of `sample` (one replay batch, rows gathered), and of
`--boundary_calls` calls of that task's `end_experience`, each from the state before the
boundary (task_boundary_random works there; the online policies do nothing). It also reports
the buffer's variable bytes, the process RSS (one process for all rows) and last / first time
ratios: ~1 means the cost stays flat as tasks grow. Asserts nothing; numbers depend on the
machine and its load.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run standalone from anywhere

import numpy as np  # noqa: E402
from minred_cost import minred_rows  # noqa: E402  (bench/ is on sys.path when run as a script)

from continual.replay.buffers import EpisodicBuffer  # noqa: E402

POLICIES = "reservoir,fifo,class_balanced_reservoir,task_boundary_random"
FEED_CHUNK = 500
WARMUP = 5


def rss_mb() -> float:
    """Resident set size now (Linux /proc), else the peak from getrusage, in MiB."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_ms(call, count: int, reset=None) -> float:
    """Median wall time of `count` calls of call(i), in ms, after WARMUP untimed calls.

    `reset()`, if given, runs untimed after each call (to repeat a call from the same state).
    """
    times = []
    for i in range(WARMUP + count):
        started = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - started)
        if reset is not None:
            reset()
    return 1000 * statistics.median(times[WARMUP:])


def restorer(buffer: EpisodicBuffer):
    """A function that puts every variable of `buffer` back to its current value."""
    saved = [(variable, variable.numpy()) for variable in buffer.variables]
    return lambda: [variable.assign(value) for variable, value in saved]


class Stream:
    """The class-incremental stream: item k of task t has class t * classes_per_task + k % cpt."""

    def __init__(self, args, capacity: int):
        self.args, self.capacity, self.position = args, capacity, 0
        self.num_classes = args.tasks * args.classes_per_task
        rng = np.random.default_rng(0)
        self.features = rng.normal(size=(capacity, args.feature_dim)).astype(np.float32)
        self.logits = rng.normal(size=(capacity, self.num_classes)).astype(np.float32)

    def task_items(self, task: int, count: int):
        """ids, labels, features, logits of the next `count` stream items, all of `task`."""
        ids = np.arange(self.position, self.position + count)
        self.position += count
        labels = task * self.args.classes_per_task + np.arange(count) % self.args.classes_per_task
        return ids, labels, self.features[:count], self.logits[:count]

    def observe(self, buffer: EpisodicBuffer, task: int, count: int, step: int) -> None:
        ids, labels, features, logits = self.task_items(task, count)
        buffer.observe(ids, labels, step, seed=0, logits=logits, features=features)


def measure(buffer: EpisodicBuffer, stream: Stream, task: int, end_task) -> dict[str, float]:
    """Median ms of observe / sample / end_task(seed) at the current task, and the RSS."""
    args = stream.args
    return {
        "observe": median_ms(lambda i: stream.observe(buffer, task, args.stream_batch, i),
                             args.calls),
        "sample": median_ms(lambda i: buffer.sample(args.replay_batch, [0, i])["ids"].numpy(),
                            args.calls),
        "end_experience": median_ms(end_task, args.boundary_calls, restorer(buffer)),
        "rss": rss_mb(),
    }


def run_row(args, capacity: int, policy: str) -> tuple[int, dict, dict]:
    """(buffer bytes, measures after task 1, measures after the last task)."""
    stream = Stream(args, capacity)
    buffer = EpisodicBuffer(capacity, policy, num_classes=stream.num_classes,
                            logits_dim=stream.num_classes, feature_dim=args.feature_dim)
    points = {}
    for task in range(args.tasks):
        ids = np.arange(stream.position, stream.position + capacity)
        labels = task * args.classes_per_task + np.arange(capacity) % args.classes_per_task
        for done in range(0, capacity, FEED_CHUNK):
            stream.observe(buffer, task, min(FEED_CHUNK, capacity - done), step=task)

        def end_task(seed, ids=ids, labels=labels, task=task):
            buffer.end_experience(ids, labels, seed, step=task, logits=stream.logits,
                                  features=stream.features)

        if task in (0, args.tasks - 1):
            points[task] = measure(buffer, stream, task, end_task)
        end_task(0)
    return buffer.storage.nbytes(), points[0], points[args.tasks - 1]


def table_row(capacity: int, policy: str, nbytes: int, first: dict, last: dict) -> str:
    cells = [f"{capacity:,}", policy, f"{nbytes / 2**20:.1f}"]
    for what in ("observe", "sample", "end_experience"):
        noise = max(first[what], last[what]) < 0.01          # a no-op: its ratio means nothing
        ratio = "-" if noise else f"{last[what] / first[what]:.2f}"
        cells += [f"{first[what]:.2f}", f"{last[what]:.2f}", ratio]
    cells += [f"{first['rss']:.0f}", f"{last['rss']:.0f}"]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--capacities", default="2000,20000")
    parser.add_argument("--policies", default=POLICIES)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--classes_per_task", type=int, default=10)
    parser.add_argument("--feature_dim", type=int, default=512)
    parser.add_argument("--stream_batch", type=int, default=10)
    parser.add_argument("--replay_batch", type=int, default=32)
    parser.add_argument("--calls", type=int, default=200, help="timed observe / sample calls")
    parser.add_argument("--boundary_calls", type=int, default=5, help="timed end_experience")
    parser.add_argument("--minred_capacity", type=int, default=16384,
                        help="MinRed rows (see minred_cost.py): capacity; 0 = no MinRed rows")
    args = parser.parse_args(argv)
    last = f"t{args.tasks}"
    rows = [f"| capacity | policy | buffer MiB | observe ms t1 | {last} | x | sample ms t1 | "
            f"{last} | x | end_experience ms t1 | {last} | x | RSS MiB t1 | {last} |",
            "|" + "---|" * 14]
    started = time.perf_counter()
    for capacity in map(int, args.capacities.split(",")):
        for policy in args.policies.split(","):
            rows.append(table_row(capacity, policy, *run_row(args, capacity, policy)))
    print(f"{args.tasks} tasks x {args.classes_per_task} classes, capacity items per task, "
          f"{args.feature_dim}-d features + logits; stream batch {args.stream_batch}, replay "
          f"batch {args.replay_batch}; medians of {args.calls} calls "
          f"({args.boundary_calls} for end_experience); x = {last} / t1\n")
    print("\n".join(rows))
    if args.minred_capacity:
        print("\nMinRed (continuous SSL): one step = insert 64, one step's features, remove 64\n")
        print(minred_rows(args.minred_capacity, args.feature_dim, 64, steps=5, original_steps=1))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
