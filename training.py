"""Training: runs the plan of one experiment step by step, reusing every complete artefact.

A stage whose artefact is complete (marker on disk) is skipped; a partial one resumes from its
last checkpoint inside the stage. After each evaluation the experiment's `metrics.jsonl` gets
one line, TensorBoard gets the metrics, and the log says how fast the stage trained.
"""

from __future__ import annotations

import logging
from pathlib import Path

import gin
import keras
import tensorflow as tf

from continual import stages
from continual.artifacts import PlanStep
from continual.reporting import TensorBoardLogger, append_jsonl, read_jsonl

log = logging.getLogger(__name__)


@gin.configurable
def make_strategy(name: str = "default") -> tf.distribute.Strategy:
    """The tf.distribute strategy every train and evaluation step runs under.

    "default": one device; "mirrored": all local GPUs (or logical CPUs); "multi_worker":
    MultiWorkerMirroredStrategy configured by TF_CONFIG.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"make_strategy.name = {name!r}; expected 'default', 'mirrored' or "
                     "'multi_worker'")


class Training:
    """Walks the plan of `manager` (a train_manager.TrainManager; not imported here: the
    arrows point from train_manager.py to training.py); `experiment_dir` receives metrics,
    TensorBoard and gin config.

    `Training(manager).train()` runs as the original README writes it: the name defaults to the
    manager's test name and the directory to `<base folder>/runs/<name>`.
    """

    def __init__(self, manager, experiment_dir: str | Path | None = None,
                 name: str | None = None):
        self.manager = manager
        self.name = name or manager.test_name or "experiment"
        self.experiment_dir = Path(experiment_dir if experiment_dir is not None
                                   else Path(manager.base_folder) / "runs" / self.name)
        self.record_sets = manager.planner.record_sets()
        self.plan = manager.plan({name: manifest.content_hash
                                  for name, manifest in self.record_sets.items()})
        self.strategy = make_strategy()

    def train(self) -> list[dict]:
        """Run every stage that is not complete yet; returns the experiment's metrics records."""
        self.experiment_dir.mkdir(parents=True, exist_ok=True)
        if self.manager.deterministic:
            tf.config.experimental.enable_op_determinism()
        policy = keras.mixed_precision.global_policy()
        if self.manager.mixed_precision:
            keras.mixed_precision.set_global_policy(self.manager.mixed_precision)
        try:
            context = stages.StageContext(self.manager, self.strategy, self.record_sets,
                                          {p.name: p for p in self.plan})
            for plan_step in self.plan:
                self._run(context, plan_step)
        finally:
            keras.mixed_precision.set_global_policy(policy)
        (self.experiment_dir / "operative_config.gin").write_text(gin.operative_config_str())
        return read_jsonl(self.metrics_path) if self.metrics_path.exists() else []

    @property
    def metrics_path(self) -> Path:
        return self.experiment_dir / "metrics.jsonl"

    def _run(self, context: stages.StageContext, plan_step: PlanStep) -> None:
        store = self.manager.store
        if store.is_complete(plan_step.kind, plan_step.key):
            log.info("[%s] %s reused (%s/%s)", self.name, plan_step.name, plan_step.kind,
                     plan_step.key)
        else:
            log.info("[%s] %s running (%s/%s)", self.name, plan_step.name, plan_step.kind,
                     plan_step.key)
            folder = store.prepare(plan_step.kind, plan_step.key, plan_step.inputs)
            info = stages.run_stage(context, plan_step, folder)
            store.complete(plan_step.kind, plan_step.key, info)
        if plan_step.kind in self.manager.planner.evaluation_kinds:
            self._record_evaluation(context, plan_step)

    def _record_evaluation(self, context: stages.StageContext, plan_step: PlanStep) -> None:
        """Append the evaluation's metrics record once (a rerun finds it by its key)."""
        existing = read_jsonl(self.metrics_path) if self.metrics_path.exists() else []
        if any(r.get("eval_key") == plan_step.key for r in existing):
            return
        log.info("[%s] %s evaluated", self.name, plan_step.name)
        record = {"experiment": self.name,
                  **self.manager.planner.metrics_record(plan_step, context.plan)}
        append_jsonl(self.metrics_path, record)
        with TensorBoardLogger(self.experiment_dir / "tensorboard") as board:
            board.scalars(self.manager.planner.board_step(plan_step),
                          {k: v for k, v in record.items() if isinstance(v, float)},
                          prefix="eval/")
