"""Training: runs the plan of one experiment step by step, reusing every complete artefact.

A stage whose artefact is complete (marker on disk) is skipped; a partial one resumes from its
last checkpoint inside the stage. After each evaluation the experiment's `metrics.jsonl` gets
one line, TensorBoard gets the metrics, and the log says how fast the stage trained.

Every record carries the experiment's `seed` and `config_id` (a hash of its plan's stage keys:
what its results depend on). A rerun of one experiment name with another seed or other
values appends rows under another config_id and reads back only its own, so rows never mix;
its operative config is kept per config_id under `operative_configs/` as well. `values_id`
hashes the same less the seed: the seeds of one configuration share it, so the summary can
refuse to pool seeds that ran with different values. Each stage's
stored training curves (trained now or reused) are shown in the experiment's TensorBoard run,
and the experiment's log goes to `experiment.log` beside its metrics.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import time
from pathlib import Path

import gin
import keras
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from continual import lineage, stages
from continual.artifacts import PlanStep, artifact_key
from continual.data.atomic import write_text_atomic
from continual.divergence import check_finite_state
from continual.errors import InputError
from continual.methods import data_parallel
from continual.models.stage_checkpoints import is_chief, worker_name
from continual.reporting import TensorBoardLogger, append_jsonl, read_jsonl
from continual.reporting.training_curves import claim_board, show_in_run
from continual.store_lock import KeyLocks, hold

log = logging.getLogger(__name__)


@gin.configurable
def make_strategy(name: str = "default") -> tf.distribute.Strategy:
    """The tf.distribute strategy every train and evaluation step runs under.

    "default": one device; "mirrored": all local GPUs (or logical CPUs); "multi_worker":
    MultiWorkerMirroredStrategy configured by TF_CONFIG, made once per process and before
    any TensorFlow op runs (TensorFlow refuses it later): suite.py calls this first.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi_worker":
        return _multi_worker_strategy()
    raise ValueError(f"make_strategy.name = {name!r}; expected 'default', 'mirrored' or "
                     "'multi_worker'")


@contextlib.contextmanager
def op_determinism(required: bool):
    """TensorFlow's op determinism switched to `required` for one experiment, then back.

    The switch is process-wide and was only ever switched on, so an experiment ran with or
    without it depending on what ran before it in the process (issue 20 item 5). Without it
    TensorFlow may pick kernels whose float reductions change order from run to run."""
    before = tf_config.is_op_determinism_enabled()
    switch_op_determinism(required)
    try:
        yield
    finally:
        switch_op_determinism(before)


