"""TensorBoard scalars: a thin wrapper over a tf.summary file writer.

TensorFlow 2.21 no longer depends on the `tensorboard` package, and `tf.summary.scalar` fails
without it. We write scalars with the core op `tf.summary.write` and the metadata TensorBoard's
scalar plugin expects (plugin "scalars", data class SCALAR), so the event files are the same
and logging works whether or not TensorBoard is installed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import tensorflow as tf

_SCALAR_METADATA = tf.compat.v1.SummaryMetadata(
    plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name="scalars"),
    data_class="DATA_CLASS_SCALAR",
)


class TensorBoardLogger:
    """Writes scalar summaries (loss, learning rate, throughput, eval metrics) under `logdir`.

    Use as a context manager or call `close()`; values that are None (an undefined metric,
    e.g. `miou_prev` at step 0) are skipped rather than written as 0.
    """

    def __init__(self, logdir: str | os.PathLike):
        self.logdir = os.fspath(logdir)
        self._writer = tf.summary.create_file_writer(self.logdir)

    def scalars(self, step: int, values: Mapping[str, float | None], prefix: str = "") -> None:
        """Log each value as `prefix/name` (or `name` without prefix) at `step`.

        A trailing slash on `prefix` is optional: 'eval' and 'eval/' give the same tags.
        """
        with self._writer.as_default():
            for name, value in values.items():
                if value is not None:
                    tag = f"{prefix.rstrip('/')}/{name}" if prefix else name
                    tf.summary.write(tag, tf.constant(float(value), tf.float32),
                                     step=int(step), metadata=_SCALAR_METADATA)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
