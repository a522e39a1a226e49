"""Write a Kaizen teacher folder (`Kaizen.teacher_checkpoint`) from a finished stream run.

    python -m continual.methods.kaizen.teacher_export --workdir runs/kaizen \
        --experiment KAIZEN --task 0 --out checkpoints/kaizen_teacher_task0

reads the experiment's `operative_config.gin` and `metrics.jsonl` under the work directory
(main.py's `--workdir`), builds Kaizen as that config does, restores the encoder, projector and
classifier from the stage checkpoint of the state after task N (every variable must be found)
and writes them with `teacher.save_teacher`. The original starts later tasks from such a
checkpoint of another run (`--pretrained_model`). Bad input: `error: ...`, exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import gin
import tensorflow as tf
from gin import config_parser

from continual.data.classification import require_classification
from continual.data.shards import open_record_set
from continual.errors import InputError, reports_input_errors
from continual.methods.kaizen.method import Kaizen
from continual.methods.kaizen.teacher import PARTS, save_teacher
from continual.models.checkpoints import CheckpointMismatchError, damaged

STAGE_STATE = Path("stream_experience") / "{key}" / "state" / "state"


def teacher_from_run(workdir: str | os.PathLike, experiment: str, task: int,
                     out: str | os.PathLike) -> list[str]:
    """Save the teacher of `experiment`'s state after task `task` (see the module doc) under
    `out`; returns the prefixes written. Replaces gin's configuration with the experiment's
    operative config."""
    folder = Path(workdir) / "experiments" / experiment
    config = folder / "operative_config.gin"
    if not config.is_file():
        raise InputError(f"{config} does not exist: --workdir and --experiment must name an "
                         f"experiment that main.py ran (experiments/<name>/operative_config.gin)")
    bound = _literal_bindings(config.read_text())
    base = Path(bound.get("TrainManager.base_folder_path", "."))
    prefix = base / bound.get("TrainManager.checkpoint_dir", "checkpoints") / str(
        STAGE_STATE).format(key=_model_key(folder / "metrics.jsonl", task))
    if not Path(f"{prefix}.index").is_file():
        raise InputError(f"the state after task {task} of {experiment} is not at {prefix} "
                         f"(no .index file): rerun the experiment to complete it")
    gin.clear_config()
    with gin.unlock_config():  # main.py locks gin after parsing; the run's config replaces it
        gin.parse_config_file(str(config), skip_unknown=True)
    train = require_classification(open_record_set(
        base / bound.get("StreamPlan.data_dir", "data/stream"),
        bound.get("StreamPlan.train_split", "train")), "StreamPlan.data_dir")
    method = Kaizen()
    method.build(tuple(train.image_shape), train.num_classes, None, seed=0)
    _restore_parts(method, str(prefix))
    return save_teacher(method, out)


class _Literals(config_parser.ParserDelegate):
    """Reads references and macros as their names: only literal values are needed here."""

    def configurable_reference(self, scoped_name, evaluate):
        return scoped_name

    def macro(self, name):
        return name


def _literal_bindings(text: str) -> dict:
    """'Configurable.argument' -> value of every binding in an operative config, read by gin's
    parser (values wrap onto continuation lines) without registering the configurables: the
    runner's (TrainManager) are not importable from the library."""
    return {f"{s.selector}.{s.arg_name}": s.value
            for s in config_parser.ConfigParser(text, _Literals())
            if isinstance(s, config_parser.BindingStatement) and not s.scope}


def _model_key(metrics: Path, task: int) -> str:
    """The key of the state after `task`, from the experiment's last record of that task."""
    records = ([json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
               if metrics.is_file() else [])
    keys = {r["experience"]: r["model_key"] for r in records if "model_key" in r}
    if task not in keys or task < 0:
        raise InputError(f"{metrics}: no evaluation after task {task}; --task must be one of "
                         f"{sorted(k for k in keys if k >= 0)} (the tasks this run finished)")
    return keys[task]


def _restore_parts(method, prefix: str) -> None:
    """Encoder, projector and classifier from a stage checkpoint; every variable must match."""
    parts = tf.train.Checkpoint(**{part: getattr(method, part) for part in PARTS})
    try:  # a shape mismatch raises in read, a variable not found in the assertion
        parts.read(prefix).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError) as err:
        raise CheckpointMismatchError(
            f"{prefix} does not hold Kaizen's {', '.join(PARTS)} as the experiment's "
            f"operative config builds them: {err}") from err
    except (tf.errors.OpError, IndexError) as err:  # truncated or corrupt files
        raise damaged(prefix, err) from err


@reports_input_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m continual.methods.kaizen.teacher_export",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", required=True, help="main.py's --workdir of the run")
    parser.add_argument("--experiment", required=True, help="the experiment's name (KAIZEN)")
    parser.add_argument("--task", type=int, required=True, help="the state after this task")
    parser.add_argument("--out", required=True, help="the teacher folder to write")
    args = parser.parse_args(argv)
    written = teacher_from_run(args.workdir, args.experiment, args.task, args.out)
    print(f"{len(written)} checkpoints written under {args.out}; start from them with "
          f"Kaizen.teacher_checkpoint = '{args.out}'")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
