"""TensorBoard scalars: a thin wrapper over a tf.summary file writer.

TensorFlow 2.21 no longer depends on the `tensorboard` package, and `tf.summary.scalar` fails
without it. We write scalars with the core op `tf.summary.write` and the metadata TensorBoard's
scalar plugin expects (plugin "scalars", data class SCALAR), so the event files are the same
and logging works whether or not TensorBoard is installed.

TensorBoard reads a run's event files in the sorted order of their names. TensorFlow names a
file `events.out.tfevents.<seconds>.<host>.<pid>.<n>.v2`, with `n` a per-process counter that is
not zero-padded: files opened in the same second sort as `...10.v2` < `...2.v2`, and files of
two processes by pid, so the order TensorBoard read the scalars in varied from run to run. A
logger therefore writes its file in a scratch folder and, on close, moves it into the run as
`events.out.tfevents.<number>.v2`, its number above every existing file's: the run's files
sort in the order they were written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import tensorflow as tf

_SCALAR_METADATA = tf.compat.v1.SummaryMetadata(
    plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name="scalars"),
    data_class="DATA_CLASS_SCALAR",
)
EVENTS_PREFIX = "events.out.tfevents."
_INCOMING = ".incoming"  # no "tfevents" in it: TensorBoard never reads a half-moved file


class TensorBoardLogger:
    """Writes scalar summaries (loss, learning rate, throughput, eval metrics) under `logdir`.

    Use as a context manager or call `close()`: the scalars enter the run, as its last event
    file, on close. The caller is the run's only writer while the logger is open (it holds the
    run's lock). Values that are None (an undefined metric, e.g. `miou_prev` at step 0) are
    skipped rather than written as 0.
    """

    def __init__(self, logdir: str | os.PathLike):
        self.logdir = os.fspath(logdir)
        self._scratch = tempfile.mkdtemp(prefix="tensorboard-")
        self._writer = tf.summary.create_file_writer(self._scratch)

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

    def close(self) -> None:
        """Close the file and move it into the run, after the run's existing files."""
        self._writer.close()
        try:
            for written in sorted(Path(self._scratch).glob(EVENTS_PREFIX + "*")):
                _append_event_file(written, Path(self.logdir))
        finally:
            shutil.rmtree(self._scratch)

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _append_event_file(written: Path, logdir: Path) -> Path:
    """Move `written` into `logdir` under the next number; the rename is atomic."""
    logdir.mkdir(parents=True, exist_ok=True)
    target = logdir / f"{EVENTS_PREFIX}{_next_number(logdir):010d}.v2"
    incoming = logdir / _INCOMING
    shutil.copyfile(written, incoming)
    os.replace(incoming, target)
    return target


def _next_number(logdir: Path) -> int:
    """One above the largest number that names an event file of `logdir` (ours count up from
    1; TensorFlow's own names carry the time in seconds there), so a new file sorts last."""
    numbers = [int(field) for path in logdir.glob(EVENTS_PREFIX + "*")
               if (field := path.name[len(EVENTS_PREFIX):].split(".")[0]).isdigit()]
    return max(numbers, default=0) + 1
