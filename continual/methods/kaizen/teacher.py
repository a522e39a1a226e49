"""`Kaizen.teacher_checkpoint`: start from a saved model (the original's `--pretrained_model`:
its SimCLR and VICReg scripts begin from another run's checkpoint).

The checkpoint is a folder with one strict weights checkpoint per part the teacher copies
(`encoder`, `projector`, `classifier`; `continual.models.checkpoints` format, variables keyed by
their Keras path), written by `save_teacher`. `restore_teacher` loads it into the student when
the method is built, so the initial state starts from it and it becomes the teacher when the
first distilled task begins. A part that is missing, or a variable missing, unexpected or of
another shape, is an error naming the checkpoint and the variable, before anything trains.
The stream plan keys the folder by its files' content (`continual.key_files`), not its path.
`python -m continual.methods.kaizen.teacher_export` writes one from a finished stream run.
"""

from __future__ import annotations

import os
from pathlib import Path

from continual.models.checkpoints import CheckpointMismatchError, restore_weights, save_weights

PARTS = ("encoder", "projector", "classifier")


def save_teacher(method, folder: str | os.PathLike) -> list[str]:
    """Write the method's encoder, projector and classifier under `folder`; returns prefixes."""
    return [save_weights(getattr(method, part), Path(folder) / part) for part in PARTS]


def restore_teacher(method, folder: str | os.PathLike) -> None:
    """Restore every part from `folder` strictly (see the module doc)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointMismatchError(
            f"Kaizen.teacher_checkpoint = {str(folder)!r} is not a folder; pass the folder that "
            f"save_teacher wrote (with the checkpoints {', '.join(PARTS)})")
    for part in PARTS:
        try:
            restore_weights(getattr(method, part), folder / part)
        except CheckpointMismatchError as err:
            raise CheckpointMismatchError(f"Kaizen.teacher_checkpoint ({part}): {err}") from err
