"""The experience loop: phases, stream + replay batches, hooks, checkpoints; evaluation."""
