"""The seeds of one configuration share a values_id (so the summary pools them), even where the
seed draws the class order, and any other value gives another one (so it refuses to pool
them)."""

import pytest

import suite
from training import Training

CASES = [("config/ports/kaizen/demo.gin", "KAIZEN", "Kaizen.epochs = 7"),  # bound class order
         ("config/ports/baselines/demo_seeds.gin", "ER",  # class order drawn by the seed
          "ExperienceReplay.epochs = 2")]


def values_ids(tmp_path, gin_file: str, group: str, *params: str) -> dict[str, str]:
    data = tmp_path / "data"
    runner = suite.SuiteRunner.from_args(
        [gin_file], [f"Suite.stream_data_dir = '{data}'", f"StreamPlan.data_dir = '{data}'",
                     "generate_stream_set.train_per_class = 40",
                     "generate_stream_set.test_per_class = 2", *params],
        str(tmp_path / "runs"))
    return {e.name: Training(runner.manager(e), runner.experiment_dir(e), e.name).values_id
            for e in runner.experiments if e.name.startswith(group + "_seed")}


@pytest.mark.parametrize(("gin_file", "group", "binding"), CASES)
def test_seeds_share_a_values_id_and_another_binding_changes_it(tmp_path, gin_file, group,
                                                                 binding):
    same = values_ids(tmp_path, gin_file, group)
    assert sorted(same) == [f"{group}_seed{s}" for s in (1, 2, 3)]
    assert len(set(same.values())) == 1
    other = values_ids(tmp_path, gin_file, group, binding)
    assert len(set(other.values())) == 1 and set(other.values()) != set(same.values())
