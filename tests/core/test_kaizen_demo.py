"""The Kaizen demo path through main.py: the demo's claims over seeds 1, 2, 3 by paired
differences (the summary's summary_claims.csv; what the demo shows is recorded in
config/ports/kaizen/demo.gin), a SIGKILL mid-task resumed to the same numbers, bad input
refused before training with `error:`."""

import csv
import subprocess
from pathlib import Path

import pytest

import main
from continual.metrics import stream_metrics
from continual.reporting.claims import SHOWN
from tests.core.history_runs import TIMING_COLUMNS
from tests.core.stream_resume import final_buffer, kill_mid_experience, records, start_main

ROOT = Path(main.__file__).resolve().parent
DEMO = "config/ports/kaizen/demo.gin"


# The demo runs each method over seeds 1, 2, 3 (KAIZEN_seed1, ...); the mechanism tests run
# one experiment per method under its plain name, at TrainManager's default seed.
ONE_SEED = ("Suite.experiments = ['config/ports/kaizen/NO_DISTILL.gin', "
            "'config/ports/kaizen/CASSLE.gin', 'config/ports/kaizen/KAIZEN.gin']")


def kaizen_args(tmp: Path, *extra: str, only=("KAIZEN",), small: bool = True,
                data: Path | None = None, seeded: bool = False) -> list[str]:
    data = data or tmp / "data"
    sizes = ["generate_stream_set.size = 12", "generate_stream_set.train_per_class = 16",
             "generate_stream_set.test_per_class = 6", "class_incremental.num_tasks = 2",
             "Kaizen.epochs = 2", "tiny_convnet_backbone.widths = (8, 8, 16)",
             "ExperienceLoop.stream_batch_size = 16", "ExperienceLoop.replay_batch_size = 4",
             "StreamPlan.evaluate_random_init = False",
             "ProportionPerClassPolicy.replay_proportion = 0.1"] if small else []
    params = [f"Suite.stream_data_dir = '{data}'", f"StreamPlan.data_dir = '{data}'",
              f"TrainManager.checkpoint_dir = '{tmp / 'ckpt'}'", *sizes, *extra,
              *(() if seeded else (ONE_SEED,))]
    args = ["--gin_file", DEMO, "--workdir", str(tmp / "runs")]
    for name in only:
        args += ["--only", name]
    for param in params:
        args += ["--gin_param", param]
    return args


SEEDS = ("1", "2", "3")
KAIZEN_OVER_CASSLE = ("KAIZEN > CASSLE final_accuracy",
                      "KAIZEN > CASSLE average_incremental_accuracy",
                      "KAIZEN < CASSLE forgetting")
# What the full demo shows over seeds 1, 2, 3: its claims not declared open (demo.gin; the
# final-accuracy claim's verdict turned on rounding, so it is open)
SHOWN_BY_THE_DEMO = KAIZEN_OVER_CASSLE[1:]
# The demo's shorter slice (the default suite): 100 images a class, 3 epochs a task, Kaizen and
# CaSSLe only (task 0 trained by CASSLE, reused by KAIZEN), seeds 1, 2, 3 as the demo. It shows
# less forgetting for Kaizen (paired -26.7 ± 10.1 points, measured); Kaizen's lead in final and
# average incremental accuracy is within noise there (+2.8 ± 2.8, +0.9 ± 2.1), so only the
# full demo (slow) checks those.
SHOWN_BY_THE_SLICE = ("KAIZEN < CASSLE forgetting",)
SLICE = ("Kaizen.epochs = 3", "generate_stream_set.train_per_class = 100",
         "generate_stream_set.test_per_class = 30", "StreamPlan.evaluate_random_init = False")


def claim_verdicts(tmp: Path) -> dict[str, dict]:
    """summary_claims.csv of the run under `tmp/runs`, by 'A rel B metric'."""
    with open(tmp / "runs" / "summary_claims.csv", newline="") as handle:
        return {f"{row['claim']} {row['metric']}": row for row in csv.DictReader(handle)}


def assert_shown(verdicts: dict[str, dict], claims: tuple[str, ...]) -> None:
    """Each claim shown by its paired differences over the demo's three seeds."""
    for claim in claims:
        row = verdicts[claim]
        assert row["seeds"] == ", ".join(SEEDS) and row["verdict"] == SHOWN, (claim, row)


@pytest.mark.slow  # Kaizen and CaSSLe over three seeds: minutes on 2 cores
def test_kaizen_forgets_less_than_cassle_over_three_paired_seeds(tmp_path):
    """Over seeds 1, 2, 3, paired: Kaizen - CaSSLe forgetting beyond twice its std over seeds
    (the demo's slice)."""
    only = ("KAIZEN_seed*", "CASSLE_seed*")
    assert main.main(kaizen_args(tmp_path, *SLICE, only=only, small=False, seeded=True)) == 0
    assert_shown(claim_verdicts(tmp_path), SHOWN_BY_THE_SLICE)


