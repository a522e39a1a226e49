"""Kaizen evaluated offline by linear probes (`StreamPlan.evaluation_kind = 'linear_probe'`, the
original's main_linear.py / main_eval.py `linear_eval`): R[i, j] comes from a probe trained on
the frozen encoder after task i, FWT compares it with the probe on the random backbone (CaSSLe's
FWT); and a teacher folder exported from the run's task-0 state restores strictly into a new
Kaizen with the weights of that state."""


import shutil

import numpy as np
import pytest
import tensorflow as tf

import main
from continual.methods.kaizen import Kaizen, teacher_export
from continual.metrics import stream_metrics
from tests.core.stream_resume import records
from tests.core.test_kaizen_demo import kaizen_args

PROBED = ("StreamPlan.evaluation_kind = 'linear_probe'", "StreamPlan.evaluate_random_init = True",
          "Kaizen.epochs = 1", "Kaizen.warmup_epochs = 0")


def stage_arrays(prefix: str, part: str) -> list[tuple]:
    """(shape, bytes) of every variable of `part` in a stage checkpoint, sorted."""
    reader = tf.train.load_checkpoint(prefix)
    return sorted((reader.get_tensor(name).shape, reader.get_tensor(name).tobytes())
                  for name, _ in tf.train.list_variables(prefix)
                  if name.startswith(f"{part}/") and name.endswith("VARIABLE_VALUE"))


def model_arrays(model) -> list[tuple]:
    return sorted((tuple(v.shape), np.asarray(v.numpy()).tobytes()) for v in model.weights)


@pytest.mark.slow  # one tiny Kaizen run through main.py with three probes (~40 s on 2 cores)
def test_linear_probe_rows_probe_fwt_and_a_teacher_exported_from_the_run(tmp_path, capsys):
    assert main.main(kaizen_args(tmp_path, *PROBED)) == 0
    rows = records(tmp_path, "KAIZEN")
    assert [r["experience"] for r in rows] == [-1, 0, 1]
    for row in rows:  # every R row, the random-init one included, is the probe's
        assert row["probe_accuracy"] == row["accuracy"] and len(row["accuracy_row"]) == 2
        assert 0.0 <= row["online_probe_accuracy"] <= 1.0  # Kaizen's online probe, beside R
    store = tmp_path / "ckpt"
    assert len(list(store.glob("linear_probe/*/COMPLETE.json"))) == 3
    assert not (store / "stream_evaluation").exists()
    b, R = rows[0]["accuracy_row"], [r["accuracy_row"] for r in rows[1:]]
    metrics = stream_metrics(rows)
    assert metrics["fwt"] == pytest.approx(R[0][1] - b[1]) and "fwt_note" not in metrics
    summary = (tmp_path / "runs" / "summary.md").read_text()
    assert "probe_accuracy" in summary and "fwt omitted" not in summary

    out = tmp_path / "teacher"
    args = ["--workdir", str(tmp_path / "runs"), "--experiment", "KAIZEN", "--task", "0",
            "--out", str(out)]
    assert teacher_export.main(args) == 0
    # gin holds the run's operative config now (teacher_export parsed it)
    student = Kaizen(teacher_checkpoint=str(out))
    student.build((12, 12, 3), 10, None, seed=3)  # restored strictly, then compared
    state = store / "stream_experience" / rows[1]["model_key"] / "state" / "state"
    for part in ("encoder", "projector", "classifier"):
        assert model_arrays(getattr(student, part)) == stage_arrays(str(state), part), part
    export_mismatch(tmp_path, capsys)


def export_mismatch(tmp_path, capsys) -> None:
    """A run whose config no longer builds the stored shapes: `error:`, exit 2, nothing written."""
    bad = tmp_path / "bad" / "experiments" / "KAIZEN"
    shutil.copytree(tmp_path / "runs" / "experiments" / "KAIZEN", bad)
    config = bad / "operative_config.gin"
    config.write_text(config.read_text().replace("Kaizen.projection_dim = 64",
                                                 "Kaizen.projection_dim = 32"))
    capsys.readouterr()
    args = ["--workdir", str(tmp_path / "bad"), "--experiment", "KAIZEN", "--task", "0",
            "--out", str(tmp_path / "bad_teacher")]
    assert teacher_export.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "projector_fc1/kernel" in err, err
    assert not (tmp_path / "bad_teacher").exists()
