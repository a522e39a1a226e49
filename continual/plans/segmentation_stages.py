"""The model stages of a RECALL experiment: train step 0, train an incremental step, evaluate.

Each stage reads its inputs from complete artefacts, writes its files into its own artefact
folder, and returns the info that the completion marker records (written after every file, so
a half-written stage never counts). The plan (which stages, which keys) comes from
`continual.plans.segmentation`. Also here: the readers of replay and inpainted artefacts that
an incremental step mixes in, and the helpers the replay stages build on.
"""

from __future__ import annotations

import functools
from pathlib import Path

import gin
import keras
import numpy as np
import tensorflow as tf

from continual import stages
from continual.data import splits
from continual.data.manifest import read_manifest, write_json_atomic
from continual.data.mixing import mix_streams, stream_positions
from continual.data.pipeline import EncodedRecords, eval_dataset, train_stream
from continual.data.shards import load_serialized
from continual.evaluation import evaluate
from continual.methods.segmentation import Schedule, StageTrainer
from continual.metrics import segmentation_metrics
from continual.models.checkpoints import restore_weights, save_weights
from continual.models.pretrained import load_encoder_weights
from continual.models.segmenter import build_segmenter
from continual.reporting.training_curves import CurveWriter
from continual.stages import StageContext, records_of, register_stage

IDENTITY = np.arange(256, dtype=np.uint8)


def stage_seed(ctx: StageContext, plan_step) -> int:
    """Seed of a stage: the experiment seed mixed with the stage's key (same key, same run)."""
    return stages.stage_seed(ctx.manager.seed, plan_step)


def build_model(ctx: StageContext):
    with ctx.strategy.scope():
        return build_segmenter(num_classes=ctx.manager.common["n_classes"])


def model_weights(ctx: StageContext, plan_step) -> tuple[Path, Path]:
    """Encoder and decoder checkpoint prefixes of the model a plan step produced."""
    info = ctx.manager.store.info(plan_step.kind, plan_step.key)
    root = ctx.manager.store.root
    return root / info["encoder_path"], root / info["decoder_path"]


def restore_model(ctx: StageContext, model_step, segmenter) -> None:
    encoder_path, decoder_path = model_weights(ctx, model_step)
    restore_weights(segmenter.encoder, encoder_path)
    restore_weights(segmenter.decoder, decoder_path)


def schedule_for(ctx: StageContext, classes, values: dict) -> Schedule:
    """A stage's schedule: (#classes) x per-class iterations, its own lr0 -> lrT."""
    common = ctx.manager.common
    return Schedule(iterations=splits.iterations(classes, values["steps_per_class"]),
                    lr_initial=values["lr_initial"], lr_final=values["lr_final"],
                    power=common["decay_power"], momentum=common["momentum"],
                    l2_decay=common["l2_decay"])


def mixing_mode() -> str:
    """The batch-mixing mode bound in gin (`mix_streams.mode`), RECALL's alternation by default."""
    return gin.get_bindings("mix_streams").get("mode", "alternate")


def new_data(ctx: StageContext, records, indices, label_lut, seed: int, ratio_new: int,
             replay=None, ratio_old: int = 0, crop_pad_label: int = 255):
    """Function start_batch -> batches of new data, mixed with replay when it is given.

    `replay` is (records, indices, label_lut); the two streams are seeded apart and each
    resumes at the sample position the mixer had reached before `start_batch`.
    `crop_pad_label` labels crop padding (255 ignored; 0 for helper decoders).
    """
    common = ctx.manager.common
    mix = {"batch_size": common["batch_size"], "ratio_new": ratio_new,
           "ratio_old": ratio_old if replay else 0}
    stream = functools.partial(train_stream, crop_size=common["train_image_size"],
                               mean_bgr=tuple(common["dataset_mean"]),
                               crop_pad_label=crop_pad_label)

    def make(start_batch: int) -> tf.data.Dataset:
        new_start, replay_start = stream_positions(start_batch, **mix, mode=mixing_mode(),
                                                   has_replay=replay is not None)
        new = stream(records, indices, label_lut, seed=seed, start=new_start)
        old = stream(*replay, seed=seed + 1, start=replay_start) if replay else None
        return mix_streams(new, old, **mix, start_batch=start_batch)
    return make


