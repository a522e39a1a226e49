"""RECALL and replay-based continual learning in TensorFlow 2 / Keras 3, configured with gin."""

from continual.tf_startup import import_tensorflow_quietly, run_ops_one_at_a_time

run_ops_one_at_a_time()  # run-to-run bit-exactness (continual/tf_startup.py)
import_tensorflow_quietly()  # before any module of the package imports TensorFlow
