"""RWalk as in RM's repository, with its path score working (Chaudhry et al. 2018; RM's
`methods/regularization.py`): reservoir replay + penalty reg_coef * (F + s) (theta - theta*)^2.

After every optimiser step, per parameter (all but the head's):
  s_step += -g * dtheta / (0.5 * F * dtheta^2 + epsilon)   (the path score of Chaudhry et al.;
            F is the Fisher before this step's update)
  F       = g^2 on the first step, then (1 - alpha) F + alpha g^2   (an EMA, alpha = 0.5)
with g the gradient the step applied and dtheta the change it made. At a task's end the score
is s_t = relu(s_step) (task 0) or (s_{t-1} + relu(s_step)) / 2 (Chaudhry et al.: negative
scores are set to zero; RM's code does not clip), the anchor's importance is F + s_t, and
s_step restarts at 0 (F carries on). With `normalize` (default), F and s_t each enter the
importance divided by their maximum over all regularised parameters, so both lie in [0, 1]
as in Chaudhry et al.'s code: unnormalised, the path score reached ~150 after one task of the
demo and 1e13 after two (the penalty then diverges at any usable reg_coef).
Deviations, documented: RM's code divides (g_new - g_old), and captures both after `zero_grad`, so
under PyTorch >= 2 neither F nor s is ever updated (its RWalk is plain reservoir replay); under
PyTorch < 2 its saved copies aliased the live tensors, so s ~ 0. Here the values are copied, and the
numerator is Chaudhry et al.'s -g * dtheta.
"""

from __future__ import annotations

import gin
import numpy as np
import tensorflow as tf

from continual import planning
from continual.methods import data_parallel
from continual.methods.rainbow_memory.importance import RegularizedReplay


def path_step(score, fisher, grad, delta, *, alpha: float, epsilon: float):
    """One step's (score, fisher) of one parameter: see the module doc (tensors)."""
    score = score - grad * delta / (0.5 * fisher * tf.square(delta) + epsilon)
    first = tf.reduce_all(tf.equal(fisher, 0.0))
    fisher = tf.where(first, tf.square(grad), (1.0 - alpha) * fisher + alpha * tf.square(grad))
    return score, fisher


@gin.configurable
class RWalk(RegularizedReplay):
    """Args (besides RegularizedReplay's): alpha, the Fisher EMA's weight (RM: 0.5); epsilon,
    the path score's damping (RM: 1e-3); normalize, scale F and s to [0, 1] (RM: no)."""

    name = "rwalk"
    data_parallel = True  # its path score reads the all-reduced gradient

    def __init__(self, *, alpha: float = 0.5, epsilon: float = 1e-3, normalize: bool = True,
                 **kwargs):
        self.normalize = planning.check_bool("RWalk.normalize", normalize)
        self.alpha = planning.check_float("RWalk.alpha", alpha)
        self.epsilon = planning.check_float("RWalk.epsilon", epsilon)
        if self.alpha > 1.0:
            raise ValueError(f"RWalk.alpha = {alpha} must be in (0, 1]; it weighs the newest "
                             "squared gradient in the Fisher EMA")
        super().__init__(**kwargs)

    def build(self, input_shape, num_classes, buffer, seed) -> None:
        super().build(input_shape, num_classes, buffer, seed)
        index = {id(v): i for i, v in enumerate(self.model.trainable_variables)}
        self._positions = [index[id(v)] for v in self.regularized]

        def zeros(name):
            return [data_parallel.step_variable(tf.zeros_like(v), name)
                    for v in self.regularized]

        self.path = tf.Module(name="rwalk_path")
        self.path.step_score = self.step_score = zeros("step_score")
        self.path.fisher = self.fisher = zeros("fisher")
        self.path.task_score = self.task_score = zeros("task_score")

    def trackables(self) -> dict:
        return {**super().trackables(), "rwalk": self.path}

    def apply_gradients(self, grads, variables) -> None:
        before = [tf.identity(v) for v in self.regularized]
        super().apply_gradients(grads, variables)
        applied = data_parallel.summed_across_replicas([grads[p] for p in self._positions])
        for k, grad in enumerate(applied):
            delta = tf.cast(self.regularized[k], tf.float32) - tf.cast(before[k], tf.float32)
            score, fisher = path_step(self.step_score[k], self.fisher[k],
                                      tf.cast(grad, tf.float32), delta,
                                      alpha=self.alpha, epsilon=self.epsilon)
            self.step_score[k].assign(score)
            self.fisher[k].assign(fisher)

    def task_importance(self, experience, table) -> list[np.ndarray]:
        first = int(self.anchors.tasks.numpy()) == 0
        scores = []
        for step_score, task_score in zip(self.step_score, self.task_score, strict=True):
            positive = np.maximum(step_score.numpy(), 0.0)
            score = positive if first else 0.5 * (task_score.numpy() + positive)
            task_score.assign(score)
            step_score.assign(tf.zeros_like(step_score))
            scores.append(score)
        fishers = [fisher.numpy() for fisher in self.fisher]
        if self.normalize:
            fishers, scores = _unit_scaled(fishers), _unit_scaled(scores)
        return [f + s for f, s in zip(fishers, scores, strict=True)]


def _unit_scaled(values: list[np.ndarray]) -> list[np.ndarray]:
    """Arrays divided by their largest entry over all of them (unchanged when it is 0)."""
    largest = max(float(np.max(v)) for v in values)
    return values if largest <= 0 else [v / largest for v in values]
