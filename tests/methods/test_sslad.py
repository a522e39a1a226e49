"""The SSLAD method's bindings, challenge rules and schedules: bad values are refused with the
binding named; the soft-label weights ramp at the given global iterations."""

from types import SimpleNamespace

import gin
import pytest
import tensorflow as tf

from continual.loop.experience import ExperienceLoop
from continual.methods.sslad import UncertaintyGuidedReplay
from continual.methods.sslad.settings import step_weight
from continual.replay.buffers import EpisodicBuffer


@pytest.mark.parametrize("binding, message", [
    ("votes = 1", "UncertaintyGuidedReplay.votes"),
    ("temperature = 0.0", "UncertaintyGuidedReplay.temperature"),
    ("supcon_temperature = -1.0", "UncertaintyGuidedReplay.supcon_temperature"),
    ("class_balanced_beta = 1.0", "UncertaintyGuidedReplay.class_balanced_beta"),
    ("class_balanced_beta = -0.1", "UncertaintyGuidedReplay.class_balanced_beta"),
    ("contrastive_weight = -0.3", "UncertaintyGuidedReplay.contrastive_weight"),
    ("supcon_weight = -0.1", "UncertaintyGuidedReplay.supcon_weight"),
    ("lr_milestones = [2000, 1000]", "UncertaintyGuidedReplay.lr_milestones"),
    ("soft_label_milestones = [1700, 1700]", "UncertaintyGuidedReplay.soft_label_milestones"),
    ("soft_label_weights = [0.5, 1.0]", "UncertaintyGuidedReplay.soft_label_weights"),
    ("epochs = 2", "one pass"),
    ("replay_hue = 0.6", "UncertaintyGuidedReplay.replay_hue"),
    ("replay_rotation = -10.0", "UncertaintyGuidedReplay.replay_rotation"),
])
def test_bad_bindings_name_themselves(binding, message):
    gin.parse_config(f"UncertaintyGuidedReplay.{binding}")
    with pytest.raises(ValueError, match=message):
        UncertaintyGuidedReplay()


def test_soft_label_weight_ramps_at_the_milestones():
    weights = [float(step_weight(tf.constant(s, tf.int64), (1700, 2000, 2100), (0.5, 0.8, 1.0)))
               for s in (0, 1699, 1700, 1999, 2000, 2100, 5000)]
    assert weights == pytest.approx([0.0, 0.0, 0.5, 0.5, 0.8, 1.0, 1.0])


def _scenario(*sizes: int):
    experiences = [SimpleNamespace(index=i, train_ids=tuple(range(n)))
                   for i, n in enumerate(sizes)]
    return SimpleNamespace(name="by_attribute", experiences=experiences)


def test_challenge_rules_and_short_experiences_are_refused():
    method = UncertaintyGuidedReplay()
    with pytest.raises(ValueError, match="ExperienceLoop.stream_batch_size = 16 breaks"):
        method.check_stream(_scenario(100), ExperienceLoop(stream_batch_size=16))
    with pytest.raises(ValueError, match="experience 1 .* 4 records"):
        method.check_stream(_scenario(100, 4), ExperienceLoop(stream_batch_size=10))
    with pytest.raises(ValueError, match="replay_batch_size = 600"):
        method.check_stream(_scenario(100), ExperienceLoop(stream_batch_size=10,
                                                          replay_batch_size=600))
    gin.parse_config(["UncertaintyGuidedReplay.challenge_rules = False",
                      "UncertaintyGuidedReplay.soft_labels = False"])
    UncertaintyGuidedReplay().check_stream(_scenario(100), ExperienceLoop(stream_batch_size=16))


def test_soft_labels_that_never_start_give_a_warning():
    gin.parse_config(["UncertaintyGuidedReplay.lr_milestones = []"])
    method = UncertaintyGuidedReplay()  # patience 1700 iterations
    with pytest.warns(UserWarning, match="1700, but the stream has only 20 iterations") as seen:
        method.check_stream(_scenario(100, 100), ExperienceLoop(stream_batch_size=10,
                                                               replay_batch_size=6))
    assert len(seen) == 1


def test_lr_milestones_beyond_the_stream_give_a_warning_naming_them():
    """Issue 24, item 2: a milestone the stream never reaches was accepted without a word."""
    gin.parse_config(["UncertaintyGuidedReplay.lr_milestones = [10, 25, 40]",
                      "UncertaintyGuidedReplay.soft_labels = False"])
    method = UncertaintyGuidedReplay()
    with pytest.warns(UserWarning, match=r"lr_milestones = \(10, 25, 40\): \[25, 40\] lie at "
                                         r"or beyond the stream's 20 iterations") as seen:
        method.check_stream(_scenario(100, 100), ExperienceLoop(stream_batch_size=10,
                                                               replay_batch_size=6))
    assert len(seen) == 1


@pytest.mark.parametrize("bindings, message", [
    (["EpisodicBuffer.policy = 'reservoir'"], "EpisodicBuffer.policy = 'uncertainty'"),
    (["EpisodicBuffer.logits_dim = 7"], "EpisodicBuffer.logits_dim = 6"),
    (["UncertaintyGuidedReplay.sweep_size = 40"], "sweep_size = 40 must be smaller"),
])
def test_buffer_settings_are_checked_at_build(bindings, message):
    gin.parse_config(["EpisodicBuffer.capacity = 40", "EpisodicBuffer.policy = 'uncertainty'",
                      "EpisodicBuffer.logits_dim = 6", "UncertaintyGuidedReplay.sweep_size = 20",
                      "build_classifier.name = 'tiny_convnet'", *bindings])
    method = UncertaintyGuidedReplay()
    with pytest.raises(ValueError, match=message):
        method.build((12, 12, 3), 6, EpisodicBuffer(num_classes=6), 0)
