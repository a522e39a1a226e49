"""A stream experiment whose method declares `kept_between_stages` (FineTuning here) builds it
once per run, not once per stage: the stages after the first restore their state into the
method an earlier stage of the same experiment built, so its train step is traced once for all
the experiences (each trace costs seconds on a CPU), and the metrics are byte-identical to
those of a run in which every stage builds its own method."""

import json

import pytest

import main
from continual.methods import baselines
from continual.plans import stream_stages
from tests.core.history_runs import SLICES, TIMING_COLUMNS, slice_args
from tests.core.history_runs import rows as history_rows
from tests.core.stream_resume import records
from tests.core.test_stream_run import stream_args


def _count_traces(monkeypatch) -> dict[str, int]:
    """Counts of the Python bodies of FineTuning's (and ER's) compiled train step and of
    `standardize` (called in the step and in the predict function's body): each runs once per
    trace."""
    counts = {"train_step": 0, "standardize": 0, "methods": set()}
    step, standardize = baselines.FineTuning._train_step, baselines.standardize

    def counted_step(self, *args):
        counts["train_step"] += 1
        counts["methods"].add((type(self).__name__, id(self)))
        return step(self, *args)

    def counted_standardize(images):
        counts["standardize"] += 1
        return standardize(images)

    monkeypatch.setattr(baselines.FineTuning, "_train_step", counted_step)
    monkeypatch.setattr(baselines, "standardize", counted_standardize)
    return counts


def _build_at_every_stage(monkeypatch) -> None:
    """The behaviour before: every stage builds the method afresh (nothing kept)."""
    build = stream_stages.build_method

    def fresh(ctx, seed):
        method = build(ctx, seed)
        ctx.kept.clear()
        return method

    monkeypatch.setattr(stream_stages, "build_method", fresh)


def _rows(tmp, name: str) -> list[str]:
    return [json.dumps({k: v for k, v in r.items() if k not in TIMING_COLUMNS}, sort_keys=True)
            for r in records(tmp, name)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[dict, list[str]]]:
    """FINETUNE run twice: keeping the method across stages (FINETUNE, then ER in the same
    process), and building it at every stage (FINETUNE alone); (trace counts, FINETUNE's
    metrics rows) of each."""
    found, tmp_path = {}, tmp_path_factory.mktemp("traces")
    for way, only in (("kept", ["--only", "FINETUNE", "--only", "ER"]),
                      ("rebuilt", ["--only", "FINETUNE"])):
        with pytest.MonkeyPatch.context() as patch:
            counts = _count_traces(patch)
            if way == "rebuilt":
                _build_at_every_stage(patch)
            assert main.main([*stream_args(tmp_path / way), *only]) == 0
        found[way] = (counts, _rows(tmp_path / way, "FINETUNE"))
    return found


def test_train_step_traced_once_for_all_experiences(runs):
    kept, _ = runs["kept"]
    rebuilt, rows = runs["rebuilt"]
    print("traces kept:", kept, "rebuilt:", rebuilt)
    experiences = len(rows) - 1  # the rows: the initial evaluation, then one per experience
    assert experiences == 5
    assert rebuilt["train_step"] == experiences
    # one trace per experiment, each by a method of its own: ER never reuses FINETUNE's
    assert kept["train_step"] == 2
    assert sorted(name for name, _ in kept["methods"]) == ["ExperienceReplay", "FineTuning"]
    # predict traced per evaluation stage before (6 of them), a few times in all now
    assert kept["standardize"] < rebuilt["standardize"]


def test_kept_method_gives_the_same_metrics_as_a_method_built_per_stage(runs):
    assert runs["kept"][1] == runs["rebuilt"][1]


@pytest.mark.slow
@pytest.mark.parametrize("port", list(SLICES))
def test_each_port_gives_the_same_metrics_with_the_method_kept(tmp_path, port):
    """Every port's demo slice (tests/core/history_runs.py): byte-identical metrics rows
    whether the stages share one built method or each builds its own, so no method keeps a
    Python attribute or a traced value across experiences that its saved state lacks."""
    found = {}
    for way in ("kept", "rebuilt"):
        with pytest.MonkeyPatch.context() as patch:
            if way == "rebuilt":
                _build_at_every_stage(patch)
            assert main.main(slice_args(port, tmp_path / way / port)) == 0
        found[way] = history_rows(tmp_path / way, port)
    assert found["kept"] == found["rebuilt"]
