"""TF-Hub models of the GAN replay source: the class-conditional generator and the classifier.

Both load with `hub.load(handle)`: a URL, a local folder, a TF2 SavedModel or a TF1 Hub-format
module (whose `signatures["default"]` returns {"default": ...}). `TFHUB_CACHE_DIR` is honoured
by hub itself: a model folder placed at `$TFHUB_CACHE_DIR/<sha1(handle)>` loads by the handle
string with no network. The loaded model's signature is checked here, once, so a wrong model
fails with the signature it has and the one expected, not deep inside generation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import types
import warnings
from pathlib import Path
from typing import Any

import tensorflow as tf

from continual.errors import InputError

DEFAULT_GENERATOR = "https://tfhub.dev/deepmind/biggan-deep-512/1"
DEFAULT_CLASSIFIER = "https://tfhub.dev/google/efficientnet/b2/classification/1"
EXPECTED_GENERATOR = ("(z: float32[N, z_dim], y: float32[N, num_classes] one-hot, "
                      "truncation: float32[]) -> images float32[N, H, W, 3] in [-1, 1]")
EXPECTED_CLASSIFIER = "(images: float32[N, H, W, 3] in [0, 1]) -> float32[N, K]"
OUTPUT_KINDS = ("logits", "probabilities")


class HubModelError(InputError):
    """A TF-Hub handle that cannot be loaded or whose model has the wrong signature."""


def import_hub() -> types.ModuleType:
    """`tensorflow_hub` (imported on first use: it loads tf_keras, which costs a few seconds).

    tensorflow-hub 0.16.1 imports `pkg_resources`; Pipfile pins setuptools 80.9.0, the last
    line that ships it, and its deprecation warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated",
                                category=UserWarning)
        import tensorflow_hub

    return tensorflow_hub


def cache_folder(handle: str) -> Path:
    """Where hub looks for `handle` before downloading it: TFHUB_CACHE_DIR/<sha1(handle)>."""
    root = os.environ.get("TFHUB_CACHE_DIR") or os.path.join(tempfile.gettempdir(),
                                                             "tfhub_modules")
    return Path(root) / hashlib.sha1(handle.encode("utf-8")).hexdigest()


def load_module(handle: str) -> Any:
    """`hub.load(handle)`, with an error that says what a handle must be when it fails."""
    hub = import_hub()
    try:
        return hub.load(str(handle))
    except (OSError, ValueError, tf.errors.OpError) as err:
        raise HubModelError(
            f"cannot load TF-Hub model {handle!r}: {err}. Expected a URL reachable from here, a "
            f"local SavedModel folder (holding saved_model.pb), or, offline, the model's "
            f"extracted folder placed at {cache_folder(str(handle))} (TFHUB_CACHE_DIR/"
            f"sha1(handle)); `python gan/generate_gan.py cache-path --handle H` prints it") from err


@dataclasses.dataclass(frozen=True)
class Entry:
    """One callable of a loaded model: a named signature or the object's `__call__`."""

    name: str
    inputs: dict  # input name -> TensorSpec (signature) or positional index -> TensorSpec
    outputs: dict  # output key -> TensorSpec / Tensor; {"": spec} for a bare tensor
    call: Any
    keyword: bool  # signatures take keyword tensors and return dicts


def _spec_text(spec) -> str:
    shape = ", ".join("None" if d is None else str(d) for d in spec.shape.as_list()) \
        if spec.shape.rank is not None else "..."
    return f"{spec.dtype.name}[{shape}]"


def describe(entry: Entry) -> str:
    """One line such as `default(z: float32[None, 128], ...) -> {default: float32[...]}`."""
    args = ", ".join(f"{name}: {_spec_text(spec)}" for name, spec in entry.inputs.items())
    outs = ", ".join(f"{key}: {_spec_text(spec)}" if key else _spec_text(spec)
                     for key, spec in entry.outputs.items())
    return f"{entry.name}({args}) -> {{{outs}}}"


def model_entries(module) -> list[Entry]:
    """Every callable the loaded model offers: its signatures, then its `__call__` traces."""
    entries = []
    for name, fn in sorted(getattr(module, "signatures", {}).items()):
        outputs = fn.structured_outputs
        outputs = outputs if isinstance(outputs, dict) else {"": outputs}
        entries.append(Entry(name, dict(fn.structured_input_signature[1]), outputs, fn, True))
    call = module.__call__ if callable(module) else None
    for fn in getattr(call, "concrete_functions", []):
        positional = fn.structured_input_signature[0]
        if all(isinstance(spec, tf.TensorSpec) for spec in positional):
            inputs = {spec.name or f"arg{i}": spec for i, spec in enumerate(positional)}
            outputs = fn.structured_outputs
            outputs = outputs if isinstance(outputs, dict) else {"": outputs}
            entries.append(Entry("__call__", inputs, outputs, module, False))
    return entries


def _single_output(entry: Entry):
    """(key, spec) of the entry's one output, preferring "default"; None when ambiguous."""
    if "default" in entry.outputs:
        return "default", entry.outputs["default"]
    if len(entry.outputs) == 1:
        return next(iter(entry.outputs.items()))
    return None


def _rank(spec) -> int | None:
    return spec.shape.rank


def _no_match(handle: str, entries: list[Entry], expected: str) -> HubModelError:
    found = "; ".join(describe(e) for e in entries) or "no signatures and no __call__"
    return HubModelError(f"TF-Hub model {handle!r} has no callable of the expected signature "
                         f"{expected}; found: {found}. Use a model with that signature.")


