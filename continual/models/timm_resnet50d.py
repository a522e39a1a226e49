"""timm's `resnet50d` state dict <-> our ResNet-50-D (`resnet50d.py`), by name.

The SSLAD original starts from `timm.resnet50d(pretrained=True)`. No network
here, so the weights come from a file a user writes where timm runs:

    import numpy, timm
    model = timm.create_model('resnet50d', pretrained=True)
    numpy.savez('resnet50d_imagenet.npz',
                **{k: v.numpy() for k, v in model.state_dict().items()})

and bind `resnet50d_backbone.imagenet_weights = 'resnet50d_imagenet.npz'`.

Names: the deep stem `conv1.{0,3,6}` (convs) and `conv1.{1,4}`, `bn1` (BNs); per bottleneck
`layer{s}.{b}.conv{k}` / `.bn{k}` and the D shortcut `layer{s}.{b}.downsample.1` (conv, after
the average pool at index 0) / `.downsample.2` (BN). Conv kernels are torch [O, I, H, W] and
Keras [H, W, I, O]; BN weight / bias / running_mean / running_var are gamma / beta /
moving_mean / moving_variance. Loading is strict: every tensor of the backbone must come from
the file with its shape, and every tensor of the file must have a place, except timm's
ImageNet classifier `fc.*` (the original replaces it by its own head) and BN's
`num_batches_tracked` counters (no Keras counterpart).
"""

from __future__ import annotations

import os
import re

import keras
import numpy as np

STEM = {"stem_conv1": "conv1.0", "stem_conv1_bn": "conv1.1", "stem_conv2": "conv1.3",
        "stem_conv2_bn": "conv1.4", "stem_conv3": "conv1.6", "stem_conv3_bn": "bn1"}
BLOCK = re.compile(r"layer(\d)_(\d+)_(conv\d|down)(_bn)?")
BN_TENSORS = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
              ("running_var", "moving_variance"))
SKIPPED = re.compile(r"fc\.(weight|bias)|.*\.num_batches_tracked")


def timm_prefix(layer_name: str) -> str:
    """timm's module path of one of our conv / BN layers, e.g. 'layer2_0_down_bn' ->
    'layer2.0.downsample.2'."""
    if layer_name in STEM:
        return STEM[layer_name]
    match = BLOCK.fullmatch(layer_name)
    if match is None:
        raise ValueError(f"layer {layer_name!r} of the ResNet-50-D has no timm counterpart")
    stage, block, part, bn = match.groups()
    base = f"layer{stage}.{block}"
    if part == "down":
        return f"{base}.downsample.{2 if bn else 1}"
    return f"{base}.bn{part[-1]}" if bn else f"{base}.{part}"


def _slots(backbone: keras.Model) -> dict[str, tuple]:
    """timm name -> (Keras variable, torch-to-Keras transform) for every weight and statistic."""
    slots = {}
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.Conv2D):
            slots[f"{timm_prefix(layer.name)}.weight"] = (layer.kernel, (2, 3, 1, 0))
        elif isinstance(layer, keras.layers.BatchNormalization):
            prefix = timm_prefix(layer.name)
            for torch_name, keras_name in BN_TENSORS:
                slots[f"{prefix}.{torch_name}"] = (getattr(layer, keras_name), None)
    return slots


def timm_state_dict(backbone: keras.Model) -> dict[str, np.ndarray]:
    """Our backbone's tensors under timm's names and layouts (the inverse of loading)."""
    state = {}
    for name, (variable, axes) in _slots(backbone).items():
        value = variable.numpy()
        state[name] = value if axes is None else np.transpose(value, np.argsort(axes))
    return state


def load_timm_state_dict(backbone: keras.Model, state: dict, source: str) -> None:
    """Assign timm's tensors to the backbone; any missing, unknown or misshaped tensor is a
    ValueError naming it (and `source`, the file or binding it came from)."""
    slots = _slots(backbone)
    used = {name for name in state if not SKIPPED.fullmatch(name)}
    missing, extra = sorted(set(slots) - used), sorted(used - set(slots))
    if missing or extra:
        raise ValueError(f"{source} is not timm's resnet50d state dict: missing "
                         f"{missing[:5]}{' ...' if len(missing) > 5 else ''} ({len(missing)}), "
                         f"unexpected {extra[:5]}{' ...' if len(extra) > 5 else ''} "
                         f"({len(extra)})")
    for name, (variable, axes) in sorted(slots.items()):
        value = np.asarray(state[name])
        value = value if axes is None else np.transpose(value, axes)
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(f"{source}: tensor {name!r} has shape {tuple(state[name].shape)}, "
                             f"which gives {tuple(value.shape)} where the model needs "
                             f"{tuple(variable.shape)}: not timm's resnet50d (or another "
                             "input channel count)")
        variable.assign(value.astype(variable.dtype))


def load_timm_npz(backbone: keras.Model, path: str,
                  binding: str = "resnet50d_backbone.imagenet_weights") -> None:
    """Load a `numpy.savez` file of timm's resnet50d state dict into the backbone."""
    if not str(path).endswith(".npz"):
        raise ValueError(f"{binding} = {path!r}: give a .npz written by numpy.savez of timm's "
                         "state dict (see continual/models/timm_resnet50d.py); .pth and "
                         ".safetensors files are not read here")
    if not os.path.isfile(path):
        raise ValueError(f"{binding} = {path!r}: no such file; write it with numpy.savez of "
                         "timm.create_model('resnet50d', pretrained=True).state_dict(), or "
                         "bind None for random initialisation")
    with np.load(path, allow_pickle=False) as archive:
        state = {name: archive[name] for name in archive.files}
    load_timm_state_dict(backbone, state, f"{binding} = {path!r}")
