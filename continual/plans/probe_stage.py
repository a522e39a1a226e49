"""The `linear_probe` stage: evaluate a self-supervised stream model by a linear probe.

`StreamPlan.evaluation_kind = 'linear_probe'` makes every evaluation of a stream plan (after
each experience, and of the initial state) such a stage, keyed like `stream_evaluation`. It
restores the method's state, trains a linear probe (`LinearProbe`) on the frozen backbone's
features of `StreamPlan.probe_split` (default: the train split) with its labels, and scores
the test split as `stream_evaluation` does: one row of the accuracy matrix (per segment of a
class-sequential stream: the forgetting per split D_i), overall, per-class and top-5
accuracy, plus `probe_accuracy` (and `online_probe_accuracy` for a method that trains an
online probe, as `stream_evaluation` reports it). Probes after experiences that end at 25 / 50 /
75 / 100 % of the stream (`stream_fraction` of the record) are the paper's accuracy-over-progress
numbers.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from continual.data.atomic import write_json_atomic
from continual.data.image_table import image_table
from continual.loop.evaluation import evaluate_experience
from continual.loop.experience import LoopState
from continual.loop.linear_probe import LinearProbe, probe_features, train_linear_probe
from continual.plans.stream_stages import restored_method
from continual.stages import StageContext, register_stage, stage_seed

log = logging.getLogger(__name__)


@register_stage("linear_probe")
def linear_probe(ctx: StageContext, plan_step, folder: Path) -> dict:
    """Probe accuracy of the model step this evaluation depends on."""
    plan, probe = ctx.manager.planner, LinearProbe()
    method = restored_method(ctx, ctx.plan[plan_step.depends[0]], ctx.manager.seed,
                             LoopState())
    if not hasattr(method, "probe_features"):
        raise ValueError(f"StreamPlan.evaluation_kind = 'linear_probe' needs a method with "
                         f"probe_features (e.g. SimSiamStream); {type(method).__name__} has none")
    # StreamPlan.probe_split's records, or the train split's (overlap warned at planning)
    train = image_table(ctx.record_sets.get("probe", ctx.train_set))
    ids = np.arange(train.num_records, dtype=np.int64)
    features = probe_features(method.probe_features, train, ids, plan.eval_batch_size)
    head = train_linear_probe(features, train.labels_of(ids), train.num_classes, probe,
                              stage_seed(ctx.manager.seed, plan_step), ctx.strategy)
    metrics = evaluate_experience(lambda images: head(method.probe_features(images)),
                                  image_table(ctx.record_set("test")), plan.scenario,
                                  plan_step.step, plan.eval_batch_size)
    metrics["probe_accuracy"] = metrics["accuracy"]
    online = getattr(method, "online_probe_predict", None)
    if online is not None:  # a head trained beside the method (Kaizen's online probe)
        metrics["online_probe_accuracy"] = evaluate_experience(
            online, image_table(ctx.record_set("test")), plan.scenario, plan_step.step,
            plan.eval_batch_size)["accuracy"]
    write_json_atomic(folder / "metrics.json", metrics)
    return {"metrics": metrics}
