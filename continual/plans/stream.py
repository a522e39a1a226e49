"""The stream plan kind: scenario x method x buffer x evaluation (`TrainManager.plan_kind =
@StreamPlan`).

An experiment is a chain of stages: `stream_init` (the method's initial state, also evaluated
for forward transfer), then per experience `stream_experience` (the full training state after
it: weights, optimisers, buffer, policy state, global step) and `stream_evaluation` (one row of
the accuracy matrix). Each key hashes the gin bindings of every configurable the experiment
uses, the content of the files that bound path arguments name (`continual.key_files`), the
data's content hash, the experience's rows, the seed and the previous key, so two experiments
that share a prefix share its artefacts.
"""

from __future__ import annotations

import hashlib
import inspect
import logging

import gin
import keras

from continual import code_keys, key_files, planning, stages
from continual.artifacts import PlanStep, artifact_key

# The gin names a stream experiment binds: scenarios, buffers, models, the loop, the baselines.
# (A method in another file registers itself through an `import` line of its .gin file.)
from continual.data import scenarios  # noqa: F401, E402
from continual.data.classification import require_classification
from continual.data.manifest import Manifest
from continual.data.shards import open_record_set
from continual.loop.experience import ExperienceLoop
from continual.loop.linear_probe import LinearProbe
from continual.methods import baselines  # noqa: F401, E402
from continual.methods.base import StreamMethod
from continual.plans import epoch_accuracy, stream_missing, stream_stages  # stream_stages: stages
from continual.plans.test_coverage import check_test_coverage
from continual.replay import buffers  # noqa: F401, E402

log = logging.getLogger(__name__)

# Configurables whose values never change what a stream stage computes: the runner, the
# locks, data generation, reporting; sync_batch_norm, which one replica ignores (see
# continual/models/batch_norm.py); input_memory_budget, which picks whether a set is read from
# memory or from its shards (the same rows either way). Of the others, the keys hold those the
# experiment calls while it is planned (gin's operative config: see `StreamPlan.configurables`).
NOT_IN_KEYS = (*planning.RUNNER_CONFIGURABLES, "StreamPlan", "sync_batch_norm",
               "input_memory_budget")
# Configurables only an evaluation stage reads: keyed into those stages, not the model's.
EVALUATION_ONLY = ("LinearProbe",)


def _configurable_name(value) -> str:
    """The gin name of a configurable given by reference (`@class_incremental`)."""
    if value is None:
        return "None"
    name = getattr(value, "__name__", None)
    if name is None:
        raise TypeError(f"expected a gin reference such as @class_incremental, got {value!r}")
    return name


