"""`TorchSGD`: Keras SGD with exactly torch.optim.SGD's update, for parity with the originals.

Keras' SGD differs from PyTorch's in two ways that change results: its weight decay is
decoupled (PyTorch adds `wd * p` to the gradient, so the decay passes through momentum), and its
momentum buffer holds `lr * g` (PyTorch's holds `g`, and lr multiplies the step). The two agree only
at a constant lr; Rainbow Memory's warm restarts and Kaizen's warm-up cosine change lr every
epoch. Per variable p with gradient g, learning rate lr, this optimiser does:

    g <- g + weight_decay * p                          (coupled weight decay)
    b <- g on the first step, else momentum * b + (1 - dampening) * g
    g <- g + momentum * b if nesterov else b
    p <- p - lr * g
"""

from __future__ import annotations

import math

import gin
import keras
from keras import ops


class TorchSGDBase(keras.optimizers.Optimizer):
    """torch.optim.SGD in Keras 3 (TensorFlow backend): coupled weight decay, torch momentum.

    The base of `TorchSGD` and `LARS`; not gin-configurable itself, so that bindings of one
    optimiser never leak into the other through `super().__init__`.

    Args:
      learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule` (evaluated
        at this optimiser's `iterations`).
      momentum, dampening, nesterov, weight_decay: as in torch.optim.SGD (defaults too).
      **kwargs: Keras' optimiser options (clipnorm, global_clipnorm, use_ema, name, ...).
        Keras' own decoupled `weight_decay` is replaced by the coupled one above.
    """

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, **kwargs):
        _check_sgd_settings(learning_rate, momentum, dampening, nesterov, weight_decay,
                            type(self).__name__)
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = float(momentum)
        self.dampening = float(dampening)
        self.nesterov = bool(nesterov)
        # Not `self.weight_decay`: the base class would apply that one again, decoupled.
        self.coupled_weight_decay = float(weight_decay)

    def build(self, variables):
        """Create one momentum buffer per variable (and a first-step flag when dampening)."""
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        self.started = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(variables, "momentum")
        if self.momentum != 0 and self.dampening != 0:
            # torch starts the buffer at g, not (1 - dampening) * g; only dampening tells apart.
            self.started = [self.add_variable((), name=f"{_short_name(v)}_started")
                            for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        """One torch SGD step of `variable`."""
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = self.regularised_gradient(ops.cast(gradient, variable.dtype), variable,
                                             learning_rate)
        if self.momentum != 0:
            gradient = self._momentum_direction(gradient, variable)
        self.assign_sub(variable, ops.multiply(learning_rate, gradient))

    def regularised_gradient(self, gradient, variable, learning_rate):
        """The gradient the momentum sees: here g + wd * p (LARS overrides this)."""
        del learning_rate
        if self.coupled_weight_decay == 0:
            return gradient
        return ops.add(gradient, ops.multiply(self.coupled_weight_decay, variable))

    def _momentum_direction(self, gradient, variable):
        index = self._get_variable_index(variable)
        buffer = self.momentums[index]
        momentum = ops.cast(self.momentum, variable.dtype)
        update = ops.add(ops.multiply(momentum, buffer),
                         ops.multiply(1.0 - self.dampening, gradient))
        if self.started:
            flag = self.started[index]
            update = ops.where(ops.equal(flag, 0.0), gradient, update)
            self.assign(flag, ops.ones_like(flag))
        self.assign(buffer, update)
        if self.nesterov:
            return ops.add(gradient, ops.multiply(momentum, update))
        return update

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(momentum=self.momentum, dampening=self.dampening,
                      nesterov=self.nesterov, weight_decay=self.coupled_weight_decay)
        return config


def _check_sgd_settings(learning_rate, momentum, dampening, nesterov, weight_decay,
                        owner: str) -> None:
    """Raise the errors torch.optim.SGD raises, naming the gin binding."""
    if isinstance(learning_rate, int | float) and not 0 <= learning_rate < math.inf:
        raise ValueError(f"{owner}.learning_rate must be a finite number >= 0, got "
                         f"{learning_rate}; fix the gin binding.")
    if momentum < 0:
        raise ValueError(f"{owner}.momentum must be >= 0, got {momentum}.")
    if weight_decay < 0:
        raise ValueError(f"{owner}.weight_decay must be >= 0, got {weight_decay}.")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(f"{owner}.nesterov = True needs momentum > 0 and dampening = 0 "
                         f"(got momentum={momentum}, dampening={dampening}), as in torch.")


def _short_name(variable) -> str:
    return str(getattr(variable, "path", variable.name)).replace("/", "_")


@keras.saving.register_keras_serializable(package="continual")
@gin.configurable
class TorchSGD(TorchSGDBase):
    """torch.optim.SGD (see `TorchSGDBase`); bind its arguments in gin as `TorchSGD.momentum`."""
