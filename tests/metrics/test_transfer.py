"""FWT from records: R[j-1, j] against the random-init row b_j only when both come from the same
evaluator (the classifier on both sides, or a linear probe on both sides, CaSSLe's FWT); a
classifier's R against a probe's b is omitted with a note that the summary prints."""

import pytest

from continual.metrics import stream_metrics
from continual.reporting.stream_tables import stream_markdown, stream_rows

# R[i, j] after task i on task j, and b_j, in fractions
R = [[0.60, 0.30, 0.25],
     [0.50, 0.70, 0.40],
     [0.45, 0.55, 0.80]]
B = [0.20, 0.10, 0.30]


def records(rows_by: str, baseline_by: str, name: str = "KAIZEN",
            scenario: str = "class_incremental") -> list[dict]:
    """Metrics records as the stream plan writes them: the random-init evaluation first; a
    linear probe's records carry `probe_accuracy`."""
    def record(experience, row, by):
        accuracy = sum(row) / len(row)
        return {"experiment": name, "plan_kind": "stream", "method": "kaizen",
                "scenario": scenario, "experience": experience,
                "num_experiences": 3, "accuracy_row": row, "accuracy": accuracy,
                **({"probe_accuracy": accuracy} if by == "probe" else {})}
    return [record(-1, B, baseline_by), *(record(i, row, rows_by) for i, row in enumerate(R))]


def test_probe_rows_against_the_random_init_probe_give_cassles_fwt():
    metrics = stream_metrics(records("probe", "probe"))
    # ((R[0, 1] - b_1) + (R[1, 2] - b_2)) / 2 = ((0.30 - 0.10) + (0.40 - 0.30)) / 2
    assert metrics["fwt"] == pytest.approx(0.15)
    assert "fwt_note" not in metrics


def test_classifier_rows_against_the_random_init_classifier_keep_gems_fwt():
    metrics = stream_metrics(records("classifier", "classifier", scenario="blurry"))
    assert metrics["fwt"] == pytest.approx(0.15)


def test_one_head_class_incremental_classifier_fwt_is_blank_with_a_note():
    """Before task j a one-head classifier never saw task j's classes: FWT would be minus the
    random-init accuracy, so it is left blank and the summary says why (issue 23 item 5)."""
    metrics = stream_metrics(records("classifier", "classifier"))
    assert metrics["fwt"] is None
    assert "class-incremental with one head" in metrics["fwt_note"]
    text = stream_markdown(stream_rows({"FT": records("classifier", "classifier", "FT"),
                                        "ER": records("classifier", "classifier", "ER")}), [])
    assert "- FT, ER: fwt omitted: class-incremental with one head" in text


@pytest.mark.parametrize("rows_by, baseline_by", [("classifier", "probe"),
                                                   ("probe", "classifier")])
def test_rows_and_baseline_from_different_evaluators_omit_fwt_with_a_note(rows_by, baseline_by):
    metrics = stream_metrics(records(rows_by, baseline_by))
    assert metrics["fwt"] is None
    assert metrics["fwt_note"].startswith("fwt omitted")
    assert "StreamPlan.evaluation_kind = 'linear_probe'" in metrics["fwt_note"]
    assert metrics["bwt"] == pytest.approx(((0.45 - 0.60) + (0.55 - 0.70)) / 2)  # R still used


def test_the_summary_prints_the_note_and_leaves_the_cell_blank():
    rows = stream_rows({"KAIZEN": records("classifier", "probe"),
                        "PROBED": records("probe", "probe", name="PROBED")})
    markdown = stream_markdown(rows, [])
    summary = markdown.partition("## Every experience")[0]
    cells = {line.split(" | ")[0]: line.split(" | ") for line in summary.splitlines()
             if line.startswith(("| experiment", "| KAIZEN", "| PROBED"))}
    fwt = cells["| experiment"].index("fwt")
    assert cells["| KAIZEN"][fwt] == "" and cells["| PROBED"][fwt] == "15.0"
    assert "- KAIZEN: fwt omitted: R[j-1, j] comes from the method's classifier" in markdown
    assert "- PROBED" not in markdown
