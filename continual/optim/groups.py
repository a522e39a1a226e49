"""Parameter groups for Keras: several optimisers, each owning its own variables, one step.

PyTorch gives each parameter group its own lr / weight decay inside one optimiser; Keras has no
groups. Kaizen needs five (encoder with projector, classifier, online probe, momentum classifier,
distillation predictor), SimSiam a predictor at a fixed lr. `ParameterGroups` holds
(variables, optimiser) pairs and routes every gradient to the optimiser of its variable, so one
compiled train step updates all groups.

Every group counts every step: a group that got no gradient in a step still advances its
`iterations`, so all groups' schedules stay on the same step (as torch's schedulers do, which
step every group whatever its gradients).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import keras
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class _Group:
    """One group's variables (kept out of checkpoint tracking: the model saves them)."""

    variables: tuple
    optimizer: keras.optimizers.Optimizer


class ParameterGroups(tf.Module):
    """Route gradients to per-group optimisers.

    Checkpoint it like an optimiser (`tf.train.Checkpoint(optimizer=groups)`): it tracks the
    optimisers (slots and iteration counters), not the model variables. The optimisers are
    built on their groups at construction (so construct it inside the strategy's scope), hence
    a checkpoint restores their slots at once.

    Args:
      groups: (variables, optimiser) pairs. A variable may be in one group only; an optimiser
        may serve one group only (merge the variable lists instead).
    """

    def __init__(self, groups: Sequence[tuple[Iterable, keras.optimizers.Optimizer]],
                 name: str = "parameter_groups"):
        super().__init__(name=name)
        built = [_Group(tuple(variables), optimizer) for variables, optimizer in groups]
        self._routes = _route_table(built)
        self._groups = built
        self.optimizers = [group.optimizer for group in built]
        for group in built:
            if not group.optimizer.built:
                group.optimizer.build(list(group.variables))

    def apply_gradients(self, grads_and_vars: Iterable[tuple]) -> None:
        """Apply (gradient, variable) pairs, each with its variable's group optimiser."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply(self, grads: Sequence, variables: Sequence) -> None:
        """Apply `grads[i]` to `variables[i]`; a None gradient leaves its variable untouched."""
        if len(grads) != len(variables):
            raise ValueError(f"ParameterGroups.apply got {len(grads)} gradients for "
                             f"{len(variables)} variables; pass one gradient per variable.")
        routed = [dict() for _ in self._groups]
        for grad, variable in zip(grads, variables, strict=True):
            key = _variable_key(variable)
            if key not in self._routes:
                raise ValueError(f"variable {_describe(variable)} is in no parameter group; add "
                                 "it to one of the (variables, optimiser) pairs.")
            if grad is not None:
                routed[self._routes[key]][key] = grad
        for group, by_key in zip(self._groups, routed, strict=True):
            _apply_group(group, by_key)

    def learning_rates(self) -> list:
        """Each group's current learning rate (its schedule at its own step)."""
        return [optimizer.learning_rate for optimizer in self.optimizers]


def _apply_group(group: _Group, grads_by_key: dict) -> None:
    """Apply one group's gradients in the group's own variable order."""
    present = [(grads_by_key[_variable_key(v)], v) for v in group.variables
               if _variable_key(v) in grads_by_key]
    if not present:
        group.optimizer.iterations.assign_add(1)
        return
    group.optimizer.apply([g for g, _ in present], [v for _, v in present])


def _route_table(groups: list[_Group]) -> dict[int, int]:
    """Map each variable to its group index; reject shared variables and shared optimisers."""
    routes: dict[int, int] = {}
    seen_optimizers: dict[int, int] = {}
    for index, group in enumerate(groups):
        if not group.variables:
            raise ValueError(f"parameter group {index} has no variables; drop the group or "
                             "give it its variables.")
        if id(group.optimizer) in seen_optimizers:
            raise ValueError(f"parameter groups {seen_optimizers[id(group.optimizer)]} and "
                             f"{index} share one optimiser; give each group its own optimiser "
                             "or merge their variable lists.")
        seen_optimizers[id(group.optimizer)] = index
        for variable in group.variables:
            key = _variable_key(variable)
            if key in routes:
                raise ValueError(f"variable {_describe(variable)} is in parameter groups "
                                 f"{routes[key]} and {index}; each variable belongs to one "
                                 "group.")
            routes[key] = index
    return routes


def _variable_key(variable) -> int:
    """Identity of a variable, the same for a Keras variable and the tf.Variable it holds."""
    if isinstance(variable, keras.Variable):
        variable = variable.value
    return id(variable)


def _describe(variable) -> str:
    return repr(str(getattr(variable, "path", None) or variable.name))
