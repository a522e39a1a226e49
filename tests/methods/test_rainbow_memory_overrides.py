"""A binding of the class a baseline extends (`RainbowMemory.*`, `FineTuning.*`) is never
silently overridden by the baseline's explicit arguments: refused when it differs, naming the
binding to use instead; accepted when it equals the value passed."""

import gin
import pytest

from continual.methods.rainbow_memory.bic import BiC
from continual.methods.rainbow_memory.ewc import EWC
from continual.methods.rainbow_memory.gdumb import GDumb
from continual.methods.rainbow_memory.icarl import ICaRL
from continual.methods.rainbow_memory.joint_reference import JointFromScratch
from continual.methods.rainbow_memory.rwalk import RWalk


def _made(cls, config: str):
    """`cls` constructed by gin with `config`'s bindings (as a run constructs it)."""
    gin.parse_config(config)
    return cls()


def test_a_rainbow_memory_transforms_binding_differing_from_gdumbs_is_refused():
    with pytest.raises(ValueError, match=r"RainbowMemory.transforms = \['cutmix'\] is bound, "
                                         r"but GDumb passes its own GDumb.transforms = \(\), "
                                         r"so that binding would do nothing; "
                                         r"bind GDumb.transforms instead"):
        _made(GDumb, "RainbowMemory.transforms = ['cutmix']")


@pytest.mark.parametrize("cls", [BiC, ICaRL, EWC, RWalk])
def test_every_baseline_refuses_it_naming_its_own_binding(cls):
    with pytest.raises(ValueError, match=f"bind {cls.__name__}.transforms instead"):
        _made(cls, "RainbowMemory.transforms = ['cutout']")


def test_equal_values_are_accepted():
    method = _made(GDumb, "RainbowMemory.transforms = ['cutout']\n"
                          "GDumb.transforms = ('cutout',)\n"
                          "RainbowMemory.memory_epochs = 4\nGDumb.memory_epochs = 4\n"
                          "RainbowMemory.uncertainty_metric = 'vr'\n"
                          "RainbowMemory.stream = 'online'")
    assert (method.transforms, method.memory_epochs, method.stream) == (("cutout",), 4, "online")


@pytest.mark.parametrize("cls, config, message", [
    (BiC, "RainbowMemory.uncertainty_metric = 'vr_randaug'",
     r"BiC passes its fixed uncertainty_metric = 'vr'.*BiC does not take uncertainty_metric: "
     r"move that binding into the bindings of the RainbowMemory experiments"),
    (GDumb, "RainbowMemory.stream = 'offline'", "GDumb passes its fixed stream = 'online'"),
    (GDumb, "RainbowMemory.offline_epochs = 5", "GDumb passes its fixed offline_epochs = 1"),
])
def test_a_value_the_baseline_fixes_is_refused_too(cls, config, message):
    with pytest.raises(ValueError, match=message):
        _made(cls, config)


def test_the_per_task_joint_reference_guards_its_finetuning_arguments():
    with pytest.raises(ValueError, match="bind JointFromScratch.epochs instead"):
        _made(JointFromScratch, "FineTuning.epochs = 5")
    gin.clear_config()
    with pytest.raises(ValueError, match="JointFromScratch passes its fixed online = False"):
        _made(JointFromScratch, "FineTuning.online = True")
    gin.clear_config()
    assert _made(JointFromScratch, "FineTuning.epochs = 2\nJointFromScratch.epochs = 2").epochs == 2
