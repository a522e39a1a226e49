"""A suite's headline claims, checked over seeds by paired differences.

A claim is (A, relation, B, metric), e.g. ('RM', '>', 'EWC', 'final_accuracy'): A and B name
experiments of the summary, either exactly or as the group `<name>` of `<name>_seed<s>`
(suite.py runs one experiment per seed); B = 'random init' is A's own random-initialisation
evaluation (e.g. ('MINRED', '>', 'random init', 'probe_accuracy'): the SSL features above a
random backbone). Every method of one seed sees the same stream, split
and initial weights, so the comparison is paired: d_s = A_s - B_s for each seed s that both
have. The claim is shown only when n >= MIN_SEEDS and the mean of d, in the claimed direction,
exceeds MARGIN x its sample standard deviation; the opposite order beyond that margin is
'opposite'; anything else is not shown. A '>=' (or '<=') claim, "A not below B", is shown
with n >= MIN_SEEDS unless the opposite order is shown.

A claim may carry a fifth element, OPEN ('open'): the paper claims it, but the demo does not
show it at its scale (its header gives the designs tried and their numbers). Its verdict is
computed like any other, and the table says 'open' in its expected column; only the claims
expected 'shown' are held by the results tests (`expected_held`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from continual.reporting.seed_tables import SEED_NAME, mean_std, mixed_values
from continual.reporting.stream_tables import PERCENT_COLUMNS
from continual.reporting.tables import markdown_table, percent

RELATIONS = {">": 1, "<": -1, ">=": 1, "<=": -1}
NOT_BELOW = (">=", "<=")  # "A not below B": holds unless the opposite order is shown
MIN_SEEDS = 3
MARGIN = 2.0
SHOWN = "shown"
OPEN = "open"  # a claim the demo does not show at its scale (its header says why)
RANDOM_INIT = "random init"  # B: the same experiment's random-initialisation evaluation
CLAIM_METRICS = frozenset(PERCENT_COLUMNS) - {"accuracy"}  # the stream summary's metrics


@dataclasses.dataclass(frozen=True)
class Claim:
    better: str
    relation: str
    worse: str
    metric: str
    expected: str = SHOWN

    def text(self) -> str:
        return f"{self.better} {self.relation} {self.worse}"


def parse_claims(entries, binding: str = "Suite.claims") -> tuple[Claim, ...]:
    """Claims from gin: a list of (A, relation, B, metric) tuples, each with an optional
    fifth element 'open' (not shown at the demo's scale); a bad one is refused."""
    claims = []
    for entry in entries or ():
        if (not isinstance(entry, (list, tuple)) or len(entry) not in (4, 5)
                or not all(isinstance(v, str) for v in entry)):
            raise ValueError(f"{binding} entry {entry!r}: expected (A, relation, B, metric) "
                             "with relation '>' or '<' (or '>=' / '<=': not below / not "
                             "above), e.g. ('RM', '>', 'EWC', 'final_accuracy'), and "
                             f"optionally {OPEN!r} last for a claim the demo does not show")
        if len(entry) == 5 and entry[4] != OPEN:
            raise ValueError(f"{binding} entry {entry!r}: the fifth element may only be "
                             f"{OPEN!r} (a claim the demo does not show at its scale)")
        if entry[1] not in RELATIONS:
            raise ValueError(f"{binding} entry {entry!r}: relation {entry[1]!r} is not one of "
                             f"{sorted(RELATIONS)}")
        if entry[3] not in CLAIM_METRICS:
            raise ValueError(f"{binding} entry {entry!r}: metric {entry[3]!r} is no summary "
                             f"column; one of {sorted(CLAIM_METRICS)}")
        claims.append(Claim(*entry))
    return tuple(claims)


def group_name(experiment: str) -> str:
    """`<name>` of `<name>_seed<s>`; any other name is its own group."""
    match = SEED_NAME.match(experiment)
    return match["group"] if match else experiment


def check_claim_names(claims: Sequence[Claim], experiments: Sequence[str],
                      binding: str = "Suite.claims") -> None:
    """Refuse a claim that names no experiment (or seed group) of the suite."""
    known = set(experiments) | {group_name(name) for name in experiments}
    for claim in claims:
        for name in (claim.better, claim.worse):
            if name not in known and not (name == RANDOM_INIT and name == claim.worse):
                raise ValueError(f"{binding}: claim {claim.text()!r} names {name!r}, which is "
                                 f"no experiment of the suite; names: {sorted(known)} (and "
                                 f"{RANDOM_INIT!r} as B). Fix the claim, or bind {binding} = "
                                 "[] when you change the suite's experiments")


def _row_seed(row: dict) -> int | None:
    if row.get("seed") is not None:
        return int(row["seed"])
    match = SEED_NAME.match(str(row.get("experiment", "")))
    return int(match["seed"]) if match else None


def values_by_seed(rows: Sequence[dict], name: str, metric: str,
                   random_init: bool = False) -> dict[int | None, float]:
    """The metric of each seed of experiment (or group) `name`, where the row has it; with
    `random_init`, the value of its random-initialisation evaluation instead."""
    found = {}
    for row in _group_rows(rows, name):
        value = (row.get("random_init") or {}).get(metric) if random_init else row.get(metric)
        if value is not None:
            found[_row_seed(row)] = float(value)
    return found


def _group_rows(rows: Sequence[dict], name: str) -> list[dict]:
    return [r for r in rows if name in (str(r.get("experiment", "")),
                                        group_name(str(r.get("experiment", ""))))]


def verdict(mean: float | None, std: float | None, count: int, sign: int,
            strict: bool = True) -> str:
    """'shown', 'opposite' or why the claim is not shown (`strict` False: "not below")."""
    if count == 0:
        return "not shown (no paired values)"
    if count < MIN_SEEDS:
        return f"not shown (n = {count} < {MIN_SEEDS} seeds)"
    if -sign * mean > MARGIN * std:
        return "opposite"
    if sign * mean > MARGIN * std or not strict:
        return SHOWN
    return "not shown (within noise)"


def claim_rows(claims: Sequence[Claim], rows: Sequence[dict]) -> list[dict]:
    """One row per claim: paired differences A_s - B_s over the seeds both have."""
    found = []
    for claim in claims:
        better = values_by_seed(rows, claim.better, claim.metric)
        worse = (values_by_seed(rows, claim.better, claim.metric, random_init=True)
                 if claim.worse == RANDOM_INIT else values_by_seed(rows, claim.worse, claim.metric))
        seeds = sorted((s for s in better if s in worse), key=lambda s: (s is None, s or 0))
        mean, std, count = mean_std([better[s] - worse[s] for s in seeds])
        judged = verdict(mean, 0.0 if std is None else std, count, RELATIONS[claim.relation],
                         strict=claim.relation not in NOT_BELOW)
        mixed = [n for n in dict.fromkeys((claim.better, claim.worse))
                 if mixed_values(_group_rows(rows, n))]
        if mixed:
            judged = f"not judged (the seeds of {', '.join(mixed)} ran with different values)"
        found.append({"claim": claim.text(), "metric": claim.metric, "mean_diff": mean,
                      "std_diff": std, "n": count,
                      "seeds": ", ".join("?" if s is None else str(s) for s in seeds),
                      "expected": claim.expected,
                      "verdict": judged})
    return found


def expected_held(rows: Sequence[dict]) -> dict[str, str]:
    """The claims expected 'shown' (not 'open') whose verdict is not: {claim metric: verdict}."""
    return {f"{r['claim']} {r['metric']}": r["verdict"] for r in rows
            if r.get("expected", SHOWN) == SHOWN and r["verdict"] != SHOWN}


def claims_markdown(rows: Sequence[dict]) -> str:
    """The '## Claims' section of summary.md, or '' when the suite declares none."""
    if not rows:
        return ""
    body = [[r["claim"], r["metric"], _signed(r["mean_diff"]), percent(r["std_diff"]),
             str(r["n"]), r["seeds"], r["verdict"], r["expected"]] for r in rows]
    return ("\n## Claims\n\nEach claim A > B (or A < B) compares paired runs: d = A - B of the "
            "same seed (same stream, split and initial weights). mean d and its sample standard "
            f"deviation over seeds are in percent points; shown only when n >= {MIN_SEEDS} "
            f"and mean d lies beyond {MARGIN:g} x std in the claimed direction, 'opposite' "
            "when it lies that far the other way; A >= B (not below) is shown with n >= "
            f"{MIN_SEEDS} unless the opposite is. expected 'open': the paper's claim, which "
            "this suite does not show at its scale (its gin file's header says why).\n\n"
            + markdown_table(("claim", "metric", "mean d", "std d", "n", "seeds", "verdict",
                              "expected"), body))


def _signed(value: float | None) -> str:
    return "" if value is None else re.sub(r"^(?!-)", "+", percent(value))
