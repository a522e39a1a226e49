"""The CIFAR ResNets' SAME-padded convs are exactly the explicit-padding construction they
replaced: same layers' weights, same logits bit for bit."""

import gin
import keras
import numpy as np
import pytest

from continual.models import resnet_cifar
from continual.models.classifiers import build_classifier


def _explicit_padding_conv(self, x, filters, kernel, stride, padding, name):
    """The construction before SAME: every torch padding as a ZeroPadding2D + VALID conv."""
    self.count += 1
    init = keras.initializers.VarianceScaling(
        2.0, "fan_out", "untruncated_normal", seed=self.seed * 1000 + self.count)
    if padding:
        x = keras.layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(filters, kernel, strides=stride, use_bias=False,
                               kernel_initializer=init, name=name)(x)


def _pair(monkeypatch, name, shape, **backbone):
    for key, value in backbone.items():
        gin.bind_parameter(f"{name}_backbone.{key}", value)
    new = build_classifier(name, input_shape=shape, num_classes=10, seed=3)
    with monkeypatch.context() as patch:
        patch.setattr(resnet_cifar._Layers, "conv", _explicit_padding_conv)
        old = build_classifier(name, input_shape=shape, num_classes=10, seed=3)
    return old, new


@pytest.mark.parametrize("name, shape, backbone", [
    ("resnet18_cifar", (32, 32, 3), {}),
    ("resnet18_cifar", (9, 9, 3), {"stem_padding": 2, "zero_init_residual": True}),
    ("resnet32", (12, 12, 3), {"layout": "rainbow_memory"}),
])
def test_same_padding_gives_the_explicit_padding_logits(monkeypatch, name, shape, backbone):
    old, new = _pair(monkeypatch, name, shape, **backbone)
    old_paths = sorted(v.path for v in old.weights)
    assert old_paths == sorted(v.path for v in new.weights)  # checkpoints keyed by path fit
    by_path = {v.path: v for v in new.weights}
    rng = np.random.default_rng(0)
    for variable in old.weights:   # random weights and statistics, the same in both
        value = rng.normal(size=variable.shape).astype("float32")
        if "variance" in variable.path:
            value = np.abs(value) + 0.5
        variable.assign(value)
        by_path[variable.path].assign(value)
    images = rng.normal(size=(4, *shape)).astype("float32")
    for training in (False, True):
        np.testing.assert_array_equal(new(images, training=training).numpy(),
                                      old(images, training=training).numpy())
    pads = [layer.name for layer in new.backbone.layers if layer.name.endswith("_pad")]
    old_pads = [layer.name for layer in old.backbone.layers if layer.name.endswith("_pad")]
    assert len(pads) < len(old_pads)
    # kept explicit: the stride-2 convs (and Kaizen's 2-pixel stem)
    assert all("block1_conv1" in p or p == "stem_pad" for p in pads)
    assert ("stem_pad" in pads) == (backbone.get("stem_padding") == 2)


@pytest.mark.parametrize("kernel, stride, padding, same", [
    (3, 1, 1, True), (1, 1, 0, True), (3, 2, 1, False), (3, 1, 2, False), (1, 2, 0, False),
])
def test_same_only_where_it_pads_like_torch(kernel, stride, padding, same):
    assert resnet_cifar.same_as_torch(kernel, stride, padding) is same
