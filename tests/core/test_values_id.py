"""The seeds of one configuration share a values_id (so the summary pools them), and any other
value gives another one (so it refuses to pool them)."""

import suite
from continual import planning
from training import Training

DEMO = "config/ports/kaizen/demo.gin"


def values_ids(tmp_path, *params: str) -> dict[str, str]:
    runner = suite.SuiteRunner.from_args([DEMO], list(params), str(tmp_path / "runs"))
    found = {}
    with planning.inputs_may_be_missing():
        for experiment in runner.experiments:
            if experiment.name.startswith("KAIZEN"):
                training = Training(runner.manager(experiment), runner.experiment_dir(experiment),
                                    experiment.name)
                found[experiment.name] = training.values_id
    return found


def test_seeds_share_a_values_id_and_another_binding_changes_it(tmp_path):
    data = (f"Suite.stream_data_dir = '{tmp_path / 'data'}'",
            f"StreamPlan.data_dir = '{tmp_path / 'data'}'",
            "generate_stream_set.train_per_class = 40", "generate_stream_set.test_per_class = 2")
    same = values_ids(tmp_path, *data)
    assert sorted(same) == ["KAIZEN_seed1", "KAIZEN_seed2", "KAIZEN_seed3"]
    assert len(set(same.values())) == 1
    other = values_ids(tmp_path, *data, "Kaizen.epochs = 7")
    assert len(set(other.values())) == 1 and set(other.values()) != set(same.values())
