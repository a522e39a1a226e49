"""Data-parallel train steps of the stream methods: the one place that knows about replicas.

A method captures the strategy it was built under (`StreamMethod.build` runs inside
`strategy.scope()`) and compiles its step as: everything keyed by the whole batch (stateless
augmentation, cutmix, the learning rate) on the global batch, then `run_split`, which hands
each replica its contiguous slice of the global batch's rows, runs the method's replica step
there and sums its outputs across replicas. A replica step computes its loss with
`global_mean`: its rows' sum divided by the global row count, so the replicas' losses add up to
the one-device mean and the optimiser's all-reduce (a sum, as in RECALL's segmentation step)
gives the one-device gradient. BN layers built in the scope synchronise their statistics
(`continual/models/batch_norm.py`); buffers are read and written outside the replica context
(the loop's sampling, the hooks), so every decision is taken once.

With one replica none of this runs: `run_split` calls the replica step on the whole batch and
`global_mean` is `tf.reduce_mean`, the ops of the single-device step as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

SUM = tf.distribute.ReduceOp.SUM


def captured_strategy() -> tf.distribute.Strategy:
    """The strategy in scope now (call in `build`, which runs in the experiment's scope)."""
    return tf.distribute.get_strategy()


def replicas(strategy: tf.distribute.Strategy) -> int:
    return int(strategy.num_replicas_in_sync)


def run_split(strategy: tf.distribute.Strategy, replica_step: Callable[..., dict],
              rows: Sequence[tf.Tensor], shared: Sequence = (),
              per_row: Sequence[str] = ()) -> dict:
    """`replica_step(*local_rows, *shared)` on every replica, each `rows` tensor cut to the
    replica's slice of its first axis; returns the outputs summed across replicas (so each must
    be a replica's share of a global value, e.g. a `global_mean`), except those named in
    `per_row`: per-row values, put back together in the global batch's order. Call inside a
    tf.function."""
    if replicas(strategy) == 1:
        return replica_step(*rows, *shared)
    count = len(rows)

    def on_replica(*args):
        local = [_local_rows(tensor) for tensor in args[:count]]
        return replica_step(*local, *args[count:])

    outputs = strategy.run(on_replica, args=(*rows, *shared))
    return {name: (strategy.gather(value, axis=0) if name in per_row
                   else strategy.reduce(SUM, value, axis=None))
            for name, value in outputs.items()}


def _local_rows(tensor: tf.Tensor) -> tf.Tensor:
    """This replica's rows [i * B // n, (i + 1) * B // n) of a global batch of B rows."""
    context = tf.distribute.get_replica_context()
    index = tf.cast(context.replica_id_in_sync_group, tf.int32)
    total = tf.shape(tensor)[0]
    count = context.num_replicas_in_sync
    return tensor[index * total // count:(index + 1) * total // count]


def global_mean(values: tf.Tensor) -> tf.Tensor:
    """The mean of per-row `values` over the global batch, as this replica's share (the shares
    of all replicas add up to the mean); `tf.reduce_mean(values)` on one replica."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tf.reduce_mean(values)
    rows = tf.cast(tf.size(values), values.dtype)
    return tf.reduce_sum(values) / context.all_reduce(SUM, rows)


def global_column_mean(values: tf.Tensor) -> tf.Tensor:
    """The mean of `values` [rows, ...] over the rows of the global batch, the same on every
    replica (e.g. the centre of a batch-wide covariance); `tf.reduce_mean(values, axis=0)` on
    one replica."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tf.reduce_mean(values, axis=0)
    rows = tf.cast(tf.shape(values)[0], values.dtype)
    total, count = context.all_reduce(SUM, [tf.reduce_sum(values, axis=0), rows])
    return total / count


def global_ratio(total: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """`total / max(count, 1)` over the global batch, as this replica's share: this replica's
    sum of some rows' values over the count of those rows on all replicas (e.g. a loss
    averaged over the rows of a mask); the expression itself on one replica."""
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        count = context.all_reduce(SUM, count)
    return total / tf.maximum(count, 1.0)


def summed_across_replicas(values: list[tf.Tensor]) -> list[tf.Tensor]:
    """Each replica's `values` summed over all replicas (the gradient the optimiser applied,
    for a method that measures it); the values themselves on one replica."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return list(values)
    return context.all_reduce(SUM, list(values))


def gathered_rows(tensor: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(every replica's rows of `tensor`, in the global batch's order; the index of this
    replica's first row among them), for a loss over pairs of rows (contrastive losses).
    Gradients flow back to the replica that holds each row. (`tensor`, 0) on one replica."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tensor, tf.constant(0)
    everyone = context.all_gather(tensor, axis=0)
    counts = context.all_gather(tf.shape(tensor)[:1], axis=0)
    first = tf.reduce_sum(counts[:tf.cast(context.replica_id_in_sync_group, tf.int32)])
    return everyone, first


def gathered_halves(tensor: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """For this replica's rows [x1; x2] of two views (equal halves): (the whole batch's rows
    [X1; X2], every replica's halves gathered in the global batch's order; the index of each of
    this replica's rows in it), for a loss that pairs each row with every row of both views
    (SimCLR's NT-Xent, Kaizen's contrastive distiller). Gradients flow back to the replica that
    holds each row. (`tensor`, 0 .. rows - 1) on one replica."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tensor, tf.range(tf.shape(tensor)[0])
    half = tf.shape(tensor)[0] // 2
    first_view, first = gathered_rows(tensor[:half])
    second_view, _ = gathered_rows(tensor[half:])
    mine = tf.cast(first, tf.int32) + tf.range(half)
    index = tf.concat([mine, mine + tf.shape(first_view)[0]], axis=0)
    return tf.concat([first_view, second_view], axis=0), index


def step_variable(initial_value, name: str) -> tf.Variable:
    """A variable that a replica step writes with a value every replica computes alike (a
    statistic of the applied gradient): mirrored from the first replica's write."""
    return tf.Variable(initial_value, trainable=False, name=name,
                       aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)


def replica_share(value: tf.Tensor) -> tf.Tensor:
    """A per-step term computed alike on every replica (a weight penalty), divided so the
    replicas' copies add up to it once; the term itself on one replica."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return value / context.num_replicas_in_sync


def refusal(method_cls, strategy: tf.distribute.Strategy) -> str | None:
    """Why `method_cls` cannot train under `strategy` (None: it can). A method trains
    data-parallel only when its own class declares `data_parallel = True` (a subclass that
    changes the step declares it again, after its step goes through `run_split`)."""
    if replicas(strategy) == 1 or vars(method_cls).get("data_parallel", False):
        return None
    return (f"method {method_cls.__name__} runs on one device only: its train step does not "
            f"split the batch across the {replicas(strategy)} replicas of make_strategy.name "
            "= 'mirrored'; bind make_strategy.name = 'default' for it (or shard the suite "
            "with --shard to use the other devices)")
