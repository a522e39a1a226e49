"""Rainbow Memory and its pieces: the method, its train augmentations, its perturbations."""

from continual.methods.rainbow_memory.method import RainbowMemory

__all__ = ["RainbowMemory"]
