"""`Kaizen.teacher_checkpoint` enters the stage keys by its files' content, so a teacher folder
rewritten at the same path is never answered from stale artefacts; `teacher_export` refuses a
run it cannot find with `error:` and exit 2. (Exporting from a finished run and restoring it:
tests/core/test_kaizen_linear_eval.py, slow.)"""

from pathlib import Path

import gin

import suite  # noqa: F401  (registers every configurable the files bind)
from continual.gin_files import parse_gin
from continual.methods.kaizen import Kaizen, teacher_export
from continual.methods.kaizen.teacher import save_teacher
from tests.core.test_kaizen_shared_task0 import FILES, SMALL, data_dir  # noqa: F401  (fixture)
from tests.core.test_stream_keys import plan_keys

STAGES = ("init", "exp0", "eval0", "exp1")


def write_teacher(folder: Path, seed: int) -> None:
    """A teacher of the shapes KAIZEN.gin + demo.gin build (tiny convnet, 10 classes)."""
    parse_gin(list(FILES), list(SMALL))
    method = Kaizen()
    method.build((12, 12, 3), 10, None, seed=seed)
    save_teacher(method, folder)
    gin.clear_config()


def test_a_teacher_rewritten_at_the_same_path_changes_every_key(data_dir, tmp_path):  # noqa: F811
    folder = tmp_path / "teacher"
    binding = f"Kaizen.teacher_checkpoint = '{folder}'"
    write_teacher(folder, seed=1)
    first = plan_keys(data_dir, *SMALL, binding, files=FILES)
    write_teacher(folder, seed=2)                       # other weights, same path and names
    second = plan_keys(data_dir, *SMALL, binding, files=FILES)
    for stage in STAGES:  # the binding's text is the same: only the content differs
        assert first[stage] != second[stage], stage


def test_export_from_a_run_that_is_not_there_is_an_input_error(tmp_path, capsys):
    args = ["--workdir", str(tmp_path / "runs"), "--experiment", "KAIZEN", "--task", "0",
            "--out", str(tmp_path / "teacher")]
    assert teacher_export.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "KAIZEN/operative_config.gin does not exist" in err
    assert not (tmp_path / "teacher").exists()