@pytest.mark.slow  # the full demo, 3 methods x 3 seeds (about 12 CPU-minutes)
def test_kaizen_is_ahead_of_cassle_in_average_accuracy_and_forgetting(tmp_path):
    """The full demo: the claims config/ports/kaizen/demo.gin does not declare open (Kaizen
    ahead of CaSSLe in average incremental accuracy, less forgetting) are shown over seeds 1,
    2, 3 by paired differences."""
    assert main.main(kaizen_args(tmp_path, only=(), small=False, seeded=True)) == 0
    assert_shown(claim_verdicts(tmp_path), SHOWN_BY_THE_DEMO)
    rows = records(tmp_path, "KAIZEN_seed1")
    # FWT's baseline b: a linear probe on the random backbone, not chance (10 %)
    assert rows[0]["experience"] == -1 and rows[0]["probe_accuracy"] > 0.3, rows[0]
    # R from the classifier against b from a probe is not comparable: FWT omitted, with a note
    kaizen = stream_metrics(rows)
    assert kaizen["fwt"] is None and "linear_probe" in kaizen["fwt_note"]
    # the online probe over every seen task is reported beside R, above chance (10 %)
    assert rows[-1]["online_probe_accuracy"] > 0.2, rows[-1]


def _run(tmp: Path) -> subprocess.Popen:
    """KAIZEN over 5 tasks: the rerun after a kill builds the method at the stage it resumes,
    the uninterrupted run keeps the one built at the start (`kept_between_stages`), and
    later tasks see other probe and replay row counts than the first ones."""
    args = kaizen_args(tmp, "ExperienceLoop.checkpoint_every = 1",
                       "class_incremental.num_tasks = 5")
    return start_main(args)


def _rows(tmp: Path) -> list[dict]:
    """KAIZEN's metrics rows, timing columns left out."""
    return [{k: v for k, v in r.items() if k not in TIMING_COLUMNS}
            for r in records(tmp, "KAIZEN")]


@pytest.mark.slow  # same resume logic as test_stream_run.py SIGKILL test (default run)
def test_sigkill_mid_task_then_rerun_gives_the_same_metrics_and_memory(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert _run(reference).wait(timeout=600) == 0
    kill_mid_experience(lambda: _run(killed), killed / "ckpt", checkpoints=3)
    assert _run(killed).wait(timeout=600) == 0
    assert len(_rows(reference)) == 5
    assert _rows(killed) == _rows(reference)
    got, want = final_buffer(killed, "KAIZEN"), final_buffer(reference, "KAIZEN")
    assert got.keys() == want.keys()
    for name in want:
        assert (got[name] == want[name]).all(), name


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A tiny generated set, made once for the bad-input cases (by a dry run)."""
    tmp = tmp_path_factory.mktemp("kaizen_data")
    assert main.main([*kaizen_args(tmp), "--dry_run"]) == 0
    return tmp / "data"


@pytest.mark.parametrize("binding, only, message", [
    ("class_incremental.class_order = [0, 1, 2]", "KAIZEN", "class_incremental.class_order"),
    ("class_incremental.num_tasks = 3", "KAIZEN", "class_incremental.num_tasks"),
    ("ProportionPerClassPolicy.replay_proportion = 1.5", "KAIZEN", "replay_proportion"),
    ("ProportionPerClassPolicy.replay_proportion = 0.05", "KAIZEN", "keeps 0 items per class"),
    ("EpisodicBuffer.capacity = 12", "KAIZEN", "EpisodicBuffer.capacity"),
    ("EpisodicBuffer.policy = 'reservoir'", "KAIZEN", "proportion_per_class"),
    ("StreamPlan.buffer = None", "KAIZEN", "StreamPlan.buffer"),
    ("Kaizen.feature_distill_weight = -1.0", "CASSLE", "Kaizen.feature_distill_weight"),
    ("Kaizen.tau_base = 0.999", "KAIZEN", "Kaizen.tau_base"),
    ("Kaizen.warmup_epochs = 2", "NO_DISTILL", "Kaizen.warmup_epochs"),
    ("Kaizen.ssl_method = 'swav'", "KAIZEN", "Kaizen.ssl_method"),
    ("LARS.eta = 0.0", "KAIZEN", "LARS.eta"),
    ("LARS.learning_rate = 0.5", "KAIZEN", "Kaizen.learning_rate"),
])
def test_bad_input_fails_before_training(data_dir, tmp_path, capsys, binding, only, message):
    extra = {"Kaizen.tau_base = 0.999": ["Kaizen.tau_final = 0.99"],
             "EpisodicBuffer.capacity = 12": ["ProportionPerClassPolicy.replay_proportion = 0.5"],
             }.get(binding, [])
    args = kaizen_args(tmp_path, binding, *extra, only=(only,), data=data_dir)
    assert main.main(args) == 2
    err = capsys.readouterr().err
    # a warning (the linear probe reads stream records) may come before the error line
    assert any(line.startswith("error: ") for line in err.splitlines()) and message in err, err
    assert not list((tmp_path / "ckpt").rglob("COMPLETE.json"))
