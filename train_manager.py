"""TrainManager: one experiment as a plan of steps, each artefact keyed by its content.

`TrainManager.plan_kind` (a gin reference) says how the experiment is planned: RECALL's
segmentation plan (the default: `TrainManager(test_type, replay_source)` reads the original
RECALL binding names, `TrainManager.batch_size`, `TrainManager.lr_initial_value`, ...) or
`@StreamPlan` (scenario x method x buffer x evaluation, with its own `StreamPlan.*` bindings).
Either way the manager lists every stage of the experiment with the key of what it produces.
A key hashes exactly what the artefact depends on: the gin values of its stage, the keys of
its inputs, the data manifests, the seed. Experiments sharing a prefix therefore share
artefacts, and changing a value that affects step k changes the keys from step k on, and nothing
before it. This replaces RECALL's hand-bumped `parameters_*_index` numbers (accepted, ignored).
"""

from __future__ import annotations

import logging
from pathlib import Path

from continual import planning
from continual.artifacts import ArtifactStore, PlanStep
from continual.bindings import check_folder_name, check_seed, supplied_configurable
from continual.data import splits
from continual.data.pipeline import DEFAULT_MEAN_BGR
from continual.plans.segmentation import SegmentationPlan
from continual.plans.stream import StreamPlan  # noqa: F401 (gin: TrainManager.plan_kind = @StreamPlan)

log = logging.getLogger(__name__)

REPLAY_SOURCES = (None, "gan", "flickr")


@supplied_configurable(test_type="Suite.tests (or pass it: TrainManager(test_type=...))",
                       replay_source="Suite.sources (or pass it: TrainManager(replay_source=...))")
