"""Many `main.py` processes on one checkpoint store: the tiny baselines suite run by three
processes at once (two shards of a job array and one whole-suite process) trains every stage
exactly once and gives the metrics of a single process; two processes on one tiny RECALL
experiment train each stage once and record each evaluation once; a bad --shard is refused."""

import collections
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import main
from tests.core.stream_resume import records
from tests.core.test_stream_run import TWO_TASKS, stream_args
from tests.core.test_suite_run import EXPERIMENT as SEGMENTATION
from tests.core.test_suite_run import suite_args

ROOT = Path(main.__file__).resolve().parent
EXPERIMENTS = ("JOINT", "FINETUNE", "ER")  # the suite's order: shard 0/2 runs JOINT and ER
QUICK = (*TWO_TASKS, "FineTuning.epochs = 1", "ExperienceReplay.epochs = 1",
         "KeyLocks.poll_seconds = 0.2")
RUNNING = re.compile(r"\] \S+ running \((\S+)\)")


def start(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "w") as handle:
        return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT,
                                stdout=handle, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))


def run_all(runs: list[list[str]], tmp: Path) -> list[str]:
    """Start one process per argument list at once; their logs once all exited with 0."""
    logs = [tmp / f"process{i}.log" for i in range(len(runs))]
    processes = [start(args, log) for args, log in zip(runs, logs, strict=True)]
    codes = [p.wait(timeout=300) for p in processes]
    texts = [log.read_text() for log in logs]
    assert codes == [0] * len(runs), [text[-2000:] for text in texts]
    return texts


def trained_once(texts: list[str]) -> set[str]:
    """The stages the processes trained ("kind/key"), checking that none trained twice."""
    trained = collections.Counter(key for text in texts for key in RUNNING.findall(text))
    assert trained and max(trained.values()) == 1, trained.most_common(3)
    return set(trained)


def comparable(tmp: Path, name: str) -> list[dict]:
    """An experiment's metrics without its throughput (a timing, not a result)."""
    return [{k: v for k, v in r.items() if k != "images_per_sec"} for r in records(tmp, name)]


def completed(tmp: Path) -> set[str]:
    return {str(p.parent.relative_to(tmp / "ckpt")) for p in (tmp / "ckpt").rglob("COMPLETE.json")}


def test_three_processes_train_each_stage_once_with_single_process_metrics(tmp_path):
    one, many = tmp_path / "one", tmp_path / "many"
    assert main.main(stream_args(one, *QUICK)) == 0
    texts = run_all([[*stream_args(many, *QUICK), "--shard", "0/2"],
                     [*stream_args(many, *QUICK), "--shard", "1/2"],
                     stream_args(many, *QUICK)], tmp_path)
    assert trained_once(texts) == completed(many) == completed(one)  # the same keys
    for name in EXPERIMENTS:  # one line per evaluation: no process appended a duplicate
        assert comparable(many, name) == comparable(one, name), name
    shard0 = (many / "runs" / "shard-0-of-2" / "summary.md").read_text()
    shard0 = shard0.split("## Claims")[0]  # the declared claims name every experiment
    assert "| JOINT |" in shard0 and "| ER |" in shard0 and "| FINETUNE |" not in shard0
    assert "| FINETUNE |" in (many / "runs" / "shard-1-of-2" / "summary.md").read_text()
    whole = (many / "runs" / "summary.md").read_text()
    assert all(name in whole for name in EXPERIMENTS)


@pytest.mark.slow  # the stream test above covers claims in the default run
def test_two_processes_on_one_segmentation_experiment_train_each_stage_once(tmp_path):
    args = suite_args(tmp_path, 3, "KeyLocks.poll_seconds = 0.2")
    texts = run_all([args, args], tmp_path)
    assert trained_once(texts) == completed(tmp_path)  # step 0, eval 0, step 1, eval 1
    assert len(completed(tmp_path)) == 4
    metrics = tmp_path / "runs" / "experiments" / SEGMENTATION / "metrics.jsonl"
    assert [json.loads(line)["step"] for line in metrics.read_text().splitlines()] == [0, 1]


@pytest.mark.parametrize("shard, message", [
    ("3/3", "expected I/N with 0 <= I < N"),
    ("1/-2", "expected I/N with 0 <= I < N"),
    ("one/2", "expected I/N with 0 <= I < N"),
    ("0/4", "the suite has 3 experiments (after --only), so shard 3 of 4 would have none"),
])
def test_a_bad_shard_is_refused_before_training(tmp_path, capsys, shard, message):
    assert main.main([*stream_args(tmp_path), "--shard", shard]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --shard {shard!r}: ") and message in err, err
    assert not (tmp_path / "ckpt").exists()
