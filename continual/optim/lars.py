"""`LARS`: the layer-wise trust ratio of Kaizen / solo-learn (`utils/lars.py`) over torch SGD.

The original wraps torch.optim.SGD: before each SGD step it rewrites every gradient, then runs
SGD with weight decay switched off. Per variable p with gradient g and the current lr:

    if (p is not 1-D or not exclude_bias_n_norm) and ||p|| != 0 and ||g|| != 0:
        local = eta * ||p|| / (||g|| + weight_decay * ||p|| + eps)
        if clip_lr: local = min(local / lr, 1)
        g <- (g + weight_decay * p) * local
    otherwise g is left alone: no trust ratio and no weight decay at all

and then the torch SGD momentum step (`TorchSGDBase`, weight decay 0). So with exclude_bias_n_norm,
biases and BN parameters get neither LARS nor weight decay; and a variable whose weights or
gradient are all zero gets no weight decay either. Defaults are Kaizen's paper scripts
(`bash_files/*`): eta 0.02, clipping on, 1-D exclusion on, momentum 0.9, lr 1.0, wd 1e-5.
"""

from __future__ import annotations

import gin
import keras
from keras import ops

from continual.optim.sgd import TorchSGDBase


@keras.saving.register_keras_serializable(package="continual")
@gin.configurable
class LARS(TorchSGDBase):
    """LARS as Kaizen's `LARSWrapper(SGD(...), eta, clip, exclude_bias_n_norm)`.

    Args:
      eta: trust coefficient.
      clip_lr: clip the trust ratio at lr (local <- min(local / lr, 1)); the current lr is the
        schedule's value at this step, as in the original (it reads the group's lr).
      exclude_bias_n_norm: 1-D variables (biases, BN gamma / beta) skip LARS and weight decay.
      eps: added to the ratio's denominator.
      weight_decay: coupled, folded in before the trust ratio (see the module doc).
      Other arguments as `TorchSGDBase`.
    """

    def __init__(self, learning_rate=1.0, momentum: float = 0.9, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 1e-5, eta: float = 0.02,
                 clip_lr: bool = True, exclude_bias_n_norm: bool = True, eps: float = 1e-8,
                 **kwargs):
        if eta <= 0:
            raise ValueError(f"LARS.eta must be > 0, got {eta}.")
        if eps < 0:
            raise ValueError(f"LARS.eps must be >= 0, got {eps}.")
        super().__init__(learning_rate=learning_rate, momentum=momentum, dampening=dampening,
                         nesterov=nesterov, weight_decay=weight_decay, **kwargs)
        self.eta = float(eta)
        self.clip_lr = bool(clip_lr)
        self.exclude_bias_n_norm = bool(exclude_bias_n_norm)
        self.eps = float(eps)

    def regularised_gradient(self, gradient, variable, learning_rate):
        """(g + wd * p) * trust ratio where LARS applies; g unchanged elsewhere."""
        if self.exclude_bias_n_norm and len(variable.shape) == 1:
            return gradient
        wd = ops.cast(self.coupled_weight_decay, variable.dtype)
        param_norm = ops.sqrt(ops.sum(ops.square(variable)))
        grad_norm = ops.sqrt(ops.sum(ops.square(gradient)))
        local = self.eta * param_norm / (grad_norm + wd * param_norm + self.eps)
        if self.clip_lr:
            local = ops.minimum(ops.divide(local, learning_rate), 1.0)
        scaled = ops.multiply(ops.add(gradient, ops.multiply(wd, variable)), local)
        applies = ops.logical_and(ops.not_equal(param_norm, 0.0), ops.not_equal(grad_norm, 0.0))
        return ops.where(applies, scaled, gradient)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(eta=self.eta, clip_lr=self.clip_lr,
                      exclude_bias_n_norm=self.exclude_bias_n_norm, eps=self.eps)
        return config
