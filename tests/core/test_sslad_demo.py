"""SSLAD Track 3A end to end through main.py: the demo's shown claim (uncertainty replay above
fine-tuning in AMCA) paired over seeds 1-3, on a shorter slice by default and on the whole demo
when slow tests run; the same AMCA and memory after a SIGKILL mid-experience and a rerun; and
bad input refused with `error: ...` before training."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import main
from continual.metrics import stream_metrics
from tests.core.stream_resume import final_buffer, kill_mid_experience, records

ROOT = Path(main.__file__).resolve().parent
DEMO = "config/ports/sslad/demo.gin"
# A small stream for the resume and bad-input tests: 6 experiences of ~20 frames.
TINY = ["generate_stream_set.size = 12", "generate_stream_set.train_per_class = 60",
        "generate_stream_set.test_per_class = 4", "generate_stream_set.run_length = 4",
        "EpisodicBuffer.capacity = 20", "UncertaintyGuidedReplay.sweep_size = 10",
        "UncertaintyGuidedReplay.sweep_every = 8", "UncertaintyGuidedReplay.votes = 3",
        "LR_MILESTONES = [6, 10]", "UncertaintyGuidedReplay.soft_label_milestones = [8, 10, 11]",
        "ExperienceLoop.checkpoint_every = 2"]


def sslad_args(tmp: Path, *extra: str, only: str | None = None) -> list[str]:
    params = [f"Suite.stream_data_dir = '{tmp / 'data'}'",
              f"StreamPlan.data_dir = '{tmp / 'data'}'",
              f"TrainManager.checkpoint_dir = '{tmp / 'ckpt'}'", *extra]
    args = ["--gin_file", DEMO, "--workdir", str(tmp / "runs")]
    if only:
        args += ["--only", only]
    for param in params:
        args += ["--gin_param", param]
    return args


def _run(tmp: Path) -> subprocess.Popen:
    args = sslad_args(tmp, *TINY, only="FULL_seed1")
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


SEEDS = (1, 2, 3)
# The demo's claims that its summary shows (demo.gin); the others it reports as not shown.
SHOWN_CLAIMS = {"UNCERTAINTY_REPLAY > FINETUNE": ("UNCERTAINTY_REPLAY", "FINETUNE")}
# A shorter slice of the demo for the default suite: a third of the stream at 16 px, memory
# and sweep schedule scaled with it; the paired claim is the demo's uncertainty replay above
# fine-tuning (AMCA), over its three seeds.
SLICE = ["generate_stream_set.size = 16", "generate_stream_set.train_per_class = 330",
         "generate_stream_set.test_per_class = 30", "EpisodicBuffer.capacity = 70",
         "UncertaintyGuidedReplay.sweep_size = 35", "UncertaintyGuidedReplay.sweep_every = 33",
         "UncertaintyGuidedReplay.votes = 6", "LR_MILESTONES = [33, 65]",
         "UncertaintyGuidedReplay.soft_label_milestones = [56, 65, 68]"]


def claim_verdicts(tmp: Path) -> dict[str, tuple[float, float, int, str]]:
    """The summary's Claims table: claim -> (mean d, std d, n, verdict)."""
    text = (tmp / "runs" / "summary.md").read_text()
    table = text[text.index("## Claims"):].split("\n\n")[2]
    found = {}
    for line in table.splitlines()[2:]:
        claim, _, mean, std, count, _, verdict, _ = (c.strip() for c in line.strip("|").split("|"))
        found[claim] = (float(mean), float(std), int(count), verdict)
    return found


def paired_amca(tmp: Path, better: str, worse: str) -> list[float]:
    return [stream_metrics(records(tmp, f"{better}_seed{s}"))["amca"]
            - stream_metrics(records(tmp, f"{worse}_seed{s}"))["amca"] for s in SEEDS]


def test_uncertainty_replay_beats_fine_tuning_paired_over_three_seeds_on_a_slice(tmp_path):
    experiments = ("Suite.experiments = ["
                   "{'file': 'config/ports/sslad/FINETUNE.gin', 'seeds': [1, 2, 3]}, "
                   "{'file': 'config/ports/sslad/UNCERTAINTY_REPLAY.gin', 'seeds': [1, 2, 3]}]")
    claims = "Suite.claims = [('UNCERTAINTY_REPLAY', '>', 'FINETUNE', 'amca')]"
    assert main.main(sslad_args(tmp_path, *SLICE, experiments, claims)) == 0
    diffs = paired_amca(tmp_path, "UNCERTAINTY_REPLAY", "FINETUNE")
    assert np.mean(diffs) > 2 * np.std(diffs, ddof=1), diffs
    assert claim_verdicts(tmp_path)["UNCERTAINTY_REPLAY > FINETUNE"][2:] == (3, "shown")
    assert [r["experience"] for r in records(tmp_path, "UNCERTAINTY_REPLAY_seed1")] == \
        [-1, 0, 1, 2, 3, 4, 5]