@gin.configurable(denylist=["manager"])
class StreamPlan:
    """Bindings: `StreamPlan.data_dir` (a classification record set with `train` and `test`),
    `StreamPlan.scenario` (@class_incremental, @blurry, ...), `StreamPlan.method` (@FineTuning,
    @ExperienceReplay, ...), `StreamPlan.buffer` (@EpisodicBuffer or None), `StreamPlan.name`
    (how tables name the method), `StreamPlan.joint_experiment` (the suite experiment whose
    accuracies intransigence is measured against; None = not measured),
    `StreamPlan.evaluation_kind` (the stage kind of each evaluation: 'stream_evaluation', or
    'linear_probe' for self-supervised methods, registered by `continual.plans.probe_stage`),
    `StreamPlan.probe_split` (the split of data_dir the linear probe trains on; None: the
    train split, with a warning that it overlaps the stream),
    `StreamPlan.random_init_evaluation` (the stage kind of the random-initialisation evaluation,
    the FWT baseline b: None = evaluation_kind; 'linear_probe' = a linear probe on the random
    backbone, CaSSLe's b_j for self-supervised methods),
    `StreamPlan.top_k` (None, or k in 1..classes: each evaluation also reports
    `top_k_accuracy`, and the summary A_last / A_avg over it, as RM's `--topk`),
    `StreamPlan.accuracy_rule` ('last_epoch', the default; 'best_epoch': the test rows are
    also evaluated after every epoch of each experience's last phase and the summary adds
    A_last / A_avg by best epoch, selected on the test set as RM reports them: see
    `continual.plans.epoch_accuracy`)."""

    kind = "stream"
    evaluation_kinds = ("stream_evaluation",)
    generation_kinds = ()  # stages that compute data without training (see --dry_run)
    EVALUATIONS = ("stream_evaluation", "linear_probe")

    def __init__(self, manager, *, data_dir: str = "data/stream", train_split: str = "train",
                 test_split: str = "test", scenario=None, method=None, buffer=None,
                 name: str | None = None, joint_experiment: str | None = None,
                 evaluate_random_init: bool = True, eval_batch_size: int = 256,
                 evaluation_kind: str = "stream_evaluation", probe_split: str | None = None,
                 random_init_evaluation: str | None = None, top_k: int | None = None,
                 accuracy_rule: str = "last_epoch"):
        if scenario is None or method is None:
            raise ValueError("a stream experiment needs StreamPlan.scenario (e.g. "
                             "@class_incremental) and StreamPlan.method (e.g. @FineTuning)")
        _check_references(scenario, method, buffer)
        self.manager = manager
        self.data_dir = manager.base_folder / data_dir
        self.splits = {"train": train_split, "test": test_split}
        if probe_split is not None:  # the linear probe's labelled data (default: train_split)
            self.splits["probe"] = probe_split
        self.scenario_fn, self.method_cls, self.buffer_cls = scenario, method, buffer
        self.method_name = name or _configurable_name(method)
        _check_precision(manager.mixed_precision, method)
        self.joint_experiment = joint_experiment
        self.evaluate_random_init = planning.check_bool("StreamPlan.evaluate_random_init",
                                                        evaluate_random_init)
        self.eval_batch_size = planning.check_int("StreamPlan.eval_batch_size",
                                                  eval_batch_size, minimum=1)
        if evaluation_kind not in self.EVALUATIONS:
            raise ValueError(f"StreamPlan.evaluation_kind = {evaluation_kind!r} is not an "
                             "evaluation stage; use 'stream_evaluation' or 'linear_probe'")
        init_kind = evaluation_kind if random_init_evaluation is None else random_init_evaluation
        if init_kind not in self.EVALUATIONS:
            raise ValueError(f"StreamPlan.random_init_evaluation = {init_kind!r} is not an "
                             "evaluation stage; use None, 'stream_evaluation' or 'linear_probe'")
        # the kind of every evaluation after an experience first, then the random-init one's
        self.evaluation_kinds = tuple(dict.fromkeys((evaluation_kind, init_kind)))
        self._scenario = None
        self.top_k = None if top_k is None else planning.check_int("StreamPlan.top_k", top_k, 1)
        self.accuracy_rule = epoch_accuracy.check_rule(accuracy_rule)
        # content of every bound file binding (continual/key_files.py): a missing file is an
        # input error here, before any model is built
        self.bound_files = key_files.bound_file_fingerprints()

    # ----------------------------------------------------------------------------------------
    def record_sets(self) -> dict[str, Manifest]:
        missing = stream_missing.missing_splits(self.data_dir, self.splits)
        if missing:  # an error naming the converters; a dry run plans with placeholders
            sets = stream_missing.placeholders(missing, self.data_dir, self.splits)
            self.scenario = stream_missing.placeholder_scenario(
                self.scenario_fn, next(iter(sets.values())).content_hash)
            return sets
        sets = {}
        for role, split in self.splits.items():
            manifest = open_record_set(self.data_dir, split)
            sets[role] = require_classification(manifest, "StreamPlan.data_dir")
        train, test = sets["train"], sets["test"]
        if train.image_shape != test.image_shape or train.num_classes != test.num_classes:
            raise ValueError(f"StreamPlan.data_dir = {self.data_dir}: train is "
                             f"{train.image_shape} with {train.num_classes} classes but test is "
                             f"{test.image_shape} with {test.num_classes}; rebuild the set")
        if self.top_k is not None and self.top_k > train.num_classes:
            raise ValueError(f"StreamPlan.top_k = {self.top_k} is larger than the "
                             f"{train.num_classes} classes of {train.path}; use 1 .. "
                             f"{train.num_classes} (or None)")
        self.scenario = self.scenario_fn(train, test, self.manager.seed)
        check_test_coverage(self.scenario, test)
        if "linear_probe" in self.evaluation_kinds:
            from continual.plans.probe_data import check_probe_data
            check_probe_data(sets.get("probe", train), train, self.scenario)
            LinearProbe()  # checks its bindings (and the probe stages' keys hold them)
        ExperienceLoop()  # checks its bindings
        try:  # builds the method, its buffer and model once: every binding checked up front
            stream_stages.make_method(self, train.image_shape, train.num_classes,
                                      self.manager.seed)
        except ValueError as err:
            raise ValueError(f"{err} (data: {train.path}, {train.num_classes} classes, images "
                             f"{list(train.image_shape)})") from err
        keras.backend.clear_session()
        return sets

    @property
    def scenario(self):
        if self._scenario is None:
            raise RuntimeError("the scenario is cut when the record sets are opened")
        return self._scenario

    @scenario.setter
    def scenario(self, value) -> None:
        self._scenario = value

    def configurables(self) -> dict:
        """Values of the configurables this experiment uses, by configurable name (all but
        NOT_IN_KEYS and EVALUATION_ONLY): those gin has called once `record_sets` has cut the
        scenario and built the method, buffer, model and loop (their operative values), and
        the bound ones that a stage may call later (an augmentation, a view), found as those
        defined in a module the stages compute with. A binding of anything else (a scenario
        not used, the locks) changes no key."""
        operative = planning.operative_sections()
        modules = set(code_keys.closure({*self.code_roots(), *self.stage_modules()}))
        later = {name: text for name, text in planning.gin_sections().items()
                 if name not in operative and planning.configurable_module(name) in modules}
        return {name: text for name, text in sorted({**operative, **later}.items())
                if name.rpartition(".")[2] not in (*NOT_IN_KEYS, *EVALUATION_ONLY)}

    def evaluation_configurables(self) -> dict:
        """Values of the configurables only the evaluation stages read (the linear probe's)."""
        return {name: text for name, text in planning.operative_sections().items()
                if name.rpartition(".")[2] in EVALUATION_ONLY}

    def stage_modules(self) -> set[str]:
        kinds = ("stream_init", "stream_experience", *self.evaluation_kinds)
        return {stages.stage_module(kind) for kind in kinds}

    def code_roots(self) -> set[str]:
        """The modules whose code the stages compute with, besides the stages' own: those of
        the configurables the experiment uses (method, buffer, policies, model, optimiser...)."""
        return planning.operative_modules(NOT_IN_KEYS)

    def check_keyed_bindings(self, plan_step: PlanStep) -> None:
        """After a stage ran: every bound configurable it called was in the keys. A binding
        read only while training would otherwise change results without changing a key."""
        keyed = set(self.keyed_names)
        bound = {n for n in planning.gin_sections() if n.rpartition(".")[2] not in NOT_IN_KEYS}
        missed = sorted((set(planning.operative_sections()) & bound) - keyed)
        if missed:
            raise RuntimeError(f"stage {plan_step.name} ({plan_step.kind}) read the bindings of "
                               f"{missed}, which its key does not hold: the plan must build "
                               "them while planning (StreamPlan.record_sets); nothing was "
                               "marked complete")

    def steps(self, data_hashes: dict[str, str]) -> list[PlanStep]:
        self.probe_hash = data_hashes.get("probe")  # the probe split's, keyed into each probe
        bindings, self.evaluation_values = self.configurables(), self.evaluation_configurables()
        self.keyed_names = (*bindings, *self.evaluation_values)
        self.code = {kind: stages.stage_code(kind, self.code_roots(), self.manager.code_in_keys)
                     for kind in ("stream_init", "stream_experience", *self.evaluation_kinds)}
        base = {"bindings": bindings, "seed": self.manager.seed,
                "train_data": data_hashes["train"], "test_data": data_hashes["test"],
                "scenario": self.scenario.name,
                "scenario_params": self.scenario.params,
                "method": _configurable_name(self.method_cls),
                "buffer": _configurable_name(self.buffer_cls), **self._isolation(),
                **self._precision(), **self._rule_input(), **self._file_contents()}
        first = self._first_experience_inputs(base)
        init = self._step("init", "stream_init", {**first}, None, ())
        steps, previous = [init], init
        if self.evaluate_random_init:
            steps.append(self._eval(init, None, data_hashes["test"]))
        for position, experience in enumerate(self.scenario.experiences):
            inputs = {**(first if position == 0 else base), "experience": experience.index,
                      "rows": _rows_hash(experience.train_ids), "previous": previous.key}
            model = self._step(f"exp{experience.index}", "stream_experience", inputs,
                               experience, (previous.name,))
            steps += [model, self._eval(model, experience, data_hashes["test"])]
            previous = model
        return steps

    def _first_experience_inputs(self, base: dict) -> dict:
        """The inputs of the initial state and the first experience: `base` less the bindings
        that the method declares cannot change them (`first_experience_invariant`), so that
        experiments differing only in those share the artefacts; later keys keep them."""
        left_out = sorted(getattr(self.method_cls, "first_experience_invariant", ()))
        if not left_out:
            return base
        return {**base, "bindings": _without_bindings(base["bindings"], left_out),
                "left_out": left_out}

    def _step(self, name, kind, inputs, experience, depends) -> PlanStep:
        inputs = {**inputs, "code": self.code[kind]}
        return PlanStep(name, kind, artifact_key(kind, inputs), inputs, experience, depends)

    def _eval(self, model: PlanStep, experience, test_hash: str) -> PlanStep:
        index = -1 if experience is None else experience.index
        inputs = {"model": model.key, "test_data": test_hash, "experience": index,
                  "task_rows": [_rows_hash(t) for t in self.scenario.task_test_ids],
                  "eval_rows": _rows_hash(experience.eval_ids) if experience else None,
                  "batch_size": self.eval_batch_size, **self._isolation(),
                  **({} if self.top_k is None else {"top_k": self.top_k}),
                  **({"probe_data": self.probe_hash} if "probe" in self.splits else {})}
        name = "eval_init" if experience is None else f"eval{index}"
        kind = self.evaluation_kinds[-1] if experience is None else self.evaluation_kinds[0]
        if kind == "linear_probe":
            inputs["probe"] = self.evaluation_values
        return self._step(name, kind, inputs, experience, (model.name,))

    def _rule_input(self) -> dict:
        """The best-epoch rule, when set: its experience stages also store per-epoch test
        accuracies (last-epoch keys stay as they were)."""
        return {} if self.accuracy_rule == "last_epoch" else {"accuracy_rule": "best_epoch"}

    def _file_contents(self) -> dict:
        """sha256 of the files of every bound file binding (`continual.key_files`, e.g.
        Kaizen.teacher_checkpoint, resnet50d_backbone.imagenet_weights), so a file changed at
        the same path changes every key. None adds nothing: keys without such files stay as
        they were (and keep the name 'method_files' they were first keyed under)."""
        return {"method_files": self.bound_files} if self.bound_files else {}

    def _precision(self) -> dict:
        """The mixed-precision policy, when one is set (float32 keys stay as they were)."""
        policy = self.manager.mixed_precision
        return {} if policy is None else {"mixed_precision": policy}

    def _isolation(self) -> dict:
        return {} if self.manager.share_artifacts else {"isolated_to": self.manager.test_name}

    def model_summary(self) -> str:
        return self.method_name

    def check_inputs(self, steps: list[PlanStep]) -> None:
        """Nothing beyond what opening the record sets checks (every binding, up front)."""

    def describe(self) -> dict:
        return {"plan_kind": "stream", "method": self.method_name,
                "scenario": self._scenario.name if self._scenario else None,
                **({"joint_experiment": self.joint_experiment} if self.joint_experiment else {}),
                **_a_avg_rule(self.method_cls),
                **epoch_accuracy.rule_label(self.accuracy_rule, self.method_cls)}

    def metrics_record(self, plan_step: PlanStep, plan: dict) -> dict:
        store = self.manager.store
        metrics = store.info(plan_step.kind, plan_step.key)["metrics"]
        model_step = plan[plan_step.depends[0]]
        train_info = store.info(model_step.kind, model_step.key)
        index = -1 if plan_step.step is None else plan_step.step.index
        accuracy = metrics.get("accuracy")
        speed = planning.finite(train_info.get("images_per_sec"))
        log.info("%s after experience %d: accuracy %s | trained at %s images/s",
                 self.method_name, index, "-" if accuracy is None else f"{100 * accuracy:.1f}",
                 "-" if speed is None else f"{speed:.1f}")
        return {**self.describe(), "experience": index,
                "num_experiences": len(self.scenario.experiences), "eval_key": plan_step.key,
                "model_key": model_step.key, "stream_fraction": self._stream_fraction(index),
                "images_per_sec": planning.finite(train_info.get("images_per_sec")), **metrics,
                **(epoch_accuracy.best_epoch_values(train_info, metrics)
                   if self.accuracy_rule == "best_epoch" and index >= 0 else {})}

    def _stream_fraction(self, index: int) -> float:
        """Fraction of the stream's train records fed once experience `index` is done (0.0
        for the initial state): where a probe stands in the stream (25 / 50 / 75 / 100 %)."""
        sizes = [len(e.train_ids) for e in self.scenario.experiences]
        return sum(sizes[: index + 1]) / max(sum(sizes), 1)

    def board_step(self, plan_step: PlanStep) -> int:
        return -1 if plan_step.step is None else plan_step.step.index


