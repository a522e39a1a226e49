"""Replay stages: class mapping, replay images, helper decoders, pseudo-labels, inpainting.

Each takes the plan step (its key inputs say what it depends on), reads complete upstream
artefacts, writes its own files into `folder` and returns the info its marker records.
"""

from __future__ import annotations

import functools
from pathlib import Path

import keras
import tensorflow as tf

from continual.data import splits
from continual.data.classes import VOC_CLASSES
from continual.data.manifest import read_manifest
from continual.data.pipeline import EncodedRecords
from continual.methods.segmentation import StageTrainer
from continual.models.checkpoints import restore_weights, save_weights
from continual.models.segmenter import build_decoder, resize_logits
from continual.plans import segmentation_stages as stages
from continual.plans.replay_plan import GanReplay, WebReplay, web_class_folder
from continual.replay import labelling
from continual.replay.class_mapper import map_classes, read_mapping, write_mapping
from continual.replay.folders import pack_class
from continual.replay.gan import generate_class
from continual.replay.hub_models import load_classifier, load_generator
from continual.reporting.training_curves import CurveWriter
from continual.stages import register_stage


@functools.lru_cache(maxsize=2)
def _generator(handle: str):
    return load_generator(handle)


def _upstream(ctx, plan_step, kind: str):
    """The plan step of the dependency of a given kind."""
    return next(ctx.plan[name] for name in plan_step.depends if ctx.plan[name].kind == kind)


@register_stage("class_mapping")
def class_mapping(ctx, plan_step, folder: Path) -> dict:
    """VOC class -> ImageNet class by the classifier's mean softmax on the step's images."""
    gan, step = GanReplay(), plan_step.step
    in_step = set(splits.step_images(step, ctx.train_set.record_classes()))
    record_classes = [c if i in in_step else () for i, c in
                      enumerate(ctx.train_set.record_classes())]
    mapping = map_classes(load_classifier(gan.classifier_handle), stages.records_of(ctx.train_set),
                          record_classes, list(step.new_classes),
                          batch_size=gan.mapper_batch_size, overrides=dict(gan.overrides),
                          generator_classes=_generator(gan.generator_handle).num_classes)
    write_mapping(folder / "mapping.json", mapping)
    return {"mapping": {name: entry["imagenet_class"] for name, entry in mapping.items()}}


@register_stage("replay_images")
def replay_images(ctx, plan_step, folder: Path) -> dict:
    """Unlabelled replay images of one class, packed as a record set."""
    cls = plan_step.inputs["class"]
    name = VOC_CLASSES[cls]
    if ctx.manager.replay_source == "gan" and GanReplay().folder is not None:
        class_dir = web_class_folder(GanReplay(), cls)   # a GAN set made beforehand
    elif ctx.manager.replay_source == "gan":
        gan = GanReplay()
        mapping_step = _upstream(ctx, plan_step, "class_mapping")
        mapping = read_mapping(ctx.manager.store.path(mapping_step.kind, mapping_step.key)
                               / "mapping.json")
        class_dir = generate_class(
            _generator(gan.generator_handle), imagenet_class=mapping[name]["imagenet_class"],
            count=gan.images_per_class, out_folder=folder / "images",
            truncation=gan.truncation, batch_size=gan.batch_size, seed=gan.seed,
            voc_class=name, handle=gan.generator_handle)
    else:
        class_dir = web_class_folder(WebReplay(), cls)
    manifest = pack_class(class_dir, folder / "records", "replay",
                          limit=ctx.manager.replay_images_per_class)
    return {"class": name, "num_images": read_manifest(manifest).num_records}


def _helper_decoder(ctx, group, encoder):
    with ctx.strategy.scope():
        return build_decoder(num_classes=len(group) + 1,
                             in_channels=int(encoder.output_shape[-1]), name="helper_decoder")


