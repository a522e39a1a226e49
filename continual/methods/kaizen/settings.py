"""Checks of Kaizen's bindings, each error naming the binding and the fix (before training)."""

from __future__ import annotations

import gin

from continual import planning
from continual.methods.kaizen.ssl import check_ssl_settings
from continual.optim.lars import LARS

OWNER = "Kaizen"
WEIGHTS = ("feature_distill_weight", "classifier_distill_weight", "classifier_loss_weight")
POSITIVE = ("distill_temperature", "simclr_temperature", "learning_rate", "classifier_lr",
            "probe_lr", "warmup_start_lr")
SIZES = ("projection_dim", "projector_hidden", "predictor_hidden", "distill_hidden",
         "classifier_hidden")
FLAGS = ("replay", "distill_features", "distill_classifier", "online_probe",
         "probe_training_mode")
# The bindings that act from task 1 on only (replay, both distillations and their weights): the
# stream plan leaves them out of the keys of the initial state and of task 0.
LATER_TASKS_ONLY = tuple(f"{OWNER}.{name}" for name in (
    "replay", "distill_features", "distill_classifier", "feature_distill_weight",
    "classifier_distill_weight", "distill_temperature", "distiller"))
# LARS arguments that Kaizen passes per parameter group (so a LARS.* binding of them would be
# silently ignored): refused, naming Kaizen's own binding.
LARS_OWNED = {"learning_rate": "Kaizen.learning_rate (and classifier_lr, probe_lr)",
              "weight_decay": "Kaizen.weight_decay"}


def check_settings(values: dict) -> None:
    """Raise ValueError / TypeError for the first bad value in `values` (argument -> value)."""
    check_ssl_settings(values)
    epochs = planning.check_int(f"{OWNER}.epochs", values["epochs"], minimum=1)
    warmup = planning.check_int(f"{OWNER}.warmup_epochs", values["warmup_epochs"], minimum=0)
    if warmup >= epochs:
        raise ValueError(f"{OWNER}.warmup_epochs = {warmup} must be smaller than "
                         f"{OWNER}.epochs = {epochs}; lower the warm-up")
    for name in FLAGS:
        planning.check_bool(f"{OWNER}.{name}", values[name])
    for name in SIZES:
        planning.check_int(f"{OWNER}.{name}", values[name], minimum=1)
    for name in POSITIVE:
        planning.check_float(f"{OWNER}.{name}", values[name])
    for name in (*WEIGHTS, "weight_decay"):
        if planning.check_float(f"{OWNER}.{name}", values[name], positive=False) < 0:
            raise ValueError(f"{OWNER}.{name} = {values[name]} must be >= 0; fix the gin binding")
    _check_taus(values["tau_base"], values["tau_final"])
    teacher = values.get("teacher_checkpoint")
    if teacher is not None and (not isinstance(teacher, str) or not teacher):
        raise TypeError(f"{OWNER}.teacher_checkpoint = {teacher!r} must be None or the folder "
                        "that save_teacher wrote (a string)")
    _check_lars_bindings()


def _check_taus(base, final) -> None:
    for name, value in (("tau_base", base), ("tau_final", final)):
        value = planning.check_float(f"{OWNER}.{name}", value, positive=False)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{OWNER}.{name} = {value} must be in [0, 1]; BYOL uses 0.99 -> 1.0")
    if base > final:
        raise ValueError(f"{OWNER}.tau_base = {base} is above {OWNER}.tau_final = {final}: the "
                         "momentum is annealed upwards; swap them")


def _check_lars_bindings() -> None:
    bound = gin.get_bindings(LARS)
    for argument, owner in LARS_OWNED.items():
        if argument in bound:
            raise ValueError(f"LARS.{argument} is bound, but Kaizen sets it per parameter group; "
                             f"remove the binding and bind {owner}")
