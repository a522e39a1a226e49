"""`main.py` under MultiWorkerMirroredStrategy: the README's two-worker command on the demo's
tiny RECALL experiment gives the metrics and losses of one process, the chief writes every
artefact and record once, and the non-chief's scratch copies are gone.

The two workers (TF_CONFIG with free ports on 127.0.0.1, started at once) and the one-process
run go side by side. The strategy is made when the suite's gin is parsed, before any TensorFlow
op (TensorFlow refuses a multi-worker strategy later).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import main
from tests.core.test_many_processes import comparable
from tests.core.test_suite_run import EXPERIMENT, suite_args
from tests.test_multi_worker import free_ports

ROOT = Path(main.__file__).resolve().parent
MULTI_WORKER = ["--gin_param", "make_strategy.name = 'multi_worker'"]


def start(args: list[str], log: Path, tf_config: dict | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="")
    if tf_config:
        env["TF_CONFIG"] = json.dumps(tf_config)
    with open(log, "w") as handle:
        return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT,
                                env=env, stdout=handle, stderr=subprocess.STDOUT)


def final_losses(store: Path) -> dict[str, float]:
    return {marker.parent.parent.name: json.loads(marker.read_text())["info"]["final_loss"]
            for marker in sorted(store.glob("model_*/*/COMPLETE.json"))}


def close(got, expected) -> bool:
    """Equal, or for numbers (also inside lists) within 1e-4: float32 sums differ by order."""
    if isinstance(expected, float):
        return got == pytest.approx(expected, rel=1e-4, abs=1e-4)
    if isinstance(expected, list) and isinstance(got, list) and len(got) == len(expected):
        return all(close(g, e) for g, e in zip(got, expected, strict=True))
    return got == expected


@pytest.mark.slow  # tests/test_multi_worker.py checks the same training in the default run
def test_two_workers_run_the_experiment_like_one_process(tmp_path):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    multi, single = tmp_path / "multi", tmp_path / "single"
    processes = [start(suite_args(multi, 1) + MULTI_WORKER, tmp_path / f"worker{index}.log",
                       {"cluster": cluster, "task": {"type": "worker", "index": index}})
                 for index in range(2)]
    processes.append(start(suite_args(single, 1), tmp_path / "single.log"))
    try:
        codes = [process.wait(timeout=400) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:  # a worker whose peer died waits on it forever
                process.kill()
                process.wait()
    logs = [(tmp_path / name).read_text() for name in ("worker0.log", "worker1.log",
                                                       "single.log")]
    assert codes == [0, 0, 0], [text[-3000:] for text in logs]

    assert sorted(final_losses(multi / "ckpt")) == ["model_incremental", "model_step0"]
    assert final_losses(multi / "ckpt") == pytest.approx(final_losses(single / "ckpt"),
                                                         rel=1e-4)
    chief, alone = comparable(multi, EXPERIMENT), comparable(single, EXPERIMENT)
    assert [r["step"] for r in chief] == [0, 1]  # recorded once, by the chief
    assert [sorted(r) for r in chief] == [sorted(r) for r in alone]
    for got, expected in zip(chief, alone, strict=True):
        for name, value in expected.items():
            assert close(got[name], value), (name, got[name], value)
    assert list((multi / "ckpt" / ".workers").iterdir()) == []


@pytest.mark.slow  # two processes wait for each other; the check itself is one line
def test_two_workers_refuse_a_stream_experiment_before_training(tmp_path):
    from tests.core.test_stream_run import stream_args

    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    args = stream_args(tmp_path, only="FINETUNE") + MULTI_WORKER
    processes = [start(args, tmp_path / f"worker{index}.log",
                       {"cluster": cluster, "task": {"type": "worker", "index": index}})
                 for index in range(2)]
    try:
        codes = [process.wait(timeout=300) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    logs = [(tmp_path / f"worker{index}.log").read_text() for index in range(2)]
    assert codes == [2, 2], [text[-3000:] for text in logs]
    for text in logs:
        assert "error: " in text and "make_strategy.name = 'multi_worker'" in text, text[-2000:]
        assert "Traceback" not in text
    assert not list((tmp_path / "ckpt").rglob("COMPLETE.json"))