@register_stage("helper_decoder")
def helper_decoder(ctx, plan_step, folder: Path) -> dict:
    """A decoder on the frozen step-0 encoder for one group of classes vs everything else."""
    group, step = tuple(plan_step.inputs["classes"]), plan_step.step
    seed = stages.stage_seed(ctx, plan_step)
    keras.utils.set_random_seed(seed)  # the helper's initialisation, whatever ran before
    segmenter = stages.build_model(ctx)
    encoder_path, _ = stages.model_weights(ctx, ctx.plan[plan_step.depends[0]])
    restore_weights(segmenter.encoder, encoder_path)
    decoder = _helper_decoder(ctx, group, segmenter.encoder)
    values = ctx.manager.helper_values
    schedule = stages.schedule_for(ctx, group, values)
    trainer = StageTrainer(encoder=segmenter.encoder, decoder=decoder, train_encoder=False,
                           seen_classes=range(len(group) + 1), schedule=schedule,
                           strategy=ctx.strategy)
    indices = splits.step_images(step, ctx.train_set.record_classes())
    # Crop padding is background for a helper, as in the original (its label map, applied
    # after augmentation there, sends everything outside the helper's classes to 0).
    make = stages.new_data(ctx, stages.records_of(ctx.train_set), indices,
                           splits.helper_label_map(group), seed, ratio_new=1,
                           crop_pad_label=0)
    info = trainer.train(make, folder, ctx.manager.common["batch_size"],
                         desc=f"{plan_step.name} (classes {group})",
                         log=CurveWriter(folder))
    save_weights(decoder, folder / "weights" / "decoder")
    info.update(train_images=len(indices), seed=seed, classes=list(group),
                decoder_path=str((folder / "weights" / "decoder").relative_to(
                    ctx.manager.store.root)))
    return info


def _labeller(ctx, labeller_step):
    """(predict function, learned channels, VOC ids) of the step-0 model or a helper."""
    segmenter = stages.build_model(ctx)
    if labeller_step.kind == "model_step0":
        stages.restore_model(ctx, labeller_step, segmenter)
        learned = tuple(range(ctx.manager.scenario.n0 + 1))
        return (lambda images: segmenter(images, training=False)), learned, learned
    group = tuple(labeller_step.inputs["classes"])
    encoder_path, _ = stages.model_weights(ctx, ctx.plan[labeller_step.depends[0]])
    restore_weights(segmenter.encoder, encoder_path)
    decoder = _helper_decoder(ctx, group, segmenter.encoder)
    restore_weights(decoder, ctx.manager.store.root / ctx.manager.store.info(
        labeller_step.kind, labeller_step.key)["decoder_path"])

    def predict(images):
        logits = decoder(segmenter.encoder(images, training=False), training=False)
        return resize_logits(logits, tf.shape(images)[1:3])
    return predict, tuple(range(len(group) + 1)), (0, *group)


def _predictions(ctx, predict, channels, ids, manifest, indices, desc):
    def labels(images):
        return labelling.restricted_argmax(predict(images), channels, ids)
    pad_to = None  # native size, as the original labels and inpaints (batch 1, no resize)
    if ctx.manager.labelling_padded:
        pad_to = labelling.pad_size([r["height"] for r in manifest.data["records"]],
                                    [r["width"] for r in manifest.data["records"]])
    return labelling.predictions(
        labels, EncodedRecords.from_manifest(manifest), indices, pad_to=pad_to,
        mean_bgr=tuple(ctx.manager.common["dataset_mean"]), desc=desc)


@register_stage("replay_labels")
def replay_labels(ctx, plan_step, folder: Path) -> dict:
    """Pseudo-labels of a class's replay images by the model that learned the class."""
    images_step = _upstream(ctx, plan_step, "replay_images")
    labeller_step = next(ctx.plan[n] for n in plan_step.depends if n != images_step.name)
    manifest = read_manifest(ctx.manager.store.path(images_step.kind, images_step.key)
                             / "records" / "replay.manifest.json")
    predict, channels, ids = _labeller(ctx, labeller_step)
    labelled = _predictions(ctx, predict, channels, ids, manifest,
                            list(range(manifest.num_records)), desc=plan_step.name)
    out = labelling.write_pseudo_labels(labelled, folder / "records", "labels",
                                        {"labeller": labeller_step.key, "images": images_step.key})
    counts = read_manifest(out).class_counts()
    return {"num_images": manifest.num_records,
            "images_with_class": counts.get(plan_step.inputs["class"], 0)}


@register_stage("inpainted")
def inpainted(ctx, plan_step, folder: Path) -> dict:
    """The step's images with background pixels from the previous model's prediction."""
    step = plan_step.step
    previous = ctx.plan[plan_step.depends[0]]
    segmenter = stages.build_model(ctx)
    stages.restore_model(ctx, previous, segmenter)
    learned = (0, *step.old_classes)
    indices = splits.step_images(step, ctx.train_set.record_classes())
    labelled = _predictions(ctx, lambda images: segmenter(images, training=False), learned,
                            learned, ctx.train_set, indices, desc=plan_step.name)
    labelling.write_inpainted(labelled, splits.label_map(step), folder / "records", "train",
                              {"previous_model": previous.key, "step": step.index})
    return {"num_images": len(indices)}


