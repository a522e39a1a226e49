"""RM's lr schedule (`sched_name`, `milestones`, `gamma`) bound on each baseline: the lr per
epoch by hand, bad values refused naming the baseline's binding, and a `RainbowMemory.*`
schedule binding that the baseline's own value would silently override refused."""

import gin
import pytest

from continual.methods.rainbow_memory.bic import BiC
from continual.methods.rainbow_memory.ewc import EWC
from continual.methods.rainbow_memory.gdumb import GDumb
from continual.methods.rainbow_memory.icarl import ICaRL
from continual.methods.rainbow_memory.rwalk import RWalk
from continual.replay.buffers import EpisodicBuffer

POLICY = {GDumb: "greedy_class_balanced", BiC: "herding", ICaRL: "herding", EWC: "reservoir",
          RWalk: "reservoir"}
BASE_LR = 0.05


def _built(cls, config: str = ""):
    """`cls` made by gin (as a run makes it) with `config`'s bindings, built on an MLP."""
    gin.parse_config(f"build_classifier.name = 'mlp'\nmlp_backbone.hidden_units = (16,)\n"
                     f"TorchSGD.learning_rate = {BASE_LR}\n{config}")
    method = cls()
    method.build((8, 8, 3), 4, EpisodicBuffer(capacity=8, policy=POLICY[cls], num_classes=4),
                 seed=1)
    return method


def _lrs(method, epochs) -> list[float]:
    return [method.learning_rate("memory", e) for e in epochs]


@pytest.mark.parametrize("cls", [GDumb, BiC])
def test_multistep_binding_gives_the_multistep_lr_per_epoch(cls):
    """Epoch 0 at 0.1 lr, epoch e >= 1 after e - 1 MultiStepLR steps: x 0.5 once 2 steps
    are taken (epoch 3), again at 4 (epoch 5)."""
    method = _built(cls, f"{cls.__name__}.sched_name = 'multistep'\n"
                         f"{cls.__name__}.milestones = [2, 4]\n{cls.__name__}.gamma = 0.5")
    assert _lrs(method, range(6)) == pytest.approx([0.005, 0.05, 0.05, 0.025, 0.025, 0.0125])


@pytest.mark.parametrize("cls", [ICaRL, EWC, RWalk])
def test_the_other_baselines_take_the_schedule_too(cls):
    """RM's ImageNet multistep (milestones 30, 60, 80, 90; x 0.1): drops after epochs 30, 60."""
    method = _built(cls, f"{cls.__name__}.sched_name = 'multistep'")
    assert _lrs(method, [1, 30, 31, 60, 61]) == pytest.approx([0.05, 0.05, 0.005, 0.005, 5e-4])


def test_unbound_baselines_stay_on_the_warm_restart_cosine():
    """Default 'cos' (T_0 1, T_mult 2, eta_min 0.01 lr): epoch 3 half-way down cycle 2."""
    method = _built(GDumb)
    assert method.sched_name == "cos"
    assert _lrs(method, range(4)) == pytest.approx([0.005, 0.05, 0.05, 0.02525])


@pytest.mark.parametrize("config, message", [
    ("GDumb.sched_name = 'step'", r"GDumb.sched_name = 'step' is not one of \('cos'"),
    ("BiC.milestones = [60, 30]", r"BiC.milestones = \[60, 30\] must be strictly increasing"),
    ("EWC.gamma = 0.0", "EWC.gamma must be > 0"),
    ("RWalk.sched_name = 'exp'", "RWalk.sched_name = 'exp'"),
    ("ICaRL.milestones = [0]", "ICaRL.milestones must be >= 1"),
])
def test_bad_schedule_bindings_name_the_baselines_binding(config, message):
    cls = {"GDumb": GDumb, "BiC": BiC, "EWC": EWC, "RWalk": RWalk,
           "ICaRL": ICaRL}[config.split(".")[0]]
    with pytest.raises(ValueError, match=message):
        _built(cls, config)


def test_a_rainbow_memory_schedule_binding_is_not_silently_overridden():
    with pytest.raises(ValueError, match=r"RainbowMemory.sched_name = 'multistep' is bound, "
                                         r"but GDumb passes its own GDumb.sched_name = 'cos'.*"
                                         r"bind GDumb.sched_name instead"):
        _built(GDumb, "RainbowMemory.sched_name = 'multistep'")
    gin.clear_config()
    with pytest.raises(ValueError, match="bind BiC.gamma instead"):
        _built(BiC, "RainbowMemory.gamma = 0.5\nBiC.gamma = 0.2")
    gin.clear_config()
    # the same value on both: nothing is overridden
    method = _built(EWC, "RainbowMemory.milestones = [2, 4]\nEWC.milestones = (2, 4)")
    assert method.milestones == (2, 4)
