"""Shared test set-up: keep Keras and matplotlib caches out of the home folder."""

import os
import tempfile

_cache = tempfile.mkdtemp(prefix="recall-test-cache-")
os.environ.setdefault("KERAS_HOME", os.path.join(_cache, "keras"))
os.environ.setdefault("MPLCONFIGDIR", os.path.join(_cache, "mpl"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
