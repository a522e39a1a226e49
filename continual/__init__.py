"""RECALL and replay-based continual learning in TensorFlow 2 / Keras 3, configured with gin."""

from continual.tf_startup import import_tensorflow_quietly

import_tensorflow_quietly()  # before any module of the package imports TensorFlow
