"""`Kaizen.teacher_checkpoint`: a saved model restored into the student when Kaizen is built;
a checkpoint that does not match is refused before training (`error:`, exit 2) naming the
binding, the part and the variable."""

import gin
import numpy as np

import continual.models.small_backbones  # noqa: F401  (registers tiny_convnet_backbone)
import continual.optim.lars  # noqa: F401  (registers LARS with gin)
import main
from continual.methods.kaizen import Kaizen
from continual.methods.kaizen.teacher import save_teacher
from tests.core.test_kaizen_demo import data_dir, kaizen_args  # noqa: F401  (fixture)
from tests.methods.test_kaizen import SMALL, values

ENCODER = ["build_classifier.name = 'tiny_convnet'", "tiny_convnet_backbone.widths = (8, 8, 16)"]


def saved(folder, **overrides) -> Kaizen:
    gin.parse_config(ENCODER)
    method = Kaizen(**{**SMALL, **overrides})
    method.build((12, 12, 3), 10, None, seed=7)
    save_teacher(method, folder)
    gin.clear_config()
    return method


def test_the_student_starts_from_the_teacher_checkpoint(tmp_path):
    teacher = saved(tmp_path / "teacher")
    gin.parse_config(ENCODER)
    student = Kaizen(**SMALL, teacher_checkpoint=str(tmp_path / "teacher"))
    student.build((12, 12, 3), 10, None, seed=0)
    for part in ("encoder", "projector", "classifier"):
        for mine, theirs in zip(values(getattr(student, part).weights),
                                values(getattr(teacher, part).weights), strict=True):
            np.testing.assert_array_equal(mine, theirs)


def test_a_teacher_checkpoint_that_does_not_match_fails_before_training(
        data_dir, tmp_path, capsys):  # noqa: F811
    saved(tmp_path / "teacher", projection_dim=32, projector_hidden=128)   # the demo's: 64
    args = kaizen_args(tmp_path, f"Kaizen.teacher_checkpoint = '{tmp_path / 'teacher'}'",
                       data=data_dir)
    assert main.main(args) == 2
    err = capsys.readouterr().err  # planning's warnings (the probe's data) come before it
    err = err[err.index("\nerror: ") + 1:] if not err.startswith("error: ") else err
    assert "Kaizen.teacher_checkpoint (projector)" in err, err
    assert "projector_fc1/kernel" in err and "(128, 32) in the checkpoint" in err, err
    assert not list((tmp_path / "ckpt").rglob("COMPLETE.json"))