def invoke(entry: Entry, out_key: str, args: dict) -> tf.Tensor:
    """Call an entry with named tensors; return its one output tensor."""
    if entry.keyword:
        return entry.call(**args)[out_key]
    result = entry.call(*args.values())
    return result[out_key] if isinstance(result, dict) else result


def _static(spec, axis: int) -> int | None:
    return spec.shape.as_list()[axis] if spec.shape.rank else None


@dataclasses.dataclass(frozen=True)
class Generator:
    """A class-conditional generator: `generator(z, y, truncation)` -> images in [-1, 1]."""

    handle: str
    entry: Entry
    out_key: str
    z_dim: int
    num_classes: int  # width of the one-hot `y`
    signature: str

    def __call__(self, z, y, truncation) -> tf.Tensor:
        """Images float32 [N,H,W,3] in [-1, 1] for z [N,z_dim], one-hot y [N,num_classes]."""
        args = {"z": tf.convert_to_tensor(z, tf.float32), "y": tf.convert_to_tensor(y, tf.float32),
                "truncation": tf.convert_to_tensor(truncation, tf.float32)}
        return tf.cast(invoke(self.entry, self.out_key, args), tf.float32)


def _as_generator(entry: Entry) -> tuple[dict, str] | None:
    """({z, y, truncation} specs, output key) when `entry` has the generator signature."""
    if entry.keyword:
        if set(entry.inputs) != {"z", "y", "truncation"}:
            return None
        specs = entry.inputs
    elif len(entry.inputs) == 3:
        specs = dict(zip(("z", "y", "truncation"), entry.inputs.values(), strict=True))
    else:
        return None
    if [_rank(specs[k]) for k in ("z", "y", "truncation")] != [2, 2, 0]:
        return None
    output = _single_output(entry)
    if output is None or _rank(output[1]) != 4 or _static(output[1], 3) not in (3, None):
        return None
    return specs, output[0]


def load_generator(handle: str = DEFAULT_GENERATOR) -> Generator:
    """Load a BigGAN-like generator; prefers the "default" signature (TF1 Hub format).

    Raises HubModelError when the handle cannot be loaded, or the model has no callable
    (z [N,z_dim], y [N,num_classes], truncation []) -> images [N,H,W,3] with declared widths.
    """
    entries = model_entries(load_module(handle))
    for entry in sorted(entries, key=lambda e: e.name != "default"):
        match = _as_generator(entry)
        if match is None:
            continue
        specs, out_key = match
        z_dim, num_classes = _static(specs["z"], 1), _static(specs["y"], 1)
        if z_dim is None or num_classes is None:
            raise HubModelError(f"TF-Hub model {handle!r}: {describe(entry)} does not declare "
                                "the width of z and of the one-hot y; expected "
                                f"{EXPECTED_GENERATOR} with fixed z_dim and num_classes")
        return Generator(handle, entry, out_key, z_dim, num_classes, describe(entry))
    raise _no_match(handle, entries, EXPECTED_GENERATOR)


@dataclasses.dataclass(frozen=True)
class Classifier:
    """An image classifier: `classifier(images in [0,1])` -> [N, num_outputs].

    `output_kind` says what the numbers are: "logits" (TF-Hub's ImageNet classifiers, e.g.
    EfficientNet and MobileNet "classification" models, and our stand-in) or
    "probabilities"; the class mapper applies a softmax to logits only.
    """

    handle: str
    entry: Entry
    in_key: str
    out_key: str
    input_size: tuple[int, int] | None  # (height, width) the model declares, else None
    num_outputs: int | None
    output_kind: str
    signature: str

    def __call__(self, images) -> tf.Tensor:
        """Scores float32 [N, K] of images float32 [N,H,W,3] in [0, 1] (resized if needed)."""
        images = tf.convert_to_tensor(images, tf.float32)
        if self.input_size is not None and tuple(images.shape[1:3]) != self.input_size:
            images = tf.image.resize(images, self.input_size, method="bilinear")
        return tf.cast(invoke(self.entry, self.out_key, {self.in_key: images}), tf.float32)


def _as_classifier(entry: Entry) -> tuple[str, str] | None:
    """(input name, output key) when `entry` maps one image batch to [N, K] scores."""
    if len(entry.inputs) != 1:
        return None
    name, spec = next(iter(entry.inputs.items()))
    output = _single_output(entry)
    if _rank(spec) != 4 or _static(spec, 3) not in (3, None) or output is None \
            or _rank(output[1]) != 2:
        return None
    return name, output[0]


def load_classifier(handle: str = DEFAULT_CLASSIFIER, *, output_kind: str = "logits") -> Classifier:
    """Load an image classifier; prefers the "default" signature (TF1 Hub format).

    Raises HubModelError when the handle cannot be loaded or the model has no callable
    images [N,H,W,3] -> [N,K].
    """
    if output_kind not in OUTPUT_KINDS:
        raise ValueError(f"output_kind = {output_kind!r}; expected one of {OUTPUT_KINDS}")
    entries = model_entries(load_module(handle))
    for entry in sorted(entries, key=lambda e: e.name != "default"):
        match = _as_classifier(entry)
        if match is None:
            continue
        spec, output = entry.inputs[match[0]], entry.outputs[match[1]]
        size = (_static(spec, 1), _static(spec, 2))
        return Classifier(handle, entry, match[0], match[1], None if None in size else size,
                          _static(output, 1), output_kind, describe(entry))
    raise _no_match(handle, entries, EXPECTED_CLASSIFIER)
