"""`DynamicLossScale`: float16 loss scaling for our custom train steps, one scale per step.

Under `mixed_float16` small gradients underflow to zero in float16. The step multiplies its
float32 loss by a scale S before `tape.gradient`, then divides the gradients by S before the
optimiser sees them (so clipping, weight decay and LARS' trust ratio read true gradients). When
any gradient is not finite the whole step is skipped (no variable, slot or optimiser iteration
moves), S halves and `skipped_steps` counts it; after `growth_steps` finite steps in a row S
doubles. This is Keras' `LossScaleOptimizer` rule, kept outside the optimiser because one loss
feeds several optimisers in some methods (`ParameterGroups`), and because the finite test must
agree across replicas: here it is all-reduced before the decision, so replicas skip together.

Scale, growth counter and skipped count are variables: checkpoint the object with the model and
a resumed stage continues with the same scale. Under any other policy the object is disabled:
`scale_loss` returns the loss and `apply` applies the gradients unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

SCALED_POLICY = "mixed_float16"
# Keras' defaults. Not gin bindings: they would change float16 results without entering the
# artefact keys, which hold the precision policy only.
INITIAL_SCALE = 2.0 ** 15
GROWTH_STEPS = 2000


class DynamicLossScale(tf.Module):
    """Loss scale for one train step.

    Args:
      initial_scale: S at the first step.
      growth_steps: finite steps in a row after which S doubles.
      enabled: scale the loss; None = only under the `mixed_float16` global policy.
    """

    def __init__(self, initial_scale: float = INITIAL_SCALE, growth_steps: int = GROWTH_STEPS,
                 enabled: bool | None = None):
        super().__init__(name="loss_scale")
        if isinstance(initial_scale, bool) or not isinstance(initial_scale, int | float) \
                or initial_scale < 1:
            raise ValueError(f"DynamicLossScale(initial_scale={initial_scale!r}): the scale "
                             "must be a number >= 1")
        if isinstance(growth_steps, bool) or not isinstance(growth_steps, int) or growth_steps < 1:
            raise ValueError(f"DynamicLossScale(growth_steps={growth_steps!r}): must be an "
                             "integer >= 1")
        self.growth_steps = growth_steps
        if enabled is None:
            enabled = keras.mixed_precision.global_policy().name == SCALED_POLICY
        self.enabled = bool(enabled)
        first = float(initial_scale) if self.enabled else 1.0
        aggregation = tf.VariableAggregation.ONLY_FIRST_REPLICA
        self.scale = tf.Variable(first, dtype=tf.float32, trainable=False, name="scale",
                                 aggregation=aggregation)
        self.good_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="good_steps",
                                      aggregation=aggregation)
        self.skipped_steps = tf.Variable(0, dtype=tf.int64, trainable=False,
                                         name="skipped_steps", aggregation=aggregation)

    def scale_loss(self, loss: tf.Tensor) -> tf.Tensor:
        """loss * S (the loss itself when disabled); call inside the tape."""
        if not self.enabled:
            return loss
        return tf.cast(loss, tf.float32) * self.scale

    def unscale(self, grads: Sequence) -> list:
        """Gradients of the scaled loss divided by S (None stays None)."""
        if not self.enabled:
            return list(grads)
        inverse = 1.0 / self.scale
        return [None if g is None else g * tf.cast(inverse, g.dtype) for g in grads]

    def apply(self, grads: Sequence, apply_fn: Callable[[list], object]) -> tf.Tensor:
        """Unscale `grads` (of the scaled loss) and call `apply_fn(grads)` if all are finite
        on every replica; else skip it. Updates S; returns whether the step was applied."""
        if not self.enabled:
            apply_fn(list(grads))
            return tf.constant(True)
        grads = self.unscale(grads)
        finite = _finite_everywhere(grads)
        context = tf.distribute.get_replica_context()
        if context is None or tf.__internal__.distribute.strategy_supports_no_merge_call():
            self._apply_or_skip(finite, lambda: apply_fn(grads))
            return finite
        context.merge_call(self._apply_across_replicas, args=(finite, grads, apply_fn))
        return finite

    def _apply_across_replicas(self, strategy, finite, grads, apply_fn) -> None:
        # `finite` is all-reduced, so every replica holds the same value: take the first.
        # Each replica passed its own `apply_fn` (a per-replica value): call each with its grads.
        first = strategy.experimental_local_results(finite)[0]
        self._apply_or_skip(first, lambda: strategy.extended.call_for_each_replica(
            _call, args=(apply_fn, grads)))

    def _apply_or_skip(self, finite: tf.Tensor, apply: Callable[[], object]) -> None:
        def applied():
            apply()
            return tf.constant(True)

        done = tf.cond(finite, applied, lambda: tf.constant(False))
        with tf.control_dependencies([done]):
            self._update(finite)

    def _update(self, finite: tf.Tensor) -> None:
        grown = tf.equal(self.good_steps + 1, self.growth_steps)
        good = tf.where(finite & ~grown, self.good_steps + 1, tf.zeros_like(self.good_steps))
        factor = tf.where(finite, tf.where(grown, 2.0, 1.0), 0.5)
        self.scale.assign(tf.maximum(self.scale * factor, 1.0))
        self.good_steps.assign(good)
        self.skipped_steps.assign_add(tf.cast(~finite, tf.int64))

    def report(self) -> dict:
        """Scale and skipped steps for logs (empty when disabled)."""
        if not self.enabled:
            return {}
        return {"loss_scale": float(self.scale.numpy()),
                "skipped_steps": int(self.skipped_steps.numpy())}


def _call(apply_fn, grads):
    return apply_fn(grads)


def _finite_everywhere(grads: Sequence) -> tf.Tensor:
    """True when every gradient is finite on every replica of the current strategy."""
    checks = [tf.reduce_all(tf.math.is_finite(g)) for g in grads if g is not None]
    finite = tf.reduce_all(tf.stack(checks)) if checks else tf.constant(True)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return finite
    bad = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(~finite, tf.float32))
    return tf.equal(bad, 0.0)
