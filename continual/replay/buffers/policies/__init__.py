"""Buffer policies by name: which incoming items enter which slots (one file each)."""

from __future__ import annotations

from continual.replay.buffers.policies.base import BufferPolicy
from continual.replay.buffers.policies.boundary import RandomSubsetPolicy
from continual.replay.buffers.policies.class_balanced import ClassBalancedReservoirPolicy
from continual.replay.buffers.policies.fifo import FifoPolicy
from continual.replay.buffers.policies.fixed_per_class import FixedPerClassPolicy
from continual.replay.buffers.policies.greedy_balanced import GreedyClassBalancedPolicy
from continual.replay.buffers.policies.herding import HerdingPolicy
from continual.replay.buffers.policies.proportion_per_class import ProportionPerClassPolicy
from continual.replay.buffers.policies.rainbow import RainbowPolicy
from continual.replay.buffers.policies.reservoir import ReservoirPolicy
from continual.replay.buffers.policies.task_boundary import TaskBoundaryRandomPolicy
from continual.replay.buffers.policies.uncertainty import UncertaintyPolicy

POLICIES: dict[str, type[BufferPolicy]] = {
    "class_balanced_reservoir": ClassBalancedReservoirPolicy,
    "fifo": FifoPolicy,
    "fixed_per_class": FixedPerClassPolicy,
    "greedy_class_balanced": GreedyClassBalancedPolicy,
    "herding": HerdingPolicy,
    "proportion_per_class": ProportionPerClassPolicy,
    "rainbow": RainbowPolicy,
    "random_subset": RandomSubsetPolicy,
    "reservoir": ReservoirPolicy,
    "task_boundary_random": TaskBoundaryRandomPolicy,
    "uncertainty": UncertaintyPolicy,
}


def make_policy(name: str, *, binding: str = "EpisodicBuffer.policy", **kwargs) -> BufferPolicy:
    """The policy registered as `name`, built with kwargs (its other arguments come from gin)."""
    if name not in POLICIES:
        raise ValueError(f"Unknown {binding} {name!r}; set {binding} to one of {sorted(POLICIES)}")
    return POLICIES[name](**kwargs)


__all__ = ["POLICIES", "BufferPolicy", "make_policy"]
