"""ExperienceReplay refuses a buffer policy that never acts on stream rows (its memory would
stay empty without an error)."""

import gin
import pytest

from continual.methods.baselines import ExperienceReplay
from continual.replay.buffers import EpisodicBuffer


@pytest.mark.parametrize("policy", ["rainbow", "random_subset", "herding",
                                    "task_boundary_random"])
def test_boundary_only_policy_is_refused_naming_the_binding(policy):
    gin.bind_parameter("build_classifier.name", "mlp")
    buffer = EpisodicBuffer(capacity=8, policy=policy, num_classes=4)
    with pytest.raises(ValueError, match=f"EpisodicBuffer.policy = '{policy}'"):
        ExperienceReplay().build((8, 8, 3), 4, buffer, seed=1)


def test_online_policy_is_accepted():
    gin.bind_parameter("build_classifier.name", "mlp")
    buffer = EpisodicBuffer(capacity=8, policy="greedy_class_balanced", num_classes=4)
    method = ExperienceReplay()
    method.build((8, 8, 3), 4, buffer, seed=1)
    assert method.buffer is buffer
