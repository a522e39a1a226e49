"""Suites of any experiments: Suite.experiments entries (bindings, seeds, names), what each
--gin_file is, and a RECALL config given alone running over the suite's tests and sources."""

import pytest

import main
import suite
from continual.gin_files import file_role
from tests.core.test_suite_run import suite_args


def test_entries_expand_to_experiments_with_their_bindings_and_seeds():
    plain, = suite.listed_experiments("config/ports/baselines/ER.gin")
    assert plain.name == "ER" and plain.bindings == () and plain.test_type is None
    seeded = suite.listed_experiments({"file": "config/ports/baselines/ER.gin", "name": "er_big",
                                       "bindings": ["EpisodicBuffer.capacity = 900"],
                                       "seeds": [0, 2]})
    assert [e.name for e in seeded] == ["er_big_seed0", "er_big_seed2"]
    assert seeded[1].bindings == ("EpisodicBuffer.capacity = 900", "TrainManager.seed = 2")
    with pytest.raises(ValueError, match="unknown keys"):
        suite.listed_experiments({"file": "x.gin", "seed": 1})
    with pytest.raises(ValueError, match="several experiments named"):
        suite.Suite(joint_config=None, experiments=["config/ports/baselines/ER.gin"] * 2
                    ).experiments()


def test_each_gin_file_has_a_role():
    assert file_role("config/demo.gin") == "suite"
    assert file_role("config/ports/baselines/demo.gin") == "suite"
    assert file_role("config/ports/baselines/ER.gin") == "stream"
    assert file_role("config/DISJOINT.gin") == "recall"


def test_a_recall_config_alone_runs_over_the_suite_tests_and_sources(tmp_path, capsys):
    args = suite_args(tmp_path)
    only = args.index("--only")
    args = args[:only] + args[only + 2:]  # every experiment the files define
    assert main.main(["--gin_file", "config/DISJOINT.gin", *args, "--dry_run"]) == 0
    out = capsys.readouterr().out.split("# Plan of suite")[1]
    names = [line.split()[0] for line in out.splitlines()
             if line and not line.startswith((" ", "#", "'")) and "steps in all" not in line]
    assert names == [f"DISJOINT_{test}_{source}" for source in ("gan", "flickr")
                     for test in ("10-10",)]  # demo.gin's Suite.tests
