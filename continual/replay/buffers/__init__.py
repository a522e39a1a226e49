"""Episodic replay buffers: preallocated storage x a policy (policies/) x a sampler."""

from continual.replay.buffers.buffer import EpisodicBuffer
from continual.replay.buffers.policies import POLICIES, make_policy
from continual.replay.buffers.samplers import SAMPLERS, make_sampler
from continual.replay.buffers.storage import BufferStorage

__all__ = ["POLICIES", "SAMPLERS", "BufferStorage", "EpisodicBuffer", "make_policy",
           "make_sampler"]
