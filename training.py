"""Training: runs the plan of one experiment step by step, reusing every complete artefact.

A stage whose artefact is complete (marker on disk) is skipped; a partial one resumes from its
last checkpoint inside the stage. After each evaluation the experiment's `metrics.jsonl` gets
one line, TensorBoard gets the metrics, and the log says how fast the stage trained.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import gin
import keras
import tensorflow as tf

from continual import stages
from continual.artifacts import PlanStep
from continual.data.shards import open_record_set
from continual.replay import stages as replay_stages  # noqa: F401 (registers gin configurables)
from continual.reporting import TensorBoardLogger, append_jsonl, read_jsonl
from train_manager import TrainManager

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
    """Walks `manager`'s plan; `experiment_dir` receives metrics, TensorBoard and gin config."""

    def __init__(self, manager: TrainManager, experiment_dir: str | Path, name: str):
        self.manager = manager
        self.name = name
        self.experiment_dir = Path(experiment_dir)
        self.train_set = open_record_set(manager.data_dir, "train")
        self.val_set = open_record_set(manager.data_dir, "val")
        self.plan = manager.plan({"train": self.train_set.content_hash,
                                  "val": self.val_set.content_hash})
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
            context = stages.StageContext(self.manager, self.strategy, self.train_set,
                                          self.val_set, {p.name: p for p in self.plan})
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
        if plan_step.kind == "evaluation":
            self._record_evaluation(context, plan_step)

    def _record_evaluation(self, context: stages.StageContext, plan_step: PlanStep) -> None:
        existing = read_jsonl(self.metrics_path) if self.metrics_path.exists() else []
        if any(r.get("eval_key") == plan_step.key for r in existing):
            return
        metrics = self.manager.store.info(plan_step.kind, plan_step.key)["metrics"]
        model_step = context.plan[plan_step.depends[0]]
        train_info = self.manager.store.info(model_step.kind, model_step.key)
        record = {"experiment": self.name, **self.manager.describe(),
                  "step": plan_step.step.index, "classes": list(plan_step.step.new_classes),
                  "eval_key": plan_step.key, "model_key": model_step.key,
                  "images_per_sec": _finite(train_info.get("images_per_sec")), **metrics}
        append_jsonl(self.metrics_path, record)
        with TensorBoardLogger(self.experiment_dir / "tensorboard") as board:
            board.scalars(plan_step.step.index, {k: v for k, v in metrics.items()
                                                 if isinstance(v, float)}, prefix="eval/")
        log.info("[%s] step %d: mIoU all+bg %.1f, old %s, new %s | trained at %s images/s",
                 self.name, plan_step.step.index, 100 * metrics["miou_all_bg"],
                 _pct(metrics.get("miou_old")), _pct(metrics.get("miou_new")),
                 _fmt(train_info.get("images_per_sec")))


def _finite(value):
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _fmt(value) -> str:
    return "-" if _finite(value) is None else f"{value:.1f}"
