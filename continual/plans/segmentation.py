"""RECALL's plan kind: step 0, helper decoders, replay images and labels, then per incremental
step: inpaint -> train -> evaluate (the default `TrainManager.plan_kind`).

The values come from the RECALL bindings that `TrainManager` reads (the original names); this
module lists the stages and their keys, and turns an evaluation artefact into a metrics record.
"""

from __future__ import annotations

import logging

from continual import planning
from continual.artifacts import PlanStep, artifact_key
from continual.data.manifest import Manifest, ManifestError, manifest_path
from continual.data.shards import open_record_set
from continual.models.segmenter import build_decoder, build_encoder
from continual.plans import replay_stages, segmentation_checks, segmentation_stages  # noqa: F401 (register stages)
from continual.plans.replay_plan import ReplayPlanner

log = logging.getLogger(__name__)


class SegmentationPlan:
    """The stages of one RECALL experiment; `manager` holds its checked gin values."""

    kind = "segmentation"
    evaluation_kinds = ("evaluation",)
    # stages that compute data without training (--dry_run says 'generate', not 'train')
    generation_kinds = ("class_mapping", "replay_images", "replay_labels", "inpainted")

    def __init__(self, manager):
        self.manager = manager

    def record_sets(self) -> dict[str, Manifest]:
        """The record sets the stages read: VOC-like "train" and "val"."""
        sets = {name: self._record_set(name) for name in ("train", "val")}
        segmentation_checks.check_experiment(self.manager)  # before any stage trains
        return sets

    def _record_set(self, name: str) -> Manifest | planning.MissingRecordSet:
        path = manifest_path(self.manager.data_dir, name)
        if path.exists():
            manifest = open_record_set(self.manager.data_dir, name)
            if manifest.num_records == 0:
                raise ManifestError(f"{path} lists no records: the {name} set is empty; "
                                    f"{manifest.rebuild_hint()} with images in it")
            return manifest
        error = FileNotFoundError(
            f"{path} does not exist: TrainManager.data_dir = {str(self.manager.data_dir)!r} "
            "holds no complete record set. Create it with `python -m continual.data.voc "
            "--voc_root <VOC2012> --sbd_root <SBD> --out <data dir>`, "
            "`python -m continual.data.recall_original --data <archive> --out <data dir>` or "
            "`python -m continual.data.synthetic --out <data dir>`")
        return planning.MissingRecordSet(planning.missing_input(path, error))

    def model_summary(self) -> str:
        """The network as bound in gin (defaults: the paper's DeepLab-v2 ResNet-101)."""
        return (f"{planning.bound_value(build_encoder, 'backbone')} + "
                f"{planning.bound_value(build_decoder, 'head')}")

    def steps(self, data_hashes: dict[str, str]) -> list[PlanStep]:
        """Every stage of the experiment in run order (dependencies first), with its key.

        `data_hashes` maps "train" and "val" to the manifests' content hashes.
        """
        steps: dict[str, PlanStep] = {}
        previous = step0 = replay = None
        for step in self.manager.scenario.steps:
            extra: list[PlanStep] = []
            if step.index > 0 and self.manager.uses_replay:
                extra += [replay.labels(c) for c in step.old_classes]
            if step.index > 0 and self.manager.incremental_values["mix_labels"]:
                extra.append(self._inpaint_step(step, previous, data_hashes["train"]))
            if replay is not None:
                steps.update((n, s) for n, s in replay.steps.items() if n not in steps)
            steps.update((s.name, s) for s in extra)
            model = self._model_step(step, previous, step0, data_hashes["train"], extra)
            steps[model.name] = model
            if step.index == 0:
                step0 = model
                replay = ReplayPlanner(self.manager, step0, data_hashes["train"])
            if self.manager.validate:
                evaluation = self._eval_step(step, model, data_hashes["val"])
                steps[evaluation.name] = evaluation
            previous = model
        return list(steps.values())

    def check_inputs(self, steps: list[PlanStep]) -> None:
        """Before any stage trains: replay folders decode, TF-Hub handles load and fit."""
        segmentation_checks.check_replay_inputs(steps)

    def _code(self, kind: str) -> dict:
        return planning.recall_stage_code(kind, self.manager.code_in_keys)

    def _inpaint_step(self, step, previous: PlanStep, train_hash: str) -> PlanStep:
        """The step's data with background from the previous model (the original's
        `Training.mix_label`)."""
        inputs = {"test": self.manager.test_type, "replay_source": self.manager.replay_source,
                  "step": step.index, "classes": list(step.new_classes), "setup": step.setup,
                  "previous": previous.key, "train_data": train_hash,
                  "dataset_mean": self.manager.common["dataset_mean"], "seed": self.manager.seed,
                  "padded": self.manager.labelling_padded,
                  "code": self._code("inpainted"), **self.manager.isolation()}
        return PlanStep(f"inpaint{step.index}", "inpainted", artifact_key("inpainted", inputs),
                        inputs, step, (previous.name,))

    def _model_step(self, step, previous, step0, train_hash, extra=()) -> PlanStep:
        shared = {"model": self.manager.model_values(), "common": self.manager.common,
                  "pipeline": planning.pipeline_bindings(), "seed": self.manager.seed,
                  "train_data": train_hash, "classes": list(step.new_classes),
                  "setup": step.setup, **self.manager.isolation()}
        if step.index == 0:
            inputs = {**shared, "stage": self.manager.step0_values,
                      "pretrained": planning.file_fingerprint(self.manager.pretrained_encoder)}
            kind, depends = "model_step0", ()
        else:
            inputs = {**shared, "stage": self.manager.incremental_values,
                      "test": self.manager.test_type,
                      "replay_source": self.manager.replay_source, "step": step.index,
                      "old_classes": list(step.old_classes), "previous": previous.key,
                      "encoder_from": step0.key,
                      "train_encoder": self.manager.train_encoder_incremental,
                      "inputs": sorted(s.key for s in extra)}
            kind, depends = "model_incremental", (previous.name, *(s.name for s in extra))
        inputs["code"] = self._code(kind)
        return PlanStep(f"step{step.index}", kind, artifact_key(kind, inputs), inputs, step,
                        depends)

    def _eval_step(self, step, model: PlanStep, val_hash: str) -> PlanStep:
        inputs = {"model": model.key, "val_data": val_hash, "seen": list(step.seen_classes),
                  "n0": self.manager.scenario.n0, "eval": self.manager.eval_values,
                  "code": self._code("evaluation"), **self.manager.isolation()}
        return PlanStep(f"eval{step.index}", "evaluation", artifact_key("evaluation", inputs),
                        inputs, step, (model.name,))

    def metrics_record(self, plan_step: PlanStep, plan: dict) -> dict:
        """The metrics.jsonl record of one evaluation step (mIoU splits, throughput)."""
        store = self.manager.store
        metrics = store.info(plan_step.kind, plan_step.key)["metrics"]
        model_step = plan[plan_step.depends[0]]
        train_info = store.info(model_step.kind, model_step.key)
        record = {**self.manager.describe(), "step": plan_step.step.index,
                  "classes": list(plan_step.step.new_classes), "eval_key": plan_step.key,
                  "model_key": model_step.key,
                  "images_per_sec": planning.finite(train_info.get("images_per_sec")), **metrics}
        log.info("step %d: mIoU all+bg %.1f, old %s, new %s | trained at %s images/s",
                 plan_step.step.index, 100 * metrics["miou_all_bg"],
                 _pct(metrics.get("miou_old")), _pct(metrics.get("miou_new")),
                 _pct(record["images_per_sec"], 1.0))
        return record

    def board_step(self, plan_step: PlanStep) -> int:
        return plan_step.step.index

    def curve_prefix(self, plan_step: PlanStep) -> str:
        """TensorBoard tags of a stage's training curves: each stage counts its own
        iterations from 0, so each gets its own tags (`train/step1/loss`)."""
        return f"train/{plan_step.name}/"


def _pct(value, scale: float = 100.0) -> str:
    return "-" if value is None else f"{scale * value:.1f}"
