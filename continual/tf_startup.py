"""TensorFlow's start-up lines kept off the screen (oneDNN, CUDA stubs, CPU features, cuInit).

TensorFlow 2.21 writes them from C++ before its log settings are read, so an environment
variable alone does not hide them. `import_tensorflow_quietly()` imports TensorFlow and lists
the devices (which is when cuInit reports) with the process's stderr pointed at a temporary
file, then writes back every line that is not one of those known start-up messages: a real
warning or an import error still shows. It also hides TensorFlow's later C++ INFO lines
(`TF_CPP_MIN_LOG_LEVEL=1`) unless that variable is already set. The package's `__init__`
calls it, so every command of the project (main.py, the converters, gan/ and flickr/ scripts)
starts quietly; `CONTINUAL_TENSORFLOW_LOG=1` (main.py: `--tensorflow_log`) keeps TensorFlow's
lines as they are.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

SHOW_LOG = "CONTINUAL_TENSORFLOW_LOG"  # "1": TensorFlow's start-up lines are shown
INTER_OP = "TF_NUM_INTEROP_THREADS"  # read by TensorFlow when its runtime starts


def run_ops_one_at_a_time() -> None:
    """One inter-op thread (each op still uses every core through its intra-op pool), unless
    the user set `TF_NUM_INTEROP_THREADS`. With two, independent ops of a step ran side by
    side and their order varied from run to run: a SimSiam experiment, run twice in fresh
    stores on one machine, ended 47.25 % and 47.0 % (its weights differed by 1e-10 after the
    first experience, then drifted), with op determinism on. With one inter-op thread the two
    runs' weights were byte-identical, and the step was no slower (16.7 s against 19.3 s for
    that experiment). Called before TensorFlow's runtime starts (its first op)."""
    os.environ.setdefault(INTER_OP, "1")

# The start-up messages, by the C++ file that logs them (absl's prefix: I/W/E, date, time,
# thread, file:line), plus absl's own note and the CPU-feature message's second line.
STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IWE]\d{4} [\d:.]+\s+\d+ (port|cudart_stub|cpu_feature_guard|cuda_platform|cuda_dnn"
    r"|cuda_fft|cuda_blas|cuda_executor|gpu_device)\.cc:\d+\]"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate"
    r")")


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (and find its devices) without its start-up lines on stderr."""
    if "tensorflow" in sys.modules or os.environ.get(SHOW_LOG) == "1":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = kept_lines(captured.read().decode("utf-8", errors="replace"))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def kept_lines(text: str) -> str:
    """`text` without the known start-up lines."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not STARTUP_NOISE.match(line))
