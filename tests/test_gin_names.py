"""A misspelt gin configurable or parameter gets the closest registered names (issue 23)."""

import pytest

import main
from continual.gin_names import with_suggestions


@pytest.mark.parametrize("binding, suggestion", [
    ("StreamPlan.scenaro = @class_incremental", "Did you mean 'StreamPlan.scenario'?"),
    ("ExperienceLop.stream_batch_size = 4", "Did you mean 'ExperienceLoop'"),
    ("StreamPlan.scenario = @class_incremntal", "Did you mean 'class_incremental'"),
])
def test_a_misspelt_configurable_or_parameter_gets_the_closest_names(tmp_path, capsys, binding,
                                                                     suggestion):
    args = ["--gin_file", "config/ports/baselines/ER.gin", "--workdir", str(tmp_path),
            "--gin_param", binding, "--dry_run"]
    assert main.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and suggestion in err, err
    assert "--gin_param" in err or "bindings string" in err  # gin's location is kept


def test_a_name_with_nothing_close_says_to_check_the_import_line():
    error = with_suggestions(ValueError("No configurable matching 'Qzxv'.\n  In file f.gin"))
    assert "check the spelling, or the `import` line" in str(error)
    assert str(error).endswith("\n  In file f.gin")
    other = ValueError("something else")
    assert with_suggestions(other) is other
