"""Drawing primitives of the synthetic segmentation dataset: shapes, textures, backgrounds.

Everything is drawn with numpy on coordinate grids, so a mask is exact (a pixel is inside a
shape or not) and one 64 px image costs well under a millisecond. Images are float RGB in
[0, 1] until the caller quantises them.
"""

from __future__ import annotations

import colorsys
import functools

import numpy as np

SHAPES = ("disc", "square", "triangle", "ring", "cross", "diamond", "bar", "star")
TEXTURES = ("solid", "stripes", "checker", "dots")

_SQRT3 = np.float32(np.sqrt(3.0))


@functools.lru_cache(maxsize=8)
def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(y, x) coordinates of the pixel centres of a size x size image (read-only arrays)."""
    coords = np.arange(size, dtype=np.float32) + 0.5
    y, x = np.meshgrid(coords, coords, indexing="ij")
    y.flags.writeable = False
    x.flags.writeable = False
    return y, x


def _rotated(size: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates rotated by `angle` (radians) about the origin."""
    y, x = pixel_grid(size)
    cos, sin = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    return cos * x + sin * y, -sin * x + cos * y


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Five-pointed star pointing up: outer radius 1.1, inner radius 0.5."""
    theta = np.arctan2(v, u) + np.pi / 2  # 0 = pointing up
    sector = 2 * np.pi / 5
    phi = np.abs(np.mod(theta, sector) - sector / 2)  # 0 at an inner vertex ... pi/5 at a tip
    phi = sector / 2 - phi  # 0 at a tip
    rho = np.hypot(u, v)
    px, py = rho * np.cos(phi), rho * np.sin(phi)
    outer, inner = 1.1, 0.5
    bx, by = inner * np.cos(sector / 2), inner * np.sin(sector / 2)
    # Inside when on the origin's side of the edge from the tip (outer, 0) to the inner vertex.
    return (bx - outer) * py - by * (px - outer) >= 0


_SHAPE_TESTS = {
    "disc": lambda u, v: u * u + v * v <= 1.0,
    "square": lambda u, v: np.maximum(np.abs(u), np.abs(v)) <= 0.82,
    "triangle": lambda u, v: (v <= 0.6) & (v >= _SQRT3 * np.abs(u) - 1.2),
    "ring": lambda u, v: (u * u + v * v <= 1.0) & (u * u + v * v >= 0.28),
    "cross": lambda u, v: ((np.abs(u) <= 0.34) & (np.abs(v) <= 1.0))
    | ((np.abs(v) <= 0.34) & (np.abs(u) <= 1.0)),
    "diamond": lambda u, v: np.abs(u) + np.abs(v) <= 1.12,
    "bar": lambda u, v: (np.abs(u) <= 1.15) & (np.abs(v) <= 0.45),
    "star": _star,
}


def shape_mask(shape: str, size: int, center: tuple[float, float], radius: float,
               angle: float = 0.0) -> np.ndarray:
    """Boolean size x size mask of `shape` centred at (y, x) `center`, about `radius` px."""
    if shape not in _SHAPE_TESTS:
        raise ValueError(f"unknown shape {shape!r}; expected one of {', '.join(SHAPES)}")
    y, x = pixel_grid(size)
    cos, sin = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    dy, dx = y - np.float32(center[0]), x - np.float32(center[1])
    u = (cos * dx + sin * dy) / np.float32(radius)
    v = (-sin * dx + cos * dy) / np.float32(radius)
    return _SHAPE_TESTS[shape](u, v)


def texture_pattern(texture: str, size: int, period: float, angle: float = 0.0,
                    phase: float = 0.0) -> np.ndarray:
    """Boolean size x size map of where a texture shows its second shade (all False: solid).

    `period` is the repeat in pixels; `phase` (0..1) shifts the pattern so instances differ.
    """
    if texture == "solid":
        return np.zeros((size, size), bool)
    a, b = _rotated(size, angle)
    a = a / np.float32(period) + np.float32(phase)
    b = b / np.float32(period) + np.float32(phase)
    if texture == "stripes":
        return np.floor(2 * a).astype(np.int32) % 2 == 1
    if texture == "checker":
        return (np.floor(2 * a).astype(np.int32) + np.floor(2 * b).astype(np.int32)) % 2 == 1
    if texture == "dots":
        return np.hypot(a - np.floor(a) - 0.5, b - np.floor(b) - 0.5) <= 0.3
    raise ValueError(f"unknown texture {texture!r}; expected one of {', '.join(TEXTURES)}")


def hsv_colour(hue: float, saturation: float, value: float) -> np.ndarray:
    """RGB float32 triple in [0, 1] of an HSV colour (hue in turns, wrapped)."""
    rgb = colorsys.hsv_to_rgb(hue % 1.0, min(max(saturation, 0.0), 1.0), min(max(value, 0.0), 1.0))
    return np.asarray(rgb, np.float32)


def noisy_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A dull-coloured linear gradient plus a faint ripple and pixel noise, new for each image.

    Saturation stays low so that object colours, not the background, carry the class hue,
    while the gradient, ripple and noise keep "background" from being a constant colour.
    """
    y, x = pixel_grid(size)
    hue, saturation = rng.random(), rng.uniform(0.03, 0.3)
    start = hsv_colour(hue, saturation, rng.uniform(0.2, 0.8))
    end = hsv_colour(hue + rng.uniform(-0.15, 0.15), saturation, rng.uniform(0.2, 0.8))
    direction = rng.uniform(0, 2 * np.pi)
    t = ((x - size / 2) * np.cos(direction) + (y - size / 2) * np.sin(direction)) / size + 0.5
    t = np.clip(t, 0.0, 1.0)[..., None]
    image = start * (1 - t) + end * t
    freq = rng.uniform(1.0, 4.0, size=2) / size
    ripple = 0.05 * np.sin(2 * np.pi * (freq[0] * x + freq[1] * y) + rng.uniform(0, 2 * np.pi))
    image = image + ripple[..., None] + rng.normal(0.0, 0.035, (size, size, 3))
    return image.astype(np.float32)


def boundary_band(instances: np.ndarray) -> np.ndarray:
    """Pixels of an object (instance > 0) that touch a different instance or the background.

    This is the 1-pixel void band that VOC draws along object outlines (4-neighbourhood).
    """
    edge = np.zeros(instances.shape, bool)
    vertical = instances[:-1, :] != instances[1:, :]
    horizontal = instances[:, :-1] != instances[:, 1:]
    edge[:-1, :] |= vertical
    edge[1:, :] |= vertical
    edge[:, :-1] |= horizontal
    edge[:, 1:] |= horizontal
    return edge & (instances > 0)
