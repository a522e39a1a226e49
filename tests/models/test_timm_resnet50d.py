"""timm's resnet50d state dict into our ResNet-50-D: a state dict written in timm's names and
layouts from one model (random weights and BN statistics) and saved as numpy.savez, loaded
through the gin binding into a model of another seed, gives the same outputs; a missing,
unknown or misshaped tensor, a missing file or another format is refused by name."""

import gin
import numpy as np
import pytest

import continual.models.resnet50d  # noqa: F401  (registers 'resnet50d')
from continual.models.classifiers import build_classifier
from continual.models.timm_resnet50d import (
    load_timm_npz,
    load_timm_state_dict,
    timm_prefix,
    timm_state_dict,
)

SHAPE = (32, 32, 3)


def _backbone(seed: int):
    return build_classifier("resnet50d", input_shape=SHAPE, num_classes=7, seed=seed).backbone


@pytest.fixture(scope="module")
def source():
    """A backbone with random conv kernels (its seed) and random BN parameters and
    statistics (no zero gammas, no unit variances), and its state dict in timm's naming."""
    backbone = _backbone(0)
    rng = np.random.default_rng(0)
    for variable in backbone.variables:
        name = variable.path.rsplit("/", 1)[-1]
        if name in ("gamma", "moving_variance"):
            variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype(np.float32))
        elif name in ("beta", "moving_mean"):
            variable.assign(rng.normal(0.0, 0.1, variable.shape).astype(np.float32))
    return backbone, timm_state_dict(backbone)


def test_names_and_layouts_are_timms(source):
    _, state = source
    assert timm_prefix("layer3_5_conv2_bn") == "layer3.5.bn2"
    assert state["conv1.0.weight"].shape == (32, 3, 3, 3)        # [O, I, H, W]
    assert state["conv1.6.weight"].shape == (64, 32, 3, 3)
    assert state["bn1.running_var"].shape == (64,)
    assert state["layer1.0.downsample.1.weight"].shape == (256, 64, 1, 1)
    assert state["layer4.2.bn3.weight"].shape == (2048,)
    # 55 convs (3 stem + 16 blocks x 3 + 4 shortcuts), each followed by a BN of 4 tensors
    assert len(state) == 55 * 5


def test_saved_state_dict_loads_through_the_binding_with_equal_outputs(source, tmp_path):
    backbone, state = source
    path = tmp_path / "resnet50d.npz"
    extras = {"fc.weight": np.zeros((1000, 2048), np.float32), "fc.bias": np.zeros(1000),
              "bn1.num_batches_tracked": np.array(7)}  # in timm's dict, skipped here
    np.savez(path, **state, **extras)
    gin.parse_config(f"resnet50d_backbone.imagenet_weights = '{path}'")
    loaded = _backbone(1)
    images = np.random.default_rng(1).uniform(size=(2, *SHAPE)).astype(np.float32)
    want = backbone(images, training=False).numpy()
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(loaded(images, training=False).numpy(), want, rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("layer2.1.bn2.running_var"), r"missing \['layer2.1.bn2.running_var'\]"),
    (lambda s: s.update({"head.weight": np.zeros(3)}), r"unexpected \['head.weight'\]"),
    (lambda s: s.update({"conv1.0.weight": np.zeros((32, 1, 3, 3))}),
     r"'conv1.0.weight' has shape \(32, 1, 3, 3\)"),
])
def test_a_wrong_tensor_is_named(source, change, message):
    backbone, state = source
    state = dict(state)
    change(state)
    with pytest.raises(ValueError, match=message):
        load_timm_state_dict(backbone, state, "test.npz")


def test_a_missing_file_or_another_format_names_the_binding(source, tmp_path):
    backbone, _ = source
    with pytest.raises(ValueError, match="imagenet_weights = .*no such file"):
        load_timm_npz(backbone, str(tmp_path / "absent.npz"))
    with pytest.raises(ValueError, match="imagenet_weights = .*numpy.savez"):
        load_timm_npz(backbone, str(tmp_path / "resnet50d.safetensors"))
