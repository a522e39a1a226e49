"""RECALL and replay-based continual learning in TensorFlow 2 / Keras 3, configured with gin."""