def incremental_data(ctx: StageContext, plan_step, seed: int):
    """New data (inpainted when the plan says so) plus pseudo-labelled replay, at gin ratios."""
    step, values = plan_step.step, ctx.manager.incremental_values
    upstream = [ctx.plan[name] for name in plan_step.depends]
    inpaint = [s for s in upstream if s.kind == "inpainted"]
    if inpaint:
        records = inpainted_records(ctx, inpaint[0])
        indices, lut = list(range(len(records))), IDENTITY
    else:
        records = records_of(ctx.train_set)
        indices = splits.step_images(step, ctx.train_set.record_classes())
        lut = splits.label_map(step)
    labels = [s for s in upstream if s.kind == "replay_labels"]
    replay = None
    if labels and values["ratio_old"] > 0:
        pool = replay_stream_records(ctx, labels)
        replay = (pool, list(range(len(pool))), IDENTITY)
    make = new_data(ctx, records, indices, lut, seed, values["ratio_new"], replay,
                    values["ratio_old"])
    return make, len(indices)


def replay_stream_records(ctx: StageContext, label_steps) -> EncodedRecords:
    """All pseudo-labelled replay records of the old classes, one uniform pool."""
    serialized = []
    for label_step in label_steps:
        path = ctx.manager.store.path(label_step.kind, label_step.key) / "records"
        serialized += load_serialized(read_manifest(path / "labels.manifest.json"))
    return EncodedRecords(serialized, where="pseudo-labelled replay records")


def inpainted_records(ctx: StageContext, inpaint_step) -> EncodedRecords:
    path = ctx.manager.store.path(inpaint_step.kind, inpaint_step.key) / "records"
    return EncodedRecords.from_manifest(read_manifest(path / "train.manifest.json"))


@register_stage("model_step0")
@register_stage("model_incremental")
def train_model(ctx: StageContext, plan_step, folder: Path) -> dict:
    """Train step 0 (encoder + decoder) or an incremental step (decoder, or all by gin)."""
    manager, step = ctx.manager, plan_step.step
    seed = stage_seed(ctx, plan_step)
    keras.utils.set_random_seed(seed)
    segmenter = build_model(ctx)
    if step.index == 0:
        if manager.pretrained_encoder:
            load_encoder_weights(segmenter.encoder, manager.pretrained_encoder)
        values, train_encoder = manager.step0_values, True
    else:
        restore_model(ctx, ctx.plan[plan_step.depends[0]], segmenter)
        values, train_encoder = manager.incremental_values, manager.train_encoder_incremental
    trainer = StageTrainer(encoder=segmenter.encoder, decoder=segmenter.decoder,
                           train_encoder=train_encoder, seen_classes=step.seen_classes,
                           schedule=schedule_for(ctx, step.new_classes, values),
                           strategy=ctx.strategy)
    if step.index == 0:
        indices = splits.step_images(step, ctx.train_set.record_classes())
        make_dataset = new_data(ctx, records_of(ctx.train_set), indices, splits.label_map(step),
                                seed, ratio_new=1)
        num_images = len(indices)
    else:
        make_dataset, num_images = incremental_data(ctx, plan_step, seed)
    info = trainer.train(make_dataset, folder, manager.common["batch_size"],
                         desc=f"{plan_step.name} ({step.describe()})",
                         log=CurveWriter(folder))
    save_weights(segmenter.decoder, folder / "weights" / "decoder")
    root = manager.store.root
    if train_encoder:
        save_weights(segmenter.encoder, folder / "weights" / "encoder")
        encoder_path = folder / "weights" / "encoder"
    else:
        encoder_path = model_weights(ctx, ctx.plan[plan_step.depends[0]])[0]
    info.update(train_images=num_images, seed=seed,
                encoder_path=str(Path(encoder_path).relative_to(root)),
                decoder_path=str((folder / "weights" / "decoder").relative_to(root)))
    return info


@register_stage("evaluation")
def evaluate_model(ctx: StageContext, plan_step, folder: Path) -> dict:
    """Confusion matrix of a model on the val images of its step's seen classes."""
    manager, step = ctx.manager, plan_step.step
    segmenter = build_model(ctx)
    restore_model(ctx, ctx.plan[plan_step.depends[0]], segmenter)
    indices = splits.val_images(step, ctx.val_set.record_classes())
    data = eval_dataset(records_of(ctx.val_set), indices, splits.val_label_map(step),
                        pad_to=manager.eval_values["pad_to"],
                        batch_size=manager.eval_values["batch_size"],
                        mean_bgr=tuple(manager.common["dataset_mean"]))
    cm, loss = evaluate(lambda images: segmenter(images, training=False), data,
                        step.seen_classes, manager.common["n_classes"],
                        num_batches=-(-len(indices) // manager.eval_values["batch_size"]),
                        strategy=ctx.strategy, desc=f"eval step {step.index}")
    np.save(folder / "confusion_matrix.npy", cm)
    metrics = segmentation_metrics(cm, seen=step.seen_classes, n0=manager.scenario.n0,
                                   n_old=max(step.old_classes, default=0),
                                   step_classes=step.new_classes)
    metrics["eval_loss"] = loss
    write_json_atomic(folder / "metrics.json", metrics)
    return {"metrics": metrics, "num_images": len(indices)}
