"""What a run leaves for its summary: rows tagged with their seed and config id, one experiment
name rerun with another seed never mixing rows or losing the first's operative config, `--only`
adding to the workdir's summary, and a suite's claims and results file (issue 21 item 2-3)."""

import csv

import main
from continual.reporting.results_file import recorded_stamp
from tests.core.stream_resume import records
from tests.core.test_stream_run import TWO_TASKS, stream_args


def _summary(tmp_path) -> dict[str, dict]:
    with (tmp_path / "runs" / "summary.csv").open() as handle:
        return {row["experiment"]: row for row in csv.DictReader(handle)}


def test_seeds_never_mix_only_adds_to_the_summary_and_claims_reach_the_results_file(
        tmp_path, capsys):
    assert main.main(stream_args(tmp_path, *TWO_TASKS, only="FINETUNE")) == 0
    first = records(tmp_path, "FINETUNE")
    assert {r["seed"] for r in first} == {0} and len({r["config_id"] for r in first}) == 1

    assert main.main(stream_args(tmp_path, *TWO_TASKS, only="ER")) == 0
    assert list(_summary(tmp_path)) == ["FINETUNE", "ER"]  # ER added, FINETUNE kept

    results = tmp_path / "results.md"
    claims = "Suite.claims = [('ER', '>', 'FINETUNE', 'final_accuracy')]"
    assert main.main(stream_args(tmp_path, *TWO_TASKS, "TrainManager.seed = 1", claims,
                                 f"Suite.results_file = '{results}'", only="FINETUNE")) == 0
    rows = records(tmp_path, "FINETUNE")
    second = [r for r in rows if r["seed"] == 1]
    assert rows[:len(first)] == first and len(second) == len(first)  # appended, not mixed
    assert {r["config_id"] for r in second} != {r["config_id"] for r in first}
    folder = tmp_path / "runs" / "experiments" / "FINETUNE"
    configs = {p.stem: p.read_text() for p in (folder / "operative_configs").glob("*.gin")}
    assert set(configs) == {first[0]["config_id"], second[0]["config_id"]}
    assert "TrainManager.seed = 1" in configs[second[0]["config_id"]]
    assert "TrainManager.seed = 1" not in configs[first[0]["config_id"]]
    # the summary's FINETUNE row is seed 1's alone: its last R row's mean
    summary = _summary(tmp_path)
    assert list(summary) == ["FINETUNE", "ER"]
    last = second[-1]["accuracy_row"]
    assert float(summary["FINETUNE"]["final_accuracy_pct"]) == \
        round(100 * sum(last) / len(last), 10)

    text = results.read_text()
    stamp = recorded_stamp(text)
    assert stamp["command"].startswith("`python main.py --gin_file config/ports/baselines")
    assert "--only FINETUNE" in stamp["command"] and "cores; TensorFlow" in stamp["machine"]
    assert "tree clean" in stamp["commit"] or "tree dirty" in stamp["commit"]
    assert "| ER > FINETUNE | final_accuracy |" in text
    # ER ran seed 0, FINETUNE now seed 1: nothing to pair, so nothing is claimed
    assert "not shown (no paired values)" in text
    assert "### Stream experiments" in text  # the summary, one heading level down


def test_a_claim_naming_no_experiment_is_refused_before_training(tmp_path, capsys):
    claims = "Suite.claims = [('ER', '>', 'FINETUNED', 'final_accuracy')]"
    assert main.main(stream_args(tmp_path, claims)) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: Suite.claims: claim 'ER > FINETUNED' names 'FINETUNED'")
    assert not (tmp_path / "ckpt").exists()


def test_claims_and_the_results_file_enter_no_stage_key(tmp_path, capsys):
    """Suite.claims and Suite.results_file are reporting bindings: every key stays the same."""
    plans = []
    for extra in ([], ["Suite.claims = [('ER', '>', 'FINETUNE', 'final_accuracy')]",
                       f"Suite.results_file = '{tmp_path / 'results.md'}'"]):
        capsys.readouterr()
        assert main.main([*stream_args(tmp_path, *extra), "--dry_run"]) == 0
        out = capsys.readouterr().out
        plans.append(out[out.index("# Plan of suite"):])  # after the data generation lines
    assert plans[0] == plans[1] and plans[0].count(" train") > 0
    assert not (tmp_path / "results.md").exists()  # a dry run writes no results file