@pytest.mark.slow  # the whole demo, 3 seeds x 3 rows (about 8 CPU-minutes)
def test_the_demo_shows_its_claims_paired_over_three_seeds(tmp_path):
    assert main.main(sslad_args(tmp_path)) == 0
    verdicts = claim_verdicts(tmp_path)
    for claim, (better, worse) in SHOWN_CLAIMS.items():
        diffs = paired_amca(tmp_path, better, worse)
        assert np.mean(diffs) > 2 * np.std(diffs, ddof=1), (claim, diffs)
        assert verdicts[claim][2:] == (3, "shown"), (claim, verdicts[claim])
    # demo.gin and docs/ports/sslad.md say full > uncertainty replay is not shown at this
    # scale: if it ever is, they (and SHOWN_CLAIMS) must say so.
    assert verdicts["FULL > UNCERTAINTY_REPLAY"][3] != "shown", verdicts
    summary = (tmp_path / "runs" / "summary.md").read_text()
    assert "| amca |" in summary and "| mean_class_accuracy_final |" in summary


@pytest.mark.slow  # same resume logic as test_stream_run.py SIGKILL test (default run)
def test_sigkill_mid_experience_then_rerun_gives_the_same_amca_and_memory(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert _run(reference).wait(timeout=600) == 0
    kill_mid_experience(lambda: _run(killed), killed / "ckpt", checkpoints=2)
    assert _run(killed).wait(timeout=600) == 0
    want, got = records(reference, "FULL_seed1"), records(killed, "FULL_seed1")
    assert stream_metrics(got)["amca"] == stream_metrics(want)["amca"]
    assert [r["eval_key"] for r in got] == [r["eval_key"] for r in want]
    memory, expected = final_buffer(killed, "FULL_seed1"), final_buffer(reference, "FULL_seed1")
    assert memory.keys() == expected.keys() and any("logits" in n for n in memory)
    for name in expected:  # ids, labels, insertion steps, size: exact
        if expected[name].dtype.kind == "f":  # logits: a retraced forward may round apart
            np.testing.assert_allclose(memory[name], expected[name], rtol=1e-5, atol=1e-6,
                                       err_msg=name)
        else:
            np.testing.assert_array_equal(memory[name], expected[name], err_msg=name)


@pytest.mark.parametrize("binding, message", [
    ("ExperienceLoop.stream_batch_size = 16", "ExperienceLoop.stream_batch_size = 16 breaks"),
    ("UncertaintyGuidedReplay.epochs = 2", "one pass"),
    ("UncertaintyGuidedReplay.sweep_size = 20", "UncertaintyGuidedReplay.sweep_size"),
    ("ExperienceLoop.replay_batch_size = 12", "ExperienceLoop.replay_batch_size = 12"),
    ("EpisodicBuffer.capacity = 5", "EpisodicBuffer.capacity"),
    ("UncertaintyGuidedReplay.votes = 1", "UncertaintyGuidedReplay.votes"),
    ("UncertaintyGuidedReplay.temperature = 0.0", "UncertaintyGuidedReplay.temperature"),
    ("UncertaintyGuidedReplay.class_balanced_beta = 1.5", "class_balanced_beta"),
    ("UncertaintyGuidedReplay.supcon_weight = -1.0", "supcon_weight"),
    ("LR_MILESTONES = [10, 6]", "UncertaintyGuidedReplay.lr_milestones"),
    ("UncertaintyGuidedReplay.soft_label_weights = [1.0]", "soft_label_weights"),
    ("EpisodicBuffer.logits_dim = 3", "EpisodicBuffer.logits_dim = 6"),
    ("generate_stream_set.train_per_class = 6", "fewer than one batch"),
])
def test_bad_input_fails_before_training(tmp_path, capsys, binding, message):
    extra = [*TINY, binding]
    if "train_per_class = 6" in binding:  # 36 frames in 6 experiences of ~6 < 10
        extra += ["generate_stream_set.imbalance = 1.0", "generate_stream_set.run_length = 1"]
    assert main.main(sslad_args(tmp_path, *extra, only="FULL_seed1")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert not list((tmp_path / "ckpt").rglob("COMPLETE.json"))


def test_records_without_time_metadata_are_refused(tmp_path, capsys):
    from continual.data.classification import ClassificationSample, write_classification_set

    rng = np.random.default_rng(0)
    for split, count in (("train", 60), ("test", 12)):
        samples = [ClassificationSample(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8),
                                        i % 6, f"{split}{i}") for i in range(count)]
        write_classification_set(tmp_path / "bare", split, samples, num_classes=6)
    args = sslad_args(tmp_path, *TINY, f"StreamPlan.data_dir = '{tmp_path / 'bare'}'",
                      only="FULL_seed1")
    assert main.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "time" in err, err


def test_soft_labels_that_could_never_start_warn_in_the_dry_run(tmp_path, capsys):
    args = sslad_args(tmp_path, *TINY, "UncertaintyGuidedReplay.soft_label_milestones = "
                      "[500, 600, 700]", only="FULL_seed1")
    with pytest.warns(UserWarning, match="soft-label retrospection never runs"):
        assert main.main([*args, "--dry_run"]) == 0