def switch_op_determinism(on: bool) -> None:
    if on:
        tf.config.experimental.enable_op_determinism()
    else:  # TensorFlow exports only the enabling half
        tf_config.disable_op_determinism()


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
        manager.planner.check_inputs(self.plan)  # before any stage trains
        self.lineage = lineage.lineage_keys(self.plan)
        self.config_id = config_id(self.plan)
        self.values_id = lineage.values_id(self.plan)  # the same for every seed of its values
        self.strategy = make_strategy()
        _check_strategy_fits(manager.planner, self.strategy, self.name)
        # A multi-worker group trains each stage together: its workers must not claim apart.
        self.locks = None if _workers(self.strategy) > 1 else KeyLocks(manager.store.root)

    def train(self, wait_for_claims: bool = True) -> list[dict]:
        """Run every stage that is not complete yet; returns the experiment's metrics records.

        A stage that another process is training (its key is claimed) is waited for, or, with
        `wait_for_claims=False`, raises store_lock.StageClaimed so the caller can do other work.
        """
        self.experiment_dir.mkdir(parents=True, exist_ok=True)
        with self._log_file():
            self._claim_board()
            return self._train(wait_for_claims)

    def _claim_board(self) -> None:
        """The experiment's TensorBoard run shows this configuration only: curves written for
        other values of the same experiment are removed (their stages keep them)."""
        if not is_chief(self.strategy):
            return
        with hold(self.experiment_dir / "metrics.jsonl.lock", poll_seconds=0.5,
                  what=str(self.metrics_path)):
            if claim_board(self.experiment_dir / "tensorboard", self.config_id):
                log.info("[%s] TensorBoard: the curves of its earlier configuration were "
                         "removed (configuration %s now)", self.name, self.config_id)

    def _train(self, wait_for_claims: bool) -> list[dict]:
        policy = keras.mixed_precision.global_policy()
        if self.manager.mixed_precision:
            keras.mixed_precision.set_global_policy(self.manager.mixed_precision)
        try:
            with op_determinism(self._deterministic()):
                context = stages.StageContext(self.manager, self.strategy, self.record_sets,
                                              {p.name: p for p in self.plan})
                for plan_step in self.plan:
                    self._run(context, plan_step, wait_for_claims)
        finally:
            keras.mixed_precision.set_global_policy(policy)
        if is_chief(self.strategy):
            operative = gin.operative_config_str()
            write_text_atomic(self.experiment_dir / "operative_config.gin", operative)
            write_text_atomic(self.experiment_dir / "operative_configs" /
                              f"{self.config_id}.gin", operative)
        return self.records()

    def records(self) -> list[dict]:
        """This configuration's metrics records (rows of another seed or config are skipped)."""
        return records_of(self.metrics_path, self.config_id)

    @contextlib.contextmanager
    def _log_file(self):
        """Everything logged while the experiment runs also goes to its `experiment.log`
        (appended: a rerun adds its lines), the chief's only."""
        if not is_chief(self.strategy):
            yield
            return
        handler = logging.FileHandler(self.experiment_dir / "experiment.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        root = logging.getLogger()
        level = root.level
        root.addHandler(handler)
        root.setLevel(min(level, logging.INFO) if level else logging.INFO)
        try:
            yield
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
            handler.close()

    def _deterministic(self) -> bool:
        """`TrainManager.deterministic`, or by default: on for a stream plan, off for RECALL's."""
        if self.manager.deterministic is not None:
            return self.manager.deterministic
        return getattr(self.manager.planner, "kind", None) == "stream"

    @property
    def metrics_path(self) -> Path:
        return self.experiment_dir / "metrics.jsonl"

    def _run(self, context: stages.StageContext, plan_step: PlanStep, wait: bool) -> None:
        store = self.manager.store
        if store.is_complete(plan_step.kind, plan_step.key):
            log.info("[%s] %s reused (%s/%s)", self.name, plan_step.name, plan_step.kind,
                     plan_step.key)
        else:
            with self._claim(plan_step, wait):
                self._run_claimed(context, plan_step)
        self._show_training_curves(plan_step)
        if plan_step.kind in self.manager.planner.evaluation_kinds:
            self._record_evaluation(context, plan_step)

    def _claim(self, plan_step: PlanStep, wait: bool):
        """The claim on the stage's key, so that no two processes train it."""
        if self.locks is None:
            return contextlib.nullcontext()
        return self.locks.claim(plan_step.kind, plan_step.key, wait=wait)

    def _run_claimed(self, context: stages.StageContext, plan_step: PlanStep) -> None:
        """Train the stage, unless another process completed it while this one waited."""
        store, where = self.manager.store, f"{plan_step.kind}/{plan_step.key}"
        if store.is_complete(plan_step.kind, plan_step.key):
            log.info("[%s] %s reused (%s, completed by another process)", self.name,
                     plan_step.name, where)
            return
        log.info("[%s] %s running (%s)", self.name, plan_step.name, where)
        if not is_chief(self.strategy):
            self._run_beside_chief(context, plan_step)
            return
        folder = store.prepare(plan_step.kind, plan_step.key, plan_step.inputs)
        info = stages.run_stage(context, plan_step, folder)
        check_finite_state(folder, f"{self.name}: {plan_step.name} ({plan_step.kind})")
        check_keyed = getattr(self.manager.planner, "check_keyed_bindings", None)
        if check_keyed is not None:
            check_keyed(plan_step)
        store.complete(plan_step.kind, plan_step.key, info)
        lineage.record(store.root, plan_step, self.lineage[plan_step.name], self.name)

    def _run_beside_chief(self, context: stages.StageContext, plan_step: PlanStep) -> None:
        """A non-chief worker runs the stage with the chief (every collective op needs all the
        workers) in a scratch folder that starts from the chief's resume point and is removed
        after; then it waits for the chief's marker, so later stages read the chief's files."""
        store = self.manager.store
        scratch = (store.root / ".workers" /
                   f"{worker_name(self.strategy)}-{plan_step.kind}-{plan_step.key}")
        if scratch.exists():  # left by a killed run
            shutil.rmtree(scratch)
        resume_point = store.path(plan_step.kind, plan_step.key) / "ckpt"
        if resume_point.is_dir():
            shutil.copytree(resume_point, scratch / "ckpt")
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            stages.run_stage(context, plan_step, scratch)
        finally:
            shutil.rmtree(scratch)
        if not store.is_complete(plan_step.kind, plan_step.key):
            log.info("[%s] %s: waiting for the chief worker's marker", self.name, plan_step.name)
        while not store.is_complete(plan_step.kind, plan_step.key):
            time.sleep(0.2)

    def _show_training_curves(self, plan_step: PlanStep) -> None:
        """Copy the stage's stored training curves into this experiment's TensorBoard run
        (once per run folder), so a reused stage shows its curves too; the chief's only."""
        if not is_chief(self.strategy):
            return
        folder = self.manager.store.path(plan_step.kind, plan_step.key)
        prefix = getattr(self.manager.planner, "curve_prefix", lambda step: "train/")(plan_step)
        with hold(self.experiment_dir / "metrics.jsonl.lock", poll_seconds=0.5,
                  what=str(self.metrics_path)):
            show_in_run(folder, f"{plan_step.kind}/{plan_step.key}",
                        self.experiment_dir / "tensorboard", prefix)

    def _record_evaluation(self, context: stages.StageContext, plan_step: PlanStep) -> None:
        """Append the evaluation's metrics record once (a rerun, or another process running
        the same experiment, finds it by its key: the check and the append are locked); a
        non-chief worker leaves it to the chief."""
        if not is_chief(self.strategy):
            return
        with hold(self.experiment_dir / "metrics.jsonl.lock", poll_seconds=0.5,
                  what=str(self.metrics_path)):
            self._append_evaluation(context, plan_step)

    def _append_evaluation(self, context: stages.StageContext, plan_step: PlanStep) -> None:
        if any(r.get("eval_key") == plan_step.key for r in self.records()):
            return
        log.info("[%s] %s evaluated", self.name, plan_step.name)
        record = {"experiment": self.name, "seed": self.manager.seed,
                  "config_id": self.config_id, "values_id": self.values_id,
                  **self.manager.planner.metrics_record(plan_step, context.plan)}
        append_jsonl(self.metrics_path, record)
        with TensorBoardLogger(self.experiment_dir / "tensorboard") as board:
            board.scalars(self.manager.planner.board_step(plan_step), _eval_scalars(record),
                          prefix="eval/")


def config_id(plan: list[PlanStep]) -> str:
    """An experiment's configuration id: a hash of its stages' kinds and keys, so it changes
    with anything its results depend on (values, data, seed, code) and nothing else."""
    return artifact_key("experiment", {"steps": [[s.kind, s.key] for s in plan]})[:12]


def records_of(metrics_path: Path, config: str | None = None) -> list[dict]:
    """The records of `metrics_path` whose `config_id` is `config`; with None, those of the
    configuration that wrote the last record (the experiment's latest run). Empty when the
    file does not exist."""
    records = read_jsonl(metrics_path) if metrics_path.exists() else []
    if config is None and records:
        config = records[-1].get("config_id")
    return [r for r in records if r.get("config_id") == config]


def _eval_scalars(record: dict) -> dict[str, float]:
    """The evaluation's numbers for TensorBoard: every float, and the accuracy matrix's row
    as `accuracy_row/task_<j>` (task j's accuracy after this experience, R[i, j])."""
    values = {k: v for k, v in record.items() if isinstance(v, float)}
    for task, accuracy in enumerate(record.get("accuracy_row") or []):
        if isinstance(accuracy, (int, float)):
            values[f"accuracy_row/task_{task}"] = float(accuracy)
    return values


@functools.cache
def _multi_worker_strategy() -> tf.distribute.Strategy:
    return tf.distribute.MultiWorkerMirroredStrategy()


def _check_strategy_fits(planner, strategy: tf.distribute.Strategy, name: str) -> None:
    """Stream experiments train in one process (their experience loop writes its in-experience
    checkpoints and buffer from every process, with no chief-only writing), and under several
    local replicas only with a method whose step splits the batch (data_parallel.refusal)."""
    if getattr(planner, "kind", None) != "stream":
        return
    if _workers(strategy) > 1:
        raise InputError(f"experiment {name!r} is a stream experiment, which trains in one "
                         "process: its experience loop has no chief-only writing of its "
                         "in-experience checkpoints and buffer, so make_strategy.name = "
                         "'multi_worker' runs RECALL experiments only; bind make_strategy.name "
                         "= 'mirrored' (all local devices) or 'default' for it")
    refused = data_parallel.refusal(planner.method_cls, strategy)
    if refused:
        raise InputError(f"experiment {name!r}: {refused}")


def _workers(strategy: tf.distribute.Strategy) -> int:
    """How many worker processes train together under `strategy` (1 unless multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    spec = resolver.cluster_spec()
    return max(1, sum(spec.num_tasks(job) for job in spec.jobs if job in ("chief", "worker")))
