"""Optimisation with PyTorch parity: torch SGD, Kaizen's LARS, parameter groups, lr schedules.

`sgd.TorchSGD` and `lars.LARS` reproduce the originals' updates (coupled weight decay, lr outside
the momentum buffer); `groups.ParameterGroups` gives Keras torch-style parameter groups;
`schedules.make_schedule` builds the originals' lr schedules by name.
"""

from continual.optim.groups import ParameterGroups
from continual.optim.lars import LARS
from continual.optim.schedules import make_schedule
from continual.optim.sgd import TorchSGD

__all__ = ["LARS", "ParameterGroups", "TorchSGD", "make_schedule"]
