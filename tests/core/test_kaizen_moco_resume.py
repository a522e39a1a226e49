"""MoCo v2+ through main.py on the Kaizen demo's generated set: a run SIGKILLed mid-task and
rerun ends with the same accuracies and the same queue of negatives as an uninterrupted run
(the queue is part of the saved state). Slow: two short runs, ~2 min on 2 shared cores."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.core.stream_resume import kill_mid_experience, records, start_main
from tests.core.test_kaizen_demo import kaizen_args

MOCO = ("Kaizen.ssl_method = 'mocov2plus'", "Kaizen.queue_size = 40",
        "ExperienceLoop.checkpoint_every = 1")


def _run(tmp: Path):
    return start_main(kaizen_args(tmp, *MOCO))


def final_queue(tmp: Path) -> dict[str, np.ndarray]:
    info = records(tmp, "KAIZEN")[-1]
    folder = tmp / "ckpt" / "stream_experience" / info["model_key"] / "state" / "state"
    reader = tf.train.load_checkpoint(str(folder))
    names = sorted(n for n in reader.get_variable_to_shape_map() if n.startswith("moco_queue/"))
    assert names, "the state holds no queue"
    return {n: reader.get_tensor(n) for n in names}


@pytest.mark.slow
def test_sigkill_mid_task_then_rerun_continues_with_the_same_queue(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert _run(reference).wait(timeout=600) == 0
    kill_mid_experience(lambda: _run(killed), killed / "ckpt", checkpoints=3)
    assert _run(killed).wait(timeout=600) == 0
    got, want = records(killed, "KAIZEN"), records(reference, "KAIZEN")
    assert [r["accuracy_row"] for r in got] == [r["accuracy_row"] for r in want]
    queues = final_queue(killed), final_queue(reference)
    assert queues[0].keys() == queues[1].keys()
    for name in queues[1]:
        np.testing.assert_array_equal(queues[0][name], queues[1][name], err_msg=name)
