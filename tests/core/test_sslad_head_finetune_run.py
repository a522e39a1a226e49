"""The ladder's head fine-tuning row (config/ports/sslad/HEAD_FINETUNE.gin: the original's
per-update head step on class-balanced memory rows) runs end to end through main.py on a tiny
stream and reports AMCA after every experience."""

import math

import pytest

import main
from continual.metrics import stream_metrics
from tests.core.stream_resume import records
from tests.core.test_sslad_demo import TINY, sslad_args

HEAD_ONLY = ("Suite.experiments = ['config/ports/sslad/HEAD_FINETUNE.gin']\n"
             "Suite.claims = []")  # the demo's claims name its own experiments


@pytest.mark.slow  # a whole (tiny) suite run: data generation, six experiences, sweeps
def test_head_finetune_row_runs_end_to_end(tmp_path):
    assert main.main(sslad_args(tmp_path, *TINY, HEAD_ONLY)) == 0
    rows = records(tmp_path, "HEAD_FINETUNE")
    assert [r["experience"] for r in rows] == [-1, 0, 1, 2, 3, 4, 5]
    amca = stream_metrics(rows)["amca"]
    assert math.isfinite(amca) and 0.0 < amca <= 1.0
    assert "| amca |" in (tmp_path / "runs" / "summary.md").read_text()


def test_head_batch_beyond_the_sweep_is_refused_before_training(tmp_path, capsys):
    binding = "UncertaintyGuidedReplay.head_batch_size = 11"  # TINY sweeps to 10 items
    assert main.main(sslad_args(tmp_path, *TINY, HEAD_ONLY, binding)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "head_batch_size = 11 is more than" in err, err
