"""The stages of a stream experiment: initial state, one experience, one evaluation.

The full training state (the method's trackables plus the loop state) is written as one
`tf.train.Checkpoint` per artefact (`state/state`); the next experience restores it, then its
own `CheckpointManager` takes over inside its folder for mid-experience resume.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from continual.data.atomic import write_json_atomic
from continual.data.image_table import image_table
from continual.errors import InputError
from continual.loop.evaluation import evaluate_experience
from continual.loop.experience import ExperienceLoop, LoopState, make_checkpoint, run_experience
from continual.loop.progress import TrainingCurves
from continual.models.checkpoints import damaged
from continual.plans.epoch_accuracy import epoch_evaluation
from continual.reporting.training_curves import CurveWriter
from continual.stages import StageContext, register_stage, stage_seed

STATE = "state"
# The folders a stream stage keeps inside its artefact folder.
STAGE_FOLDERS = (STATE, "ckpt", "tensorboard")
# StageContext.kept's entry: (seed, the method last built by a stage of this experiment).
KEPT_METHOD = "stream_method"


def make_method(plan, image_shape, num_classes: int, seed: int, strategy=None):
    """The experiment's method with its models, optimisers and buffer built (not restored).

    Also the up-front check of a plan: every binding of the method, the buffer and the model
    is validated here, before any stage trains.
    """
    keras.utils.set_random_seed(seed)
    buffer = None
    if plan.buffer_cls is not None:
        buffer = plan.buffer_cls(num_classes=num_classes)
    method = plan.method_cls()
    if method.uses_buffer:
        if buffer is None:
            raise ValueError(f"{plan.method_name} replays from a buffer, but StreamPlan.buffer "
                             "is None; bind StreamPlan.buffer = @EpisodicBuffer")
        buffer.check_replay_batch(ExperienceLoop().replay_batch_size,
                                  "ExperienceLoop.replay_batch_size")
    with (strategy or tf.distribute.get_strategy()).scope():
        method.build(tuple(image_shape), num_classes, buffer, seed)
    scenario = getattr(plan, "_scenario", None)
    if scenario is not None:
        method.check_stream(scenario, ExperienceLoop())
    return method


def build_method(ctx: StageContext, seed: int):
    """A freshly built method, kept in `ctx` for the experiment's next stages."""
    table = image_table(ctx.train_set)
    method = make_method(ctx.manager.planner, table.image_shape, table.num_classes, seed,
                         ctx.strategy)
    ctx.kept[KEPT_METHOD] = (seed, method)
    return method


def restored_method(ctx: StageContext, plan_step, seed: int, loop_state: LoopState):
    """The method with the training state of the complete stage `plan_step` read into it.

    For a method whose own class declares `kept_between_stages` (a subclass declares it
    again, as for `data_parallel`: it may add state or shapes that the base's promise does
    not cover), the method built by an earlier stage of this walk of the experiment's plan is
    reused (its variables are all overwritten by the state: `restore_state` asserts that every
    saved value was read, and the checkpoint holds every variable the method changes), so its
    compiled step and predict functions are traced once per experiment, not once per stage;
    the first stage that needs one in a process (a fresh run, a rerun after a kill) builds it.
    Other methods are built at every stage."""
    kept_seed, method = ctx.kept.get(KEPT_METHOD, (None, None))
    if method is None or kept_seed != seed or not vars(type(method)).get("kept_between_stages"):
        method = build_method(ctx, seed)
    restore_state(ctx, plan_step, method, loop_state)
    return method


def _experiment_seed(ctx: StageContext) -> int:
    return ctx.manager.seed


def state_prefix(ctx: StageContext, plan_step) -> str:
    return str(ctx.manager.store.path(plan_step.kind, plan_step.key) / STATE / STATE)


def restore_state(ctx: StageContext, plan_step, method, loop_state: LoopState) -> None:
    """Read the training state of the (complete) stage `plan_step`; a damaged one (truncated,
    bit-flipped, a file where its folder belongs) is an error naming the artefact to delete."""
    prefix = state_prefix(ctx, plan_step)
    check_stage_folders(Path(prefix).parents[1])
    try:
        make_checkpoint(method, loop_state).read(prefix).assert_consumed()
    except (tf.errors.OpError, IndexError) as err:  # the reader raises IndexError on a short read
        raise damaged(prefix, err) from err


