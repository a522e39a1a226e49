"""A suite's claims: paired differences over seeds, shown only beyond 2 x their std with n >= 3."""

import csv

import pytest

from continual.reporting import write_summary
from continual.reporting.claims import (
    Claim,
    check_claim_names,
    claim_rows,
    expected_held,
    parse_claims,
    verdict,
)


def _rows(name, finals, seeds=(1, 2, 3)):
    return [{"experiment": f"{name}_seed{s}", "seed": s, "final_accuracy": v}
            for s, v in zip(seeds, finals, strict=True)]


def test_paired_difference_by_hand():
    # d = A - B per seed: 0.10, 0.12, 0.08 -> mean 0.10, sample std 0.02 -> 0.10 > 0.04: shown
    rows = _rows("RM", [0.50, 0.40, 0.60]) + _rows("EWC", [0.40, 0.28, 0.52])
    (row,) = claim_rows([Claim("RM", ">", "EWC", "final_accuracy")], rows)
    assert row["mean_diff"] == pytest.approx(0.10) and row["std_diff"] == pytest.approx(0.02)
    assert (row["n"], row["seeds"], row["verdict"]) == (3, "1, 2, 3", "shown")


def test_pairing_is_by_seed_not_by_mean():
    """Means 50 vs 48 with a large spread across seeds: unpaired it would be noise, paired every
    seed is +2 (std 0), so the claim is shown; only seeds both sides have are paired."""
    rows = _rows("A", [0.30, 0.50, 0.70]) + _rows("B", [0.28, 0.48, 0.68]) \
        + _rows("B", [0.99], seeds=(4,))
    (row,) = claim_rows([Claim("A", ">", "B", "final_accuracy")], rows)
    assert row["n"] == 3 and row["mean_diff"] == pytest.approx(0.02)
    assert row["verdict"] == "shown"


@pytest.mark.parametrize("mean, std, n, sign, expected", [
    (0.05, 0.02, 3, 1, "shown"),
    (0.03, 0.02, 3, 1, "not shown (within noise)"),
    (-0.05, 0.02, 3, 1, "opposite"),
    (-0.05, 0.02, 3, -1, "shown"),               # A < B claimed (e.g. less forgetting)
    (0.05, 0.0, 2, 1, "not shown (n = 2 < 3 seeds)"),
    (None, None, 0, 1, "not shown (no paired values)"),
])
def test_verdicts(mean, std, n, sign, expected):
    assert verdict(mean, std, n, sign) == expected


def test_not_below_holds_within_noise_but_not_when_the_opposite_is_shown():
    assert verdict(-0.01, 0.02, 3, 1, strict=False) == "shown"
    assert verdict(-0.05, 0.02, 3, 1, strict=False) == "opposite"
    assert verdict(0.0, 0.0, 2, 1, strict=False) == "not shown (n = 2 < 3 seeds)"
    rows = _rows("MINRED", [0.50, 0.40, 0.60]) + _rows("SINGLE", [0.51, 0.39, 0.62])
    (row,) = claim_rows(parse_claims([("MINRED", ">=", "SINGLE", "final_accuracy")]), rows)
    assert row["claim"] == "MINRED >= SINGLE" and row["verdict"] == "shown"


def test_bad_claims_are_refused_naming_the_binding():
    with pytest.raises(ValueError, match=r"Suite.claims entry .*\(A, relation, B, metric\)"):
        parse_claims([("RM", ">", "EWC")])
    with pytest.raises(ValueError, match="relation '=>' is not one of"):
        parse_claims([("RM", "=>", "EWC", "final_accuracy")])
    with pytest.raises(ValueError, match="metric 'final_acc' is no summary column"):
        parse_claims([("RM", ">", "EWC", "final_acc")])
    claims = parse_claims([("RM", ">", "EWX", "final_accuracy")])
    with pytest.raises(ValueError, match="names 'EWX', which is no experiment of the suite"):
        check_claim_names(claims, ["RM_seed1", "EWC_seed1"])
    check_claim_names(parse_claims([("RM", ">", "EWC_seed1", "final_accuracy")]),
                      ["RM_seed1", "EWC_seed1"])  # a group or an exact name


def _records(name, seed, final):
    """A two-experience stream whose last R row averages to `final`."""
    return [{"experiment": name, "plan_kind": "stream", "method": name.split("_")[0],
             "scenario": "blurry", "seed": seed, "experience": i, "num_experiences": 2,
             "accuracy_row": row, "accuracy": sum(row) / 2}
            for i, row in enumerate([[0.8, 0.0], [final, final]])]


