"""A stage's resume checkpoints under any tf.distribute strategy, written by the chief only.

Under MultiWorkerMirroredStrategy every worker must take part in a save (saving a distributed
variable may run collective ops), but only one copy may land in the artefact folder: two
processes writing one `checkpoint` state file race, and a half-written one is read back on
resume. As TensorFlow's multi-worker guide recommends, the chief saves into the stage's folder
and every other worker saves into a temporary folder of its own, removed right after. Every
worker resumes from the chief's folder, so the checkpoint store must be a folder that all
workers see (one host, or a shared file system). One-process strategies have a single chief.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from continual.models.checkpoints import resume


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the artefacts (always, outside multi-worker training)."""
    return bool(strategy.extended.should_checkpoint)


def worker_name(strategy: tf.distribute.Strategy) -> str:
    """`<task type>-<task id>` of this process in a multi-worker cluster, else "local"."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return "local"
    return f"{resolver.task_type}-{resolver.task_id}"


class StageCheckpoints:
    """`tf.train.CheckpointManager` over `folder` that only the chief writes into."""

    def __init__(self, checkpoint: tf.train.Checkpoint, folder: str | Path,
                 strategy: tf.distribute.Strategy, max_to_keep: int = 2):
        self.checkpoint, self.strategy = checkpoint, strategy
        self.folder = Path(folder)
        self.manager = tf.train.CheckpointManager(checkpoint, str(self.folder),
                                                  max_to_keep=max_to_keep)

    def restore(self) -> bool:
        """Restore the chief's latest checkpoint (every worker reads the same); False if none."""
        return resume(self.checkpoint, self.manager)

    def save(self, number: int) -> None:
        """Save as checkpoint `number`: the chief into the folder, a non-chief into a scratch
        folder that is deleted at once (it takes part in the save; its files are not kept)."""
        if is_chief(self.strategy):
            self.manager.save(checkpoint_number=number)
            return
        scratch = tempfile.mkdtemp(prefix=f"stage-ckpt-{worker_name(self.strategy)}-")
        try:
            tf.train.CheckpointManager(self.checkpoint, scratch, max_to_keep=1).save(
                checkpoint_number=number)
        finally:
            shutil.rmtree(scratch)
