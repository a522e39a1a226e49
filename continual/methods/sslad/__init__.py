"""SSLAD Track 3A (3rd place): uncertainty-guided episodic replay with deep metric learning.

`UncertaintyGuidedReplay` (method.py) is the whole method; its losses (losses.py), the sweep's
perturbations (perturb.py) and the checks of its bindings and of the challenge rules
(settings.py) sit beside it. The memory policy is `EpisodicBuffer.policy = 'uncertainty'`
(continual/replay/buffers/policies/uncertainty.py).
"""

from continual.methods.sslad.method import UncertaintyGuidedReplay

__all__ = ["UncertaintyGuidedReplay"]
