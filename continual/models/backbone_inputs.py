"""What every classifier backbone builder shares: its non-gin arguments and the input check."""

from __future__ import annotations

# Set by `build_classifier` (from the data manifest and its own bindings), never bound in gin
# on a backbone: gin rejects a binding of these, so none is silently overridden.
BACKBONE_ARGS = ("input_shape", "bn_momentum", "bn_epsilon", "seed")


def check_image_shape(input_shape, *, owner: str, min_size: int = 1) -> tuple[int, int, int]:
    """Return `input_shape` as (H, W, C), or raise saying what `owner` needs.

    `min_size` is the backbone's total stride: a smaller image leaves its last stage without
    one input pixel per output position.
    """
    if input_shape is None or len(tuple(input_shape)) != 3:
        raise ValueError(f"{owner} needs input_shape = (height, width, channels) of the images, "
                         f"got {input_shape!r}; a record set of images of varying size must be "
                         "resized to one shape first.")
    shape = tuple(int(v) for v in input_shape)
    if min(shape) < 1:
        raise ValueError(f"{owner}: input_shape {shape} has a non-positive size.")
    if min(shape[:2]) < min_size:
        raise ValueError(f"{owner} downsamples by {min_size}, so it needs images of at least "
                         f"{min_size}x{min_size}; input_shape is {shape}. Use larger images or "
                         "a classifier with fewer strides (e.g. 'tiny_convnet' or 'mlp').")
    return shape
