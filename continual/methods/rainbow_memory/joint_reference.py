"""Joint training from scratch at every experience: the reference model per task count.

With the `cumulative_joint` scenario (experience k = every train row of tasks 0..k), this
method re-initialises the classifier (the experiment seed's initial weights, as every stage
builds them) and clears the optimiser state before each experience, then trains as
`FineTuning` does (`epochs` offline passes, constant lr). Each evaluation k is thus a model
trained jointly on tasks 0..k only, the a*_k of Chaudhry et al.'s intransigence (ECCV 2018),
where a warm-started chain would carry what it learned on the earlier, smaller unions.
"""

from __future__ import annotations

import gin
import tensorflow as tf

from continual.bindings import passed_arguments
from continual.methods.baselines import FineTuning


@gin.configurable
class JointFromScratch(FineTuning):
    """Args: epochs (offline passes per experience; RM's joint: n_epoch), flip."""

    name = "joint_from_scratch"
    data_parallel = True

    def __init__(self, *, epochs: int = 1, flip: bool = False):
        super().__init__(**passed_arguments(
            type(self).__name__, "FineTuning", {"epochs": epochs, "flip": flip},
            fixed={"online": False}))

    def build(self, input_shape, num_classes, buffer, seed) -> None:
        super().build(input_shape, num_classes, buffer, seed)
        self._initial = [weight.numpy() for weight in self.model.weights]

    def begin_experience(self, experience, table) -> None:
        """Back to the initial weights, optimiser slots and step count cleared."""
        for weight, initial in zip(self.model.weights, self._initial, strict=True):
            weight.assign(initial)
        optimizer = self.optimizer
        for variable in [optimizer.iterations, *optimizer.momentums, *optimizer.started]:
            variable.assign(tf.zeros_like(variable))
