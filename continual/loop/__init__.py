"""The experience loop: phases, batch composition (stream + replay), hooks, checkpoints; evaluation."""
