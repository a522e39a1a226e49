"""Image classifiers of the stream ports: a registry of backbones by name, plus a linear head.

`build_classifier('resnet18_cifar', input_shape=(32, 32, 3), num_classes=10)` returns a
`Classifier`: `backbone` (images -> features), `head` (features -> logits), `feature_dim`.
Registered names: 'resnet18_cifar', 'resnet32' (`resnet_cifar.py`), 'resnet34_rm'
(`resnet_imagenet_rm.py`), 'mlp', 'tiny_convnet' (`small_backbones.py`). Architecture options
are bound on the backbone builders in gin (`resnet18_cifar_backbone.layout =
'rainbow_memory'`); what every backbone shares (BN momentum and epsilon) is bound here, on
`build_classifier`.

BN conventions: Keras `momentum` = 1 - torch `momentum` (torch's 0.1 is Keras' 0.9, the default
here); torch's epsilon is 1e-5 (the default here), RM uses 1e-6, Keras' own default is 1e-3.
"""

from __future__ import annotations

from collections.abc import Callable

import gin
import keras

from continual.models.resnet_cifar import resnet18_cifar_backbone, resnet32_backbone
from continual.models.resnet_imagenet_rm import resnet34_rm_backbone
from continual.models.small_backbones import (
    mlp_backbone,
    tiny_convnet_backbone,
    torch_linear_init,
)

BackboneBuilder = Callable[..., keras.Model]
_BACKBONES: dict[str, BackboneBuilder] = {
    "mlp": mlp_backbone,
    "resnet18_cifar": resnet18_cifar_backbone,
    "resnet32": resnet32_backbone,
    "resnet34_rm": resnet34_rm_backbone,
    "tiny_convnet": tiny_convnet_backbone,
}


def register_backbone(name: str, builder: BackboneBuilder) -> None:
    """Add a backbone: `builder(input_shape, *, bn_momentum, bn_epsilon, seed) -> keras.Model`
    mapping images to features [B, D]."""
    if name in _BACKBONES and _BACKBONES[name] is not builder:
        raise ValueError(f"classifier name {name!r} is already registered to "
                         f"{_BACKBONES[name].__name__}; choose another name.")
    _BACKBONES[name] = builder


def registered_classifiers() -> tuple[str, ...]:
    return tuple(sorted(_BACKBONES))


class Classifier(keras.Model):
    """A backbone (images -> features) and a linear head (features -> logits).

    Methods that replace the head between tasks (RM) build `Classifier(old.backbone, new_head)`;
    those that train on features alone (probes, Kaizen's classifier) call `features`.
    """

    def __init__(self, backbone: keras.Model, head: keras.layers.Dense, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.head = head
        if not head.built:
            head.build((None, self.feature_dim))
        self.built = True

    @property
    def feature_dim(self) -> int:
        return int(self.backbone.output.shape[-1])

    def features(self, images, training: bool = False):
        """Backbone features [B, feature_dim]."""
        return self.backbone(images, training=training)

    def call(self, images, training: bool = False):
        """Logits [B, num_classes], float32."""
        return self.head(self.features(images, training=training))


def build_head(feature_dim: int, num_classes: int, *, seed: int = 0, name: str = "head",
               use_bias: bool = True) -> keras.layers.Dense:
    """A torch-initialised Linear (with bias unless `use_bias` is False), kept float32 under
    mixed precision."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}; the data manifest "
                         "states it.")
    head = keras.layers.Dense(
        num_classes, kernel_initializer=torch_linear_init(feature_dim, seed * 1000 + 999),
        bias_initializer=torch_linear_init(feature_dim, seed * 1000 + 998),
        use_bias=use_bias, dtype="float32", name=name)
    head.build((None, feature_dim))
    return head


@gin.configurable(denylist=["input_shape", "num_classes", "seed"])
def build_classifier(name: str = "tiny_convnet", *, input_shape: tuple, num_classes: int,
                     bn_momentum: float = 0.9, bn_epsilon: float = 1e-5,
                     head_bias: bool = True, seed: int = 0) -> Classifier:
    """Build the registered classifier `name` for images of `input_shape` (H, W, C).

    Args:
      input_shape, num_classes: from the data manifest (`image_shape`, `num_classes`).
      bn_momentum: Keras convention (1 - torch momentum).
      head_bias: False for a bias-free linear head (SSLAD's `Linear(2048, 7, bias=False)`).
      seed: seeds every initialiser, so the same seed builds the same weights; the method
        passes the experiment's seed (not a gin binding).
    """
    if name not in _BACKBONES:
        raise ValueError(f"build_classifier.name = {name!r} is not a registered classifier; "
                         f"registered: {list(registered_classifiers())}.")
    if not 0.0 <= bn_momentum < 1.0:
        raise ValueError(f"build_classifier.bn_momentum = {bn_momentum} must be in [0, 1) "
                         "(Keras convention: 1 - torch momentum, e.g. 0.9 for torch's 0.1).")
    backbone = _BACKBONES[name](input_shape, bn_momentum=bn_momentum, bn_epsilon=bn_epsilon,
                                seed=seed)
    if not isinstance(head_bias, bool):
        raise TypeError(f"build_classifier.head_bias = {head_bias!r} must be True or False; "
                        "fix the gin binding")
    head = build_head(int(backbone.output.shape[-1]), num_classes, seed=seed,
                      use_bias=head_bias)
    return Classifier(backbone, head, name=name)
