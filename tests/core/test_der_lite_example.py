"""The README's worked example of adding a method (docs/examples/der_lite.py and DER_LITE.gin)
runs end to end through main.py on tiny data: registered by the .gin file's `import` line alone,
its buffer keeps the logits the train step computed, and its loss terms reach TensorBoard."""

import json

import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import main
from continual.data.synthetic_stream import generate_stream_set
from tests.core.stream_resume import final_buffer


def test_the_worked_example_method_runs_from_its_gin_file(tmp_path):
    generate_stream_set(tmp_path / "data", size=12, train_per_class=12, test_per_class=4)
    args = ["--gin_file", "docs/examples/DER_LITE.gin", "--workdir", str(tmp_path / "runs")]
    for binding in (f"StreamPlan.data_dir = '{tmp_path / 'data'}'",
                    f"TrainManager.checkpoint_dir = '{tmp_path / 'ckpt'}'",
                    "build_classifier.name = 'tiny_convnet'", "EpisodicBuffer.capacity = 20",
                    "ExperienceLoop.stream_batch_size = 8", "ExperienceLoop.replay_batch_size = 8",
                    "TrainingCurves.every_steps = 1"):
        args += ["--gin_param", binding]
    assert main.main(args) == 0

    run = tmp_path / "runs" / "experiments" / "DER_LITE"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["experience"] for r in records] == [-1, 0, 1, 2, 3, 4]
    assert all(r["method"] == "der_lite" for r in records)
    assert records[-1]["accuracy"] is not None and len(records[-1]["accuracy_row"]) == 5

    buffer = final_buffer(tmp_path, "DER_LITE")
    logits = next(value for name, value in buffer.items() if "/logits/" in name)
    assert logits.shape == (20, 10) and np.all(np.abs(logits).sum(axis=1) > 0)  # all written

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"tensors": 0})
    events.Reload()
    mse = [float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors("train/logit_mse")]
    assert mse[0] == 0.0 and max(mse) > 0  # no replay on the first step, matching later
    assert "train/cross_entropy" in events.Tags()["tensors"]
