"""The replay part of an experiment's plan: what each replayed class needs, keyed by content.

For a class c replayed at some step, the plan needs its unlabelled replay images (GAN: after the
class mapping of the step that learned c; web: packed from the crawl folder), its labeller
(the step-0 model, or the helper decoder of the group that holds c), and the pseudo-labelled
set. Each artefact is added once, its dependencies first, with a key that holds the test,
source and every upstream key, so no two experiments share a wrongly-labelled file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import gin

from continual import planning
from continual.artifacts import PlanStep, artifact_key
from continual.data import splits
from continual.data.classes import VOC_CLASSES
from continual.replay.standins import STANDIN_FILE

BIGGAN_DEEP_512 = "https://tfhub.dev/deepmind/biggan-deep-512/1"
EFFICIENTNET_B2 = "https://tfhub.dev/google/efficientnet/b2/classification/1"


@gin.configurable
@dataclasses.dataclass(frozen=True)
class GanReplay:
    """BigGAN-deep replay (the original README's GAN section): generator, class-mapper
    classifier and sampling."""

    generator_handle: str = BIGGAN_DEEP_512
    classifier_handle: str = EFFICIENTNET_B2
    images_per_class: int = 500
    truncation: float = 1.0
    batch_size: int = 5
    mapper_batch_size: int = 16
    overrides: tuple = ()          # (("person", 1234), ...): user choices win over the mapper
    seed: int = 0
    # A GAN set made beforehand (gan/generate_gan.py, or the original generator's folders via
    # `python -m continual.replay.import_folders gan`): class folders with manifests; no class
    # mapping and no generation run, and the results still say GAN.
    folder: str | None = None


@gin.configurable
@dataclasses.dataclass(frozen=True)
class WebReplay:
    """Web replay: a folder of class folders written by flickr/download_flickr.py."""

    folder: str = "data/replay_images/flickr"


GAN_FOLDER_HINT = ("python gan/generate_gan.py --mapping mapping.json --out {folder}` or "
                   "`python -m continual.replay.import_folders gan ... --out {folder}")
WEB_FOLDER_HINT = ("python flickr/download_flickr.py --classes {name} --out {folder}` or "
                   "`python -m continual.replay.import_folders flickr ... --out {folder}")


def handle_fingerprint(handle: str) -> dict:
    """A TF-Hub handle as key input: the string, plus what identifies a local model.

    A stand-in built by this project is identified by its build parameters (`standin.json`;
    the build is deterministic, while SavedModel files differ byte-wise from build to build);
    any other local folder by its file sizes and graph bytes (not by its path).
    """
    path = Path(handle)
    if not path.is_dir():
        return {"handle": handle}
    if (path / STANDIN_FILE).exists():  # content, not location, identifies a local model
        return {"standin": json.loads((path / STANDIN_FILE).read_text())}
    digest = hashlib.sha256()
    for name in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{name.relative_to(path)}:{name.stat().st_size}".encode())
    graph = path / "saved_model.pb"
    if graph.exists():
        digest.update(graph.read_bytes())
    return {"files": digest.hexdigest()}


def web_class_folder(web: WebReplay | GanReplay, cls: int) -> Path:
    """The class folder of a replay set made beforehand (web crawl, or a GAN set)."""
    return Path(web.folder) / VOC_CLASSES[cls]


def web_fingerprint(web: WebReplay | GanReplay, cls: int) -> str:
    """sha256 of the class folder's manifest (which lists every image's sha256)."""
    manifest = web_class_folder(web, cls) / "manifest.json"
    if not manifest.exists():
        gan = isinstance(web, GanReplay)
        hint = (GAN_FOLDER_HINT if gan else WEB_FOLDER_HINT).format(
            name=VOC_CLASSES[cls], folder=web.folder)
        return planning.missing_input(manifest, FileNotFoundError(
            f"{manifest} does not exist: no complete {'GAN' if gan else 'web'} replay set for "
            f"class {VOC_CLASSES[cls]!r}. Make it with `{hint}`, or point "
            f"{'GanReplay' if gan else 'WebReplay'}.folder at one"))
    return hashlib.sha256(manifest.read_bytes()).hexdigest()


class ReplayPlanner:
    """Adds the replay artefacts of one experiment to its plan, on demand, dependencies first."""

    def __init__(self, manager, step0: PlanStep, train_hash: str):
        self.manager, self.step0, self.train_hash = manager, step0, train_hash
        self.scenario = manager.scenario
        self.steps: dict[str, PlanStep] = {}
        # Labelled sets hold test and source; models and images shared across them do not.
        self.shared = {"seed": manager.seed, **manager.isolation()}
        self.base = {**self.shared, "test": manager.test_type,
                     "replay_source": manager.replay_source}

    def _add(self, name: str, kind: str, inputs: dict, step=None, depends=()) -> PlanStep:
        if name not in self.steps:
            inputs = {**inputs, "code": planning.recall_stage_code(
                kind, self.manager.code_in_keys)}
            self.steps[name] = PlanStep(name, kind, artifact_key(kind, inputs), inputs, step,
                                        tuple(depends))
        return self.steps[name]

    def step_of(self, cls: int) -> splits.Step:
        return next(s for s in self.scenario.steps if cls in s.new_classes)

    def labels(self, cls: int) -> PlanStep:
        """The pseudo-labelled replay set of class `cls`."""
        name = f"labels{cls}"
        if name in self.steps:
            return self.steps[name]
        images = self.images(cls)
        group = self.scenario.labeller_of(cls)
        labeller = self.step0 if group is None else self.helper(group)
        inputs = {**self.base, "class": cls, "images": images.key, "labeller": labeller.key,
                  "dataset_mean": self.manager.common["dataset_mean"],
                  "padded": self.manager.labelling_padded}
        return self._add(name, "replay_labels", inputs, self.step_of(cls),
                         (images.name, labeller.name))

    def images(self, cls: int) -> PlanStep:
        source, limit = self.manager.replay_source, self.manager.replay_images_per_class
        inputs = {**self.shared, "replay_source": source, "class": cls, "limit": limit}
        if source == "gan" and GanReplay().folder is not None:
            inputs.update(gan_manifest=web_fingerprint(GanReplay(), cls))
            depends = ()
        elif source == "gan":
            mapping = self.mapping(self.step_of(cls))
            gan = dataclasses.asdict(GanReplay())
            inputs.update(mapping=mapping.key,
                          generator=handle_fingerprint(gan["generator_handle"]),
                          gan={k: v for k, v in gan.items()
                               if "handle" not in k and k != "folder"})
            depends = (mapping.name,)
        else:
            web = WebReplay()
            inputs.update(web_manifest=web_fingerprint(web, cls))
            depends = ()
        return self._add(f"images{cls}", "replay_images", inputs, self.step_of(cls), depends)

    def mapping(self, step: splits.Step) -> PlanStep:
        gan = GanReplay()
        inputs = {**self.shared, "classes": list(step.new_classes), "setup": step.setup,
                  "train_data": self.train_hash, "overrides": [list(o) for o in gan.overrides],
                  "classifier": handle_fingerprint(gan.classifier_handle),
                  "batch_size": gan.mapper_batch_size}
        mapper = gin.get_bindings("map_classes")  # image_size, background_slot
        if mapper:  # keys of runs without these bindings stay as they were
            inputs["mapper"] = mapper
        return self._add(f"map{step.index}", "class_mapping", inputs, step)

    def helper(self, group: tuple[int, ...]) -> PlanStep:
        values = self.manager.helper_values
        owner = self.step_of(group[0])
        # A one-class helper trains on the images its step uses with its class as the only
        # new one: the step's other classes may be present (the original's per-class files).
        others = tuple(c for c in owner.new_classes if c not in group)
        step = dataclasses.replace(owner, new_classes=tuple(group),
                                   old_classes=owner.old_classes + others,
                                   setup=values["setup"])
        inputs = {**self.shared, "encoder": self.step0.key, "classes": list(group),
                  "stage": values, "train_data": self.train_hash,
                  "common": self.manager.common, "model": self.manager.model_values()}
        if others:  # one-class helpers: the step's other classes are allowed in its images
            inputs["step_classes"] = list(owner.new_classes)
        label = f"{group[0]}-{group[-1]}" if len(group) > 1 else f"{group[0]}"
        return self._add(f"helper{label}", "helper_decoder", inputs, step, (self.step0.name,))
