"""bench/side_by_side.py's protocol and bookkeeping, without torch and without a model: the
worker loop of bench/torch_twin.py answers each request line, and the driver alternates single
steps and reports the medians and their ratio."""

import io
import json

from bench import side_by_side, torch_twin


def test_serve_warms_up_times_steps_and_reports_errors():
    calls = []

    def make_step(row):
        calls.append(("build", row.model))
        return lambda: calls.append("step") or 1.5

    requests = [{"row": "r18_er_b32", "warmup": 3}, {"step": True}, {"row": "no_such_row"}]
    out = io.StringIO()
    torch_twin.serve(make_step, io.StringIO("".join(json.dumps(r) + "\n" for r in requests)),
                     out)
    ready, timed, failed = (json.loads(line) for line in out.getvalue().splitlines())
    assert ready["ready"] == "r18_er_b32" and ready["warmup_s"] >= 0
    assert timed["loss"] == 1.5 and timed["ms"] >= 0
    assert "no_such_row" in failed["error"]
    assert calls == [("build", "resnet18_cifar"), "step", "step", "step", "step"]


class FakeWorker:
    """Answers like a worker, with a fixed list of step times; records the request order."""

    def __init__(self, name, times, log):
        self.name, self.times, self.log = name, list(times), log

    def ask(self, request):
        self.log.append((self.name, "row" if "row" in request else "step"))
        if "row" in request:
            return {"ready": request["row"], "warmup_s": 0.0}
        return {"ms": self.times.pop(0), "loss": 2.0}


def test_compare_alternates_single_steps_and_takes_medians():
    log = []
    workers = (FakeWorker("tf", [30, 10, 20], log), FakeWorker("torch", [5, 40, 10], log))
    result = side_by_side.compare("r18_ft_b32", workers, steps=3, warmup=2)
    assert log == [("tf", "row"), ("torch", "row")] + [("tf", "step"), ("torch", "step")] * 3
    assert (result["tf_ms"], result["other_ms"]) == (20, 10)
    assert result["ratio"] == 2.0
    line = side_by_side.table([result], "torch").splitlines()[-1]
    assert line == "| r18_ft_b32 | ResNet-18 CIFAR FT | 32 | float32 | 20 | 10 | 2.00 |"
