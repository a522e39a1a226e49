"""Shared test set-up: keep Keras and matplotlib caches out of the home folder."""

import os
import tempfile

_cache = tempfile.mkdtemp(prefix="recall-test-cache-")
os.environ.setdefault("KERAS_HOME", os.path.join(_cache, "keras"))
os.environ.setdefault("MPLCONFIGDIR", os.path.join(_cache, "mpl"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


import gin  # noqa: E402  (after the environment above is set)
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_gin_config():
    """Each test starts and ends with an empty gin config, so bindings never leak across."""
    gin.clear_config()
    yield
    gin.clear_config()
