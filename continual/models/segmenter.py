"""Encoder + decoder segmentation model, registries by name, and the L2 term of the loss.

The encoder and decoder are separate Keras models, saved and restored separately
(`continual.models.checkpoints`), because helper decoders share one frozen encoder.
"""

from __future__ import annotations

from collections.abc import Callable

import gin
import keras
import tensorflow as tf

from continual.bindings import supplied_configurable
from continual.models.checkpoints import (  # noqa: F401  (re-exported for training code)
    CheckpointMismatchError,
    decoder_checkpoint,
    encoder_checkpoint,
    restore_weights,
    save_weights,
)
from continual.models.heads import aspp_v2, aspp_v3
from continual.models.resnet import resnet101_v2
from continual.models.tiny import tiny_encoder

ENCODERS: dict[str, Callable[..., keras.Model]] = {
    "resnet101_v2": resnet101_v2,
    "tiny": tiny_encoder,
}
DECODERS: dict[str, Callable[..., keras.Model]] = {
    "aspp_v2": aspp_v2,
    "aspp_v3": aspp_v3,
}


def _lookup(registry: dict, key: str, binding: str) -> Callable[..., keras.Model]:
    if key not in registry:
        raise ValueError(f"Unknown {binding} {key!r}; set {binding} to one of {sorted(registry)}.")
    return registry[key]


@gin.configurable
def build_encoder(backbone: str = "resnet101_v2", *, bn_affine_trainable: bool = False,
                  input_channels: int = 3, **kwargs) -> keras.Model:
    """Encoder by name: images [B, H, W, input_channels] (any size) -> features at stride 8.

    The default is the paper's DeepLab-v2 ResNet-101, so a config without model bindings (every
    original RECALL config) trains the paper's model; 'tiny' is the demo's.

    Extra kwargs go to the backbone builder (e.g. `units`, `base_depth`, `widths`); its own gin
    bindings (`resnet101_v2.units`, `tiny_encoder.widths`) apply too.
    """
    builder = _lookup(ENCODERS, backbone, "build_encoder.backbone")
    return builder(input_channels=input_channels, bn_affine_trainable=bn_affine_trainable,
                   **kwargs)


@supplied_configurable(num_classes="TrainManager.n_classes", in_channels=None)
def build_decoder(head: str = "aspp_v2", *, num_classes: int = 21, in_channels: int,
                  **kwargs) -> keras.Model:
    """Decoder by name: features [B, h, w, in_channels] -> logits [B, h, w, num_classes].

    Dilation rates are bound on the head (`aspp_v2.rates = (1, 2, 3, 4)`) or passed as kwargs.
    """
    builder = _lookup(DECODERS, head, "build_decoder.head")
    return builder(in_channels=in_channels, num_classes=num_classes, **kwargs)


def resize_logits(logits, size) -> tf.Tensor:
    """Cast logits to float32 and resize bilinearly (half-pixel centres) to `size` (h, w)."""
    return tf.image.resize(tf.cast(logits, tf.float32), size, method="bilinear")


def _spatial_size(images):
    static = tuple(images.shape[1:3])
    return static if None not in static else tf.shape(images)[1:3]


class Segmenter:
    """An encoder and its main decoder; logits come back float32 at the input size.

    A sub-model with `trainable = False` is always called with `training=False`, so a frozen
    encoder updates no BN statistics even inside a training step. `training` must be a Python
    bool.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model):
        self.encoder = encoder
        self.decoder = decoder

    @property
    def num_classes(self) -> int:
        return int(self.decoder.output_shape[-1])

    def features(self, images, training: bool = False) -> tf.Tensor:
        """Encoder features [B, H/8, W/8, C]; shared by the main and the helper decoders."""
        return self.encoder(images, training=bool(training) and self.encoder.trainable)

    def logits_from_features(self, feats, decoder: keras.Model, size,
                             training: bool = False) -> tf.Tensor:
        """float32 logits of `decoder` on `feats`, resized to `size` (h, w)."""
        logits = decoder(feats, training=bool(training) and decoder.trainable)
        return resize_logits(logits, size)

    def __call__(self, images, training: bool = False) -> tf.Tensor:
        """float32 logits [B, H, W, num_classes] for images [B, H, W, C]."""
        feats = self.features(images, training)
        return self.logits_from_features(feats, self.decoder, _spatial_size(images), training)


@supplied_configurable(num_classes="TrainManager.n_classes")
def build_segmenter(num_classes: int = 21) -> Segmenter:
    """`build_encoder()` plus `build_decoder()` on its output channels, both as bound in gin."""
    encoder = build_encoder()
    decoder = build_decoder(num_classes=num_classes, in_channels=int(encoder.output_shape[-1]))
    return Segmenter(encoder, decoder)


def kernel_l2(model: keras.Model) -> tf.Tensor:
    """Sum of `tf.nn.l2_loss` (sum of squares / 2) over the model's TRAINABLE kernels.

    Biases and BN parameters are excluded, as in the original (`weights` variables only). A
    frozen model contributes 0, so `l2_decay * (kernel_l2(encoder) + kernel_l2(decoder))` adds
    the encoder term only while the encoder trains.
    """
    kernels = [v for v in model.trainable_weights if v.name == "kernel"]
    if not kernels:
        return tf.constant(0.0, tf.float32)
    return tf.add_n([tf.nn.l2_loss(tf.cast(v, tf.float32)) for v in kernels])