def _a_avg_rule(method) -> dict:
    """{'a_avg_rule': ...} for a method that reports RM's A_avg (class attribute `a_avg_rule`,
    e.g. 'last epoch'), so the summary shows the a_avg column labelled with it; else {}."""
    rule = getattr(method, "a_avg_rule", None)
    return {"a_avg_rule": rule} if rule else {}


def _check_references(scenario, method, buffer) -> None:
    """The scenario a function, the method a StreamMethod class, the buffer a buffer class (or
    None): each given by reference, so a string or a swapped reference is named here."""
    def refuse(binding: str, value, what: str, example: str) -> None:
        given = f"the string {value!r}" if isinstance(value, str) else f"{value!r}"
        raise ValueError(f"StreamPlan.{binding} is {given}, not {what}; bind it by "
                         f"reference, e.g. StreamPlan.{binding} = {example}")
    if not inspect.isfunction(scenario):
        refuse("scenario", scenario, "a scenario function", "@class_incremental")
    if not (inspect.isclass(method) and issubclass(method, StreamMethod)):
        refuse("method", method, "a stream method class", "@FineTuning")
    if buffer is not None and not (inspect.isclass(buffer) and hasattr(buffer, "sample")
                                   and not issubclass(buffer, StreamMethod)):
        refuse("buffer", buffer, "a buffer class", "@EpisodicBuffer (or None)")


