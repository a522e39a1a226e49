"""Uncertainty-guided memory (SSLAD Track 3A; the original's `UncertaintySampler` and `RMSampler` in
`modules.py`).

Online: after each step the stream batch is scored from the model's inference-mode logits, score_i =
H(softmax(z_i)) + wrong_penalty * 1[argmax z_i != y_i] with H computed by `xlogy` (0 log 0 = 0, so a
saturated softmax scores 0, never NaN as in the original's `scoring.py`), and the `per_step` lowest
scores (`keep='most_certain'`, the shipped rule, although its option is called negative mining) or
highest (`'most_uncertain'`) enter the free slots; nothing enters a full memory. Their logits are
stored: the soft-label targets.

Sweep: the method measures each item's uncertainty (votes under perturbations) and hands it to
`sweep`, which keeps the `keep_size` most uncertain items. Ties, frequent with a few discrete vote
levels, are broken by a seeded permutation followed by a stable sort (the original's pandas sort is
unstable), so the kept set is reproducible. Kept items keep their slot order, logits and insertion
step (the original's sweep overwrote logits with its last perturbed pass).
"""

from __future__ import annotations

import gin
import tensorflow as tf

from continual import planning
from continual.replay.buffers.policies.base import BufferPolicy, write_decisions
from continual.replay.buffers.storage import BufferStorage

KEEP = ("most_certain", "most_uncertain")


def prediction_scores(logits: tf.Tensor, labels: tf.Tensor, wrong_penalty: float) -> tf.Tensor:
    """float32 [B]: entropy of softmax(logits) (xlogy) + wrong_penalty where argmax != label."""
    probabilities = tf.nn.softmax(tf.cast(logits, tf.float32))
    entropy = -tf.reduce_sum(tf.math.xlogy(probabilities, probabilities), axis=-1)
    wrong = tf.not_equal(tf.argmax(logits, axis=-1, output_type=tf.int32),
                         tf.cast(labels, tf.int32))
    return entropy + wrong_penalty * tf.cast(wrong, tf.float32)


def seeded_stable_order(values: tf.Tensor, seed: tf.Tensor, descending: bool) -> tf.Tensor:
    """int32 positions of `values` sorted (stable) after a seeded permutation: equal values
    come out in a random order that depends only on `seed` (a [2] int64 tensor)."""
    keys = tf.random.stateless_uniform(tf.shape(values), seed=seed)
    shuffled = tf.argsort(keys, stable=True)
    ordered = tf.gather(values, shuffled)
    rank = tf.argsort(-ordered if descending else ordered, stable=True)
    return tf.gather(shuffled, rank)


@gin.configurable(denylist=["num_classes"])
class UncertaintyPolicy(BufferPolicy):
    """Online additions by prediction score; memory sweeps by measured uncertainty.

    Args:
      keep: 'most_certain' (lowest scores first, as shipped) or 'most_uncertain'.
      per_step: most items added per stream batch (the original's num_samples_per_batch).
      wrong_penalty: added to the score of a misclassified item (negative mining: 0.5).
    """

    def __init__(self, *, num_classes: int, keep: str = "most_certain", per_step: int = 5,
                 wrong_penalty: float = 0.5):
        super().__init__(num_classes=num_classes, name="uncertainty")
        self.keep = planning.check_choice("UncertaintyPolicy.keep", keep, KEEP)
        self.per_step = planning.check_int("UncertaintyPolicy.per_step", per_step, minimum=1)
        self.wrong_penalty = planning.check_float("UncertaintyPolicy.wrong_penalty",
                                                  wrong_penalty, positive=False)
        if self.wrong_penalty < 0:
            raise ValueError(f"UncertaintyPolicy.wrong_penalty = {wrong_penalty} must be >= 0; "
                             "fix the gin binding")

    def observe(self, storage: BufferStorage, ids, labels, step, seed, logits=None,
                features=None) -> None:
        if logits is None:
            raise ValueError("UncertaintyPolicy scores the stream from the model's logits: set "
                             "EpisodicBuffer.logits_dim to the number of classes and pass logits=")
        super().observe(storage, ids, labels, step, seed, logits, features)

    @tf.function(reduce_retracing=True)
    def _observe_graph(self, storage, ids, labels, step, seed, logits, features):
        scores = prediction_scores(logits, labels, self.wrong_penalty)
        order = seeded_stable_order(scores, tf.stack([seed, storage.seen]),
                                    descending=self.keep == "most_uncertain")
        room = tf.minimum(self.per_step, storage.capacity - storage.size)
        rank = tf.math.invert_permutation(order)
        slots = tf.where(rank < room, storage.size + rank, -1)
        write_decisions(storage, slots, ids, labels, step, logits, features)

    def sweep(self, storage: BufferStorage, uncertainty, keep_size: int, seed) -> None:
        """Keep the `keep_size` items with the highest `uncertainty` (float [size], by slot),
        in slot order; ties by a permutation keyed by `seed` ([2] ints)."""
        uncertainty = tf.convert_to_tensor(uncertainty, tf.float32)
        if int(uncertainty.shape[0]) != int(storage.size):
            raise ValueError(f"sweep: {uncertainty.shape[0]} uncertainties for "
                             f"{int(storage.size)} items in memory; pass one per item")
        order = seeded_stable_order(uncertainty, tf.cast(seed, tf.int64), descending=True)
        storage.keep(tf.sort(order[:keep_size]))
