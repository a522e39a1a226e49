"""The `--dry_run` plan table: one heading per experiment, a line per step, totals that count
a stage shared by two experiments once, and the missing inputs."""

from continual.reporting.plan_table import plan_table


def row(experiment: str, step: str, key: str, action: str, why: str = "") -> dict:
    return {"experiment": experiment, "step": step, "model": "tiny", "kind": "experience",
            "key": key, "action": action, **({"why": why} if why else {})}


ROWS = [row("a", "exp0", "k0", "train", why="new"), row("a", "eval0", "k1", "reuse (on disk)"),
        row("b", "exp0", "k0", "reuse (from a)")]


def test_the_table_groups_steps_under_their_experiment_and_counts_shared_stages_once():
    assert plan_table("demo", "a note", 2, ROWS).split("\n") == [
        "# Plan of suite 'demo': 2 experiments",
        "# a note",
        "",
        "a  (tiny)",
        "  exp0      experience         k0  train (new)",
        "  eval0     experience         k1  reuse (on disk)",
        "",
        "b  (tiny)",
        "  exp0      experience         k0  reuse (from a)",
        "",
        "3 steps in all, 2 distinct, 1 to run now"]


def test_missing_inputs_close_the_table_in_the_singular_or_the_plural():
    one = plan_table("demo", "", 2, ROWS, ["data/voc is missing"]).split("\n")
    assert one[-3:] == ["", "1 input is missing; the keys that depend on them are placeholders "
                        "until they exist:", "  - data/voc is missing"]
    two = plan_table("demo", "", 2, ROWS, ["x", "y"]).split("\n")
    assert two[-3].startswith("2 inputs are missing;") and two[-2:] == ["  - x", "  - y"]
    assert "# " not in plan_table("demo", "", 2, ROWS).split("\n")[1]  # no note, no note line


def test_data_stages_are_planned_as_generate_and_counted_as_to_run():
    """RECALL's replay stages compute data (a class mapping, replay images, their pseudo-labels,
    inpainted images) without training: the plan says 'generate', and they count as to run."""
    from continual.plans.segmentation import SegmentationPlan
    from continual.plans.stream import StreamPlan
    from suite import planned_action

    for kind in ("class_mapping", "replay_images", "replay_labels", "inpainted"):
        assert planned_action(SegmentationPlan, kind) == "generate"
    assert planned_action(SegmentationPlan, "model_incremental") == "train"
    assert planned_action(SegmentationPlan, "evaluation") == "evaluate"
    assert planned_action(StreamPlan, "stream_experience") == "train"
    rows = [row("a", "images1", "k2", "generate", why="new"), *ROWS]
    assert plan_table("demo", "", 2, rows).endswith("4 steps in all, 3 distinct, 2 to run now")