def test_summary_prints_the_claims_and_writes_them_and_the_seed_rows_to_csv(tmp_path):
    experiments = {}
    for seed, (rm, ft) in zip((1, 2, 3), ((0.6, 0.3), (0.7, 0.35), (0.5, 0.3)), strict=True):
        experiments[f"RM_seed{seed}"] = _records(f"RM_seed{seed}", seed, rm)
        experiments[f"FT_seed{seed}"] = _records(f"FT_seed{seed}", seed, ft)
    claims = parse_claims([("RM", ">", "FT", "final_accuracy"),
                           ("RM", "<", "FT", "final_accuracy")])
    paths = write_summary(tmp_path, experiments, claims)
    text = paths["summary_md"].read_text()
    # d = 30, 35, 20 points: mean 28.3, std 7.6 -> shown; the reverse claim is 'opposite'
    assert "| RM > FT | final_accuracy | +28.3 | 7.6 | 3 | 1, 2, 3 | shown | shown |" in text
    assert "| RM < FT | final_accuracy | +28.3 | 7.6 | 3 | 1, 2, 3 | opposite | shown |" in text
    with paths["summary_claims_csv"].open() as handle:
        rows = list(csv.DictReader(handle))
    assert float(rows[0]["mean_diff_pct"]) == pytest.approx(85 / 3)
    assert [r["verdict"] for r in rows] == ["shown", "opposite"]
    with paths["summary_seeds_csv"].open() as handle:
        seeds = {(r["experiment"], r["metric"]): r for r in csv.DictReader(handle)}
    final = seeds[("RM", "final_accuracy")]
    assert (final["seeds"], final["n"]) == ("1 2 3", "3")
    assert float(final["mean_pct"]) == pytest.approx(60.0)
    assert float(final["std_pct"]) == pytest.approx(10.0)


def test_random_init_side_is_the_experiments_own_random_init_evaluation(tmp_path):
    """('MINRED', '>', 'random init', 'probe_accuracy'): each seed's final probe against the
    probe on its own random backbone (the experience -1 record)."""
    experiments = {}
    for seed, (floor, final) in zip((0, 1, 2), ((0.40, 0.50), (0.42, 0.55), (0.41, 0.49)),
                                    strict=True):
        name = f"MINRED_seed{seed}"
        experiments[name] = [
            {"experiment": name, "plan_kind": "stream", "method": "simsiam", "seed": seed,
             "scenario": "class_sequential", "experience": e, "num_experiences": 1,
             "accuracy_row": [p], "accuracy": p, "probe_accuracy": p}
            for e, p in ((-1, floor), (0, final))]
    claims = parse_claims([("MINRED", ">", "random init", "probe_accuracy")])
    check_claim_names(claims, list(experiments))
    paths = write_summary(tmp_path, experiments, claims)
    # d = 10, 13, 8 points: mean 10.3, std 2.5
    assert "| MINRED > random init | probe_accuracy | +10.3 | 2.5 | 3 | 0, 1, 2 | shown | shown |" \
        in paths["summary_md"].read_text()
    with pytest.raises(ValueError, match="names 'random init'"):
        check_claim_names(parse_claims([("random init", "<", "MINRED", "probe_accuracy")]),
                          list(experiments))


def test_an_open_claim_keeps_its_computed_verdict_and_is_not_held(tmp_path):
    """('A', '>', 'B', metric, 'open'): the paper's claim that the demo does not show at its
    scale. Its verdict is computed as any other (here: within noise), the table marks it
    open, and expected_held names only the failing claims expected shown."""
    experiments = {}
    for seed, (a, b) in zip((1, 2, 3), ((0.6, 0.3), (0.7, 0.71), (0.5, 0.52)), strict=True):
        experiments[f"A_seed{seed}"] = _records(f"A_seed{seed}", seed, a)
        experiments[f"B_seed{seed}"] = _records(f"B_seed{seed}", seed, b)
    claims = parse_claims([("A", ">", "B", "final_accuracy", "open"),
                           ("A", ">", "B", "final_accuracy")])
    assert [c.expected for c in claims] == ["open", "shown"]
    paths = write_summary(tmp_path, experiments, claims)
    assert "| 3 | 1, 2, 3 | not shown (within noise) | open |" in paths["summary_md"].read_text()
    with paths["summary_claims_csv"].open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["verdict"], r["expected"]) for r in rows] == [
        ("not shown (within noise)", "open"), ("not shown (within noise)", "shown")]
    assert expected_held(rows) == {"A > B final_accuracy": "not shown (within noise)"}
    with pytest.raises(ValueError, match="fifth element may only be 'open'"):
        parse_claims([("A", ">", "B", "final_accuracy", "maybe")])


def test_seeds_run_with_different_values_are_marked_mixed_and_no_claim_is_judged(tmp_path):
    """`--only RM_seed1` with another binding leaves RM's seeds on two configurations (their
    records' values_id differ): the over-seed row says MIXED and the claim is not judged."""
    experiments = {}
    for seed, (rm, ft) in zip((1, 2, 3), ((0.6, 0.3), (0.7, 0.35), (0.5, 0.3)), strict=True):
        experiments[f"RM_seed{seed}"] = [dict(r, values_id="b" if seed == 1 else "a")
                                         for r in _records(f"RM_seed{seed}", seed, rm)]
        experiments[f"FT_seed{seed}"] = [dict(r, values_id="c")
                                         for r in _records(f"FT_seed{seed}", seed, ft)]
    claims = parse_claims([("RM", ">", "FT", "final_accuracy")])
    paths = write_summary(tmp_path, experiments, claims)
    text = paths["summary_md"].read_text()
    assert "| RM (MIXED values) |" in text and "| FT |" in text
    assert "not judged (the seeds of RM ran with different values)" in text
    with paths["summary_seeds_csv"].open() as handle:
        values = {r["experiment"]: r["values"] for r in csv.DictReader(handle)}
    assert values == {"RM": "MIXED", "FT": "same"}