def check_stage_folders(folder: Path) -> None:
    """Refuse an artefact folder in which one of the stage's own folders is a file."""
    for name in STAGE_FOLDERS:
        if (folder / name).exists() and not (folder / name).is_dir():
            raise InputError(f"{folder / name} is a file where the stage keeps its {name!r} "
                             f"folder: the artefact {folder} is damaged. Delete the folder "
                             f"{folder} and rerun to make it again")


@register_stage("stream_init")
def stream_init(ctx: StageContext, plan_step, folder: Path) -> dict:
    """The method's initial state, seeded by the experiment seed (not by the key), so every
    experiment of one seed starts from the same weights."""
    seed = _experiment_seed(ctx)
    check_stage_folders(folder)
    method = build_method(ctx, seed)
    make_checkpoint(method, LoopState()).write(str(folder / STATE / STATE))
    return {"seed": seed, "parameters": int(sum(v.shape.num_elements()
                                                 for v in _trainable(method)))}


def _trainable(method) -> list[tf.Variable]:
    return [v for obj in method.trackables().values()
            for v in getattr(obj, "trainable_variables", [])]


@register_stage("stream_experience")
def stream_experience(ctx: StageContext, plan_step, folder: Path) -> dict:
    """Train on one experience from the previous stage's state; resumable mid-experience."""
    check_stage_folders(folder)
    loop_state = LoopState()
    method = restored_method(ctx, ctx.plan[plan_step.depends[0]], _experiment_seed(ctx),
                             loop_state)
    loop_state.phase.assign(0)
    loop_state.batch.assign(0)
    loop_state.begun.assign(False)
    loop_state.images_seen.assign(0)
    loop_state.train_seconds.assign(0.0)
    table = image_table(ctx.train_set)
    per_epoch = _epoch_evaluation(ctx, method, plan_step.step, folder)
    info = run_experience(method, plan_step.step, table, ExperienceLoop(),
                          stage_seed(ctx.manager.seed, plan_step), folder, loop_state,
                          log_scalars=CurveWriter(folder), after_epoch=per_epoch,
                          log_every=TrainingCurves().every_steps)
    make_checkpoint(method, loop_state).write(str(folder / STATE / STATE))
    if per_epoch is not None:
        info.update(per_epoch.info())
    info.update(train_images=len(plan_step.step.train_ids),
                buffer_size=int(method.buffer.size) if getattr(method, "buffer", None) else 0)
    return info


def _epoch_evaluation(ctx: StageContext, method, experience, folder: Path):
    """Per-epoch test evaluation under `StreamPlan.accuracy_rule = 'best_epoch'`, else None."""
    plan = ctx.manager.planner
    if getattr(plan, "accuracy_rule", "last_epoch") != "best_epoch":
        return None
    return epoch_evaluation(plan, method, experience, image_table(ctx.record_set("test")),
                            folder)


@register_stage("stream_evaluation")
def stream_evaluation(ctx: StageContext, plan_step, folder: Path) -> dict:
    """Accuracy row, overall / per-class / top-5 accuracy after an experience (or at init)."""
    plan = ctx.manager.planner
    method = restored_method(ctx, ctx.plan[plan_step.depends[0]], _experiment_seed(ctx),
                             LoopState())
    test = image_table(ctx.record_set("test"))
    metrics = evaluate_experience(method.predict, test, plan.scenario, plan_step.step,
                                  plan.eval_batch_size, getattr(plan, "top_k", None))
    probe = getattr(method, "online_probe_predict", None)
    if probe is not None:  # an evaluation head trained beside the method (Kaizen's online probe)
        metrics["online_probe_accuracy"] = evaluate_experience(
            probe, test, plan.scenario, plan_step.step, plan.eval_batch_size)["accuracy"]
    write_json_atomic(folder / "metrics.json", metrics)
    return {"metrics": metrics}
