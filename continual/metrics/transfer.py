"""When forward transfer is defined: R[j-1, j] and its baseline b_j from the same evaluator.

FWT = (1/(T-1)) sum_{j>=1} (R[j-1, j] - b_j) (GEM) compares the model before task j with a
randomly initialised one, on task j. Both sides must be scored the same way:
- `stream_evaluation`: the method's own classifier (GEM's definition, both sides);
- `linear_probe`: a linear probe trained on the frozen encoder (CaSSLe's FWT for
  self-supervised methods: `StreamPlan.evaluation_kind = 'linear_probe'`, b_j the probe on the
  random backbone, `StreamPlan.random_init_evaluation`).
A classifier's R[j-1, j] against a probe's b_j (Kaizen's classifier rows with the probe's
random-init row) measures nothing: in a class-incremental stream the classifier has never
been trained on task j's classes, so it would equal minus the random probe's accuracy. Such an
FWT is omitted (None) and `fwt_omission` says why, for the summary to print. So is a
classifier's FWT in a class-incremental stream with one head (every method here): R[j-1, j] is
about 0 there, so FWT is only minus the random-init accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

CLASS_INCREMENTAL_SCENARIOS = ("class_incremental",)
EVALUATORS = {"stream_evaluation": "the method's classifier",
              "linear_probe": "a linear probe on the frozen encoder"}


def evaluator(record: dict) -> str:
    """The evaluation stage kind that wrote a metrics record: a linear probe's records carry
    `probe_accuracy` (`continual.plans.probe_stage`), a classifier evaluation's do not."""
    return "linear_probe" if record.get("probe_accuracy") is not None else "stream_evaluation"


def fwt_omission(random_init: dict | None, evaluations: Sequence[dict]) -> str | None:
    """Why FWT is not reported for these records (a sentence for the summary), or None when
    it is defined: no random-init record or no evaluation leaves FWT to `forward_transfer`
    (None there too); rows and baseline from different evaluators are refused here."""
    if random_init is None or not evaluations:
        return None
    rows, baseline = {evaluator(r) for r in evaluations}, evaluator(random_init)
    if rows == {baseline} == {"stream_evaluation"} and _one_head_class_incremental(evaluations):
        return ("fwt omitted: class-incremental with one head, so before task j the classifier "
                "has never been trained on task j's classes: R[j-1, j] is about 0 and FWT "
                "would be minus the random-init accuracy; score with a linear probe "
                "(StreamPlan.evaluation_kind = 'linear_probe') for a defined FWT")
    if rows == {baseline}:
        return None
    return (f"fwt omitted: R[j-1, j] comes from {_names(rows)} but the random-init baseline "
            f"b_j from {EVALUATORS[baseline]}, which is not comparable; score both alike, e.g. "
            f"StreamPlan.evaluation_kind = 'linear_probe' (CaSSLe's FWT: probe against probe)")


def _one_head_class_incremental(evaluations: Sequence[dict]) -> bool:
    """True when the records come from a class-incremental (disjoint) scenario: every method
    here classifies with one head over all classes, so no task-j classes are seen early."""
    return any(r.get("scenario") in CLASS_INCREMENTAL_SCENARIOS for r in evaluations)


def _names(kinds: set[str]) -> str:
    return " and ".join(EVALUATORS[kind] for kind in sorted(kinds))