class TrainManager:
    """The plan of one experiment. Arguments are gin bindings; defaults are the paper's."""

    def __init__(self, test_type: str | None = None, replay_source: str | None = None, *,
                 plan_kind=None, test_name: str | None = None,
                 helper_decoders_one_class: bool = False,
                 base_folder_path: str = ".", validate: bool = True,
                 data_dir: str = "data/voc", checkpoint_dir: str = "checkpoints",
                 pretrained_encoder: str | None = "checkpoints/encoders/pretrained",
                 batch_size: int = 4, n_classes: int = 21,
                 dataset_mean: tuple = DEFAULT_MEAN_BGR, train_image_size: int = 321,
                 eval_pad_to: int | None = None, eval_batch_size: int = 1,
                 labelling_padded: bool = False,
                 momentum: float = 0.9, start_decay_step: int = 0, decay_power: float = 0.9,
                 l2_decay: float = 1e-4,
                 dataset_type_first_step: str = "sequential",
                 lr_initial_value: float = 5e-4, lr_final_value: float = 5e-6,
                 training_steps_per_class: int = 1000, decay_steps_per_class: int | None = None,
                 dataset_type_helpers: str | None = None,
                 lr_initial_value_helper: float = 2e-4, lr_final_value_helper: float = 2e-6,
                 training_steps_per_class_helper: int = 1000,
                 decay_steps_per_class_helper: int | None = None,
                 dataset_type_incremental: str = "sequential", mix_labels: bool = False,
                 lr_initial_value_incremental: float = 5e-4,
                 lr_final_value_incremental: float = 5e-6,
                 training_steps_per_class_incremental: int = 1000,
                 decay_steps_per_class_incremental: int | None = None,
                 interleave_ratio_old: int = 4, interleave_ratio_new: int = 4,
                 train_encoder_incremental: bool = False,
                 seed: int = 0, deterministic: bool | None = None, share_artifacts: bool = True,
                 code_in_keys: bool = True,
                 replay_images_per_class: int | None = None, mixed_precision: str | None = None,
                 parameters_common_index=None, parameters_fs_index=None,
                 parameters_helper_index=None, parameters_incremental_index=None):
        base = Path(base_folder_path)
        self.store = ArtifactStore(base / check_folder_name("TrainManager.checkpoint_dir",
                                                            checkpoint_dir))
        self.seed = check_seed("TrainManager.seed", seed)
        # None: op determinism on for stream plans (whose runs are bit-exact, DESIGN.md), off
        # for RECALL's segmentation plan; an explicit True / False is honoured either way.
        self.deterministic = (None if deterministic is None else
                              planning.check_bool("TrainManager.deterministic", deterministic))
        self.share_artifacts = planning.check_bool("TrainManager.share_artifacts", share_artifacts)
        # Keys hold the project code each stage computes with, less comments and docstrings
        # (continual/code_keys.py); False keys the code by Pipfile.lock only, for users who know
        # that their edits change no result.
        self.code_in_keys = planning.check_bool("TrainManager.code_in_keys", code_in_keys)
        # bfloat16 needs no loss scaling; float16 trains with a dynamic loss scale
        # (continual/optim/loss_scale.py), e.g. on GPUs without bfloat16.
        self.mixed_precision = planning.check_choice(
            "TrainManager.mixed_precision", mixed_precision,
            (None, "mixed_bfloat16", "mixed_float16"))
        self.base_folder = base
        if plan_kind is not None:  # another plan kind reads its own bindings
            if test_type is not None or replay_source is not None:
                raise ValueError(f"TrainManager.plan_kind = {plan_kind!r} plans a stream "
                                 f"experiment, but a RECALL test ({test_type!r}) or replay "
                                 f"source ({replay_source!r}) was given; list the experiment "
                                 "file on its own, not in a RECALL grid")
            self.test_type, self.replay_source, self.test_name = None, None, test_name
            self.planner = plan_kind(self)
            return
        if test_type is None:
            raise ValueError("a RECALL experiment needs a test type (e.g. '15-5'); set "
                             "Suite.tests, or set TrainManager.plan_kind = @StreamPlan for a "
                             "stream experiment")
        self.test_type = splits.resolve_test_type(test_type)
        if replay_source not in REPLAY_SOURCES:
            raise ValueError(f"unknown replay_source {replay_source!r}; expected one of "
                             f"{REPLAY_SOURCES} (None = no replay)")
        self.replay_source = replay_source
        self.test_name = test_name or self.test_type
        self.validate = planning.check_bool("TrainManager.validate", validate)
        self.labelling_padded = planning.check_bool("TrainManager.labelling_padded",
                                                    labelling_padded)
        self.train_encoder_incremental = planning.check_bool(
            "TrainManager.train_encoder_incremental", train_encoder_incremental)
        if any(v is not None for v in (parameters_common_index, parameters_fs_index,
                                       parameters_helper_index, parameters_incremental_index)):
            log.warning("TrainManager.parameters_*_index bindings are ignored: artefacts are "
                        "keyed by content, so nothing needs a hand-bumped index")
        for name, value in (("decay_steps_per_class", decay_steps_per_class),
                            ("decay_steps_per_class_helper", decay_steps_per_class_helper),
                            ("decay_steps_per_class_incremental",
                             decay_steps_per_class_incremental)):
            if value is not None:
                log.info("TrainManager.%s is accepted for compatibility; the poly horizon is "
                         "the stage's iteration count", name)
        self.data_dir = base / data_dir
        # The paper starts step 0 from ImageNet weights; random initialisation only when the
        # binding says None explicitly (the demo's tiny encoder does).
        self.pretrained_encoder = (str(base / pretrained_encoder)
                                   if pretrained_encoder is not None else None)
        if pretrained_encoder is None:
            log.warning("TrainManager.pretrained_encoder = None: step 0 starts from random "
                        "initialisation, not from the paper's ImageNet-pretrained encoder")
        self.common = planning.common_values(
            batch_size=batch_size, n_classes=n_classes, dataset_mean=dataset_mean,
            train_image_size=train_image_size, momentum=momentum, decay_power=decay_power,
            l2_decay=l2_decay, start_decay_step=start_decay_step,
            mixed_precision=mixed_precision)
        # None: every validation image at its own size (the original's protocol); an integer
        # pads to a fixed square (fixed shapes for XLA), which shifts SAME-padded feature grids.
        self.eval_values = {"pad_to": None if eval_pad_to is None else planning.check_int(
                                "TrainManager.eval_pad_to", eval_pad_to, minimum=1),
                            "batch_size": planning.check_int("TrainManager.eval_batch_size",
                                                             eval_batch_size, minimum=1)}
        first = splits.resolve_setup(dataset_type_first_step)
        self.scenario = splits.make_scenario(
            self.test_type, first, splits.resolve_setup(dataset_type_incremental),
            helper_decoders_one_class=planning.check_bool(
                "TrainManager.helper_decoders_one_class", helper_decoders_one_class))
        self.step0_values = planning.stage_values(
            "", lr_initial_value, lr_final_value, training_steps_per_class, setup=first)
        self.helper_values = planning.stage_values(
            "_helper", lr_initial_value_helper, lr_final_value_helper,
            training_steps_per_class_helper,
            setup=splits.resolve_setup(dataset_type_helpers or first))
        self.incremental_values = planning.stage_values(
            "_incremental", lr_initial_value_incremental, lr_final_value_incremental,
            training_steps_per_class_incremental, setup=self.scenario.incremental_setup)
        self.replay_images_per_class = replay_images_per_class
        self.incremental_values.update(planning.replay_values(
            interleave_ratio_old, interleave_ratio_new, mix_labels, replay_images_per_class,
            replay_source, self.scenario.incremental_setup))
        self.method = planning.method_name(self.test_type, replay_source,
                                          self.incremental_values)
        self.planner = SegmentationPlan(self)

    # ----------------------------------------------------------------------------------------
    @property
    def setup(self) -> str:
        return self.scenario.incremental_setup

    def isolation(self) -> dict:
        """With `share_artifacts = False` every key also holds the test name."""
        return {} if self.share_artifacts else {"isolated_to": self.test_name}

    @property
    def uses_replay(self) -> bool:
        return self.replay_source is not None and self.incremental_values["ratio_old"] > 0

    def model_values(self) -> dict:
        """The gin values that define the network."""
        return planning.model_bindings()

    def plan(self, data_hashes: dict[str, str]) -> list[PlanStep]:
        """Every stage of the experiment in run order (dependencies first), with its key.

        `data_hashes` maps each record set's name to its manifest's content hash.
        """
        return self.planner.steps(data_hashes)

    def describe(self) -> dict:
        """What the experiment is, for results tables and logs."""
        if not isinstance(self.planner, SegmentationPlan):
            return self.planner.describe()
        return {"test": self.test_type, "setup": self.setup, "method": self.method,
                "replay_source": self.replay_source, "test_name": self.test_name}

    def is_reused(self, plan_step: PlanStep) -> bool:
        return self.store.is_complete(plan_step.kind, plan_step.key)