def _check_precision(policy: str | None, method) -> None:
    """Refuse float16 for a method whose train step does not scale its loss."""
    if policy == "mixed_float16" and not getattr(method, "supports_loss_scaling", False):
        raise ValueError(f"TrainManager.mixed_precision = 'mixed_float16' needs loss scaling, "
                         f"which StreamPlan.method = @{_configurable_name(method)} does not do "
                         "yet; use 'mixed_bfloat16' or None")


def _without_bindings(sections: dict[str, str], names: list[str]) -> dict[str, str]:
    """`sections` (gin text by configurable) without the bindings `Configurable.param` in
    `names` (a binding's continuation lines go with it); sections left empty are dropped."""
    kept = {}
    for configurable, text in sections.items():
        bindings = []
        for line in text.splitlines():
            if bindings and line[:1].isspace():
                bindings[-1].append(line)
            else:
                bindings.append([line])
        lines = [line for binding in bindings if _binding_name(binding[0]) not in names
                 for line in binding]
        if lines:
            kept[configurable] = "\n".join(lines)
    return kept


def _binding_name(line: str) -> str:
    """'Kaizen.replay' of 'Kaizen.replay = True' (scope and module prefixes dropped)."""
    target = line.partition("=")[0].strip().rpartition("/")[2]
    configurable, _, parameter = target.rpartition(".")
    return f"{configurable.rpartition('.')[2]}.{parameter}"


def _rows_hash(rows) -> str:
    return hashlib.sha256(",".join(str(int(r)) for r in rows).encode()).hexdigest()[:16]
