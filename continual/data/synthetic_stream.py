"""The ports' embedded default: a generated classification stream with domains and object runs.

    python -m continual.data.synthetic_stream --out data/stream [--num_classes 10] \\
        [--size 32] [--train_per_class 200] [--test_per_class 50] [--imbalance 1] \\
        [--domains 2] [--run_length 8] [--seed 0]

Each class is one object kind, a (shape, hue, texture) triple: with five hues, eight shapes and
four textures, classes c and c + 5 share a hue and c and c + 8 a shape, so no single cue
separates all classes. Every object varies in position, size, angle, hue, saturation and
brightness, on its own dull gradient background.

`train` is a stream: objects are seen in runs of `run_length` consecutive frames (one `group`
id, one class, small jitter between frames, video-like), the runs of all classes shuffled.
The stream visits the `domains` looks in contiguous blocks, cycling three times (day, night,
day, night, ... like SSLAD's six experiences); domain d > 0 darkens the image, casts a colour
over it and adds noise. Class c has `train_per_class * imbalance ** (-c / (C - 1))` frames,
so class 0 is the most and class C - 1 the least frequent. `test` holds `test_per_class`
independent objects per class (own groups), classes interleaved, domains balanced per class.
Every record's `time` is its position in write order.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import gin
import numpy as np

from continual.data.classification import ClassificationSample, write_classification_set
from continual.data.shapes import (
    SHAPES,
    TEXTURES,
    hsv_colour,
    noisy_background,
    shape_mask,
    texture_pattern,
)
from continual.data.shards import open_record_set
from continual.data.synthetic import existing_set
from continual.errors import InputError, reports_input_errors

GENERATOR_VERSION = 1  # bump whenever the drawing or the stream order changes
SPLITS = ("train", "test")
HUES = 5
MAX_CLASSES = len(SHAPES) * HUES * len(TEXTURES)  # distinct (shape, hue, texture) triples
DOMAIN_CYCLES = 3
PLAN_KEY = 2**31 - 1  # rng stream of the run order, apart from every object's stream


@dataclasses.dataclass(frozen=True)
class StreamItem:
    """One record to draw: its class, object run, frame within the run, and look."""

    label: int
    group: int
    frame: int
    domain: int


def class_look(class_id: int) -> tuple[str, float, str]:
    """(shape, hue in turns, texture) of a class; unique for ids below MAX_CLASSES."""
    cycle = class_id // (len(SHAPES) * HUES)  # shifts the texture once shape and hue repeat
    return (SHAPES[class_id % len(SHAPES)], (class_id % HUES) / HUES,
            TEXTURES[(class_id + cycle) % len(TEXTURES)])


def domain_look(domain: int, domains: int) -> tuple[float, np.ndarray, float]:
    """(brightness gain, RGB colour cast, noise sigma) of a domain; domain 0: plain, light noise."""
    strength = domain / max(domains - 1, 1)
    tint = hsv_colour(0.62 + 0.29 * (domain - 1), 1.0, 1.0) - 0.5
    return 1.0 - 0.5 * strength, 1.0 + 0.35 * strength * tint, 0.02 + 0.06 * strength


def draw_frame(seed: int, split: str, item: StreamItem, size: int, channels: int,
               domains: int) -> np.ndarray:
    """uint8 [size, size, channels] image of one frame of one object."""
    obj = np.random.default_rng([seed, SPLITS.index(split), item.group])
    jitter = np.random.default_rng([seed, SPLITS.index(split), item.group, item.frame + 1])
    shape, hue, texture = class_look(item.label)
    image = noisy_background(obj, size)
    radius = obj.uniform(0.22, 0.36) * size * np.exp(jitter.normal(0.0, 0.05))
    centre = obj.uniform(0.8 * radius, size - 0.8 * radius, 2) + jitter.normal(0, 0.03 * size, 2)
    angle = obj.uniform(-0.35, 0.35) + jitter.normal(0.0, 0.05)
    mask = shape_mask(shape, size, (centre[0], centre[1]), radius, angle)
    hue += obj.uniform(-0.03, 0.03)
    saturation, value = obj.uniform(0.5, 0.9), obj.uniform(0.55, 0.95)
    second = hsv_colour(hue, 0.25 * saturation, 1.0) if texture == "dots" else hsv_colour(
        hue, saturation, 0.5 * value)
    pattern = texture_pattern(texture, size, max(3.0, size / 8), angle + np.pi / 4, obj.random())
    layer = np.where(pattern[..., None], second, hsv_colour(hue, saturation, value))
    image[mask] = layer[mask]
    gain, cast, noise = domain_look(item.domain, domains)
    image = image * gain * cast + jitter.normal(0.0, noise, image.shape)
    image = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    if channels == 1:
        return np.round(image @ np.float32([0.299, 0.587, 0.114]))[..., None].astype(np.uint8)
    return image


def class_counts(num_classes: int, per_class: int, imbalance: float) -> list[int]:
    """Train frames per class: geometric from `per_class` (class 0) down to per_class/imbalance."""
    steps = np.arange(num_classes) / max(num_classes - 1, 1)
    return [max(1, round(per_class * imbalance ** -s)) for s in steps]


def train_plan(params: dict) -> list[StreamItem]:
    """The train stream: shuffled object runs, domains in contiguous blocks cycling 3 times."""
    run_length, domains = params["run_length"], params["domains"]
    runs = [(label, min(run_length, count - start))
            for label, count in enumerate(class_counts(params["num_classes"],
                                                       params["train_per_class"],
                                                       params["imbalance"]))
            for start in range(0, count, run_length)]
    blocks = domains * DOMAIN_CYCLES
    if len(runs) < blocks:
        raise InputError(f"generate_stream_set: only {len(runs)} object runs for {blocks} domain "
                         "blocks; lower --run_length or --domains, or raise --train_per_class")
    order = np.random.default_rng([params["seed"], PLAN_KEY]).permutation(len(runs))
    return [StreamItem(runs[r][0], group, frame, (group * blocks // len(runs)) % domains)
            for group, r in enumerate(order) for frame in range(runs[r][1])]


def test_plan(params: dict, first_group: int) -> list[StreamItem]:
    """`test_per_class` single-frame objects per class, classes interleaved, domains cycling."""
    num_classes = params["num_classes"]
    return [StreamItem(label, first_group + i * num_classes + label, 0, i % params["domains"])
            for i in range(params["test_per_class"]) for label in range(num_classes)]


def _samples(params: dict, split: str, plan: list[StreamItem]) -> Iterator[ClassificationSample]:
    for time, item in enumerate(plan):
        image = draw_frame(params["seed"], split, item, params["size"], params["channels"],
                           params["domains"])
        yield ClassificationSample(image, item.label, f"{split}_{time:06d}", time=time,
                                   domain=item.domain, group=item.group)


def _check_params(params: dict) -> None:
    rules = {"num_classes": (2, MAX_CLASSES), "size": (12, 512), "train_per_class": (1, None),
             "test_per_class": (1, None), "domains": (1, 16), "run_length": (1, None),
             "seed": (0, None), "records_per_shard": (1, None)}
    for name, (low, high) in rules.items():
        value = params[name]
        if not isinstance(value, int) or value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"in {low}..{high}"
            raise InputError(f"generate_stream_set.{name} (--{name}) must be an integer {bounds}, "
                             f"got {value!r}")
    if params["channels"] not in (1, 3):
        raise InputError(f"generate_stream_set.channels must be 1 or 3, got {params['channels']}")
    if not params["imbalance"] >= 1:
        raise InputError("generate_stream_set.imbalance (--imbalance) is the ratio of the most "
                         f"to the least frequent class and must be >= 1, got {params['imbalance']}")


@gin.configurable
def generate_stream_set(out_dir: str | os.PathLike, num_classes: int = 10, size: int = 32,
                        channels: int = 3, train_per_class: int = 200, test_per_class: int = 50,
                        imbalance: float = 1.0, domains: int = 2, run_length: int = 8,
                        seed: int = 0, records_per_shard: int = 2000) -> dict:
    """Write (or reuse) `<out_dir>/train` and `<out_dir>/test`; returns a summary per split.

    A split whose manifest records the same parameters is skipped.
    """
    params = {"num_classes": num_classes, "size": size, "channels": channels,
              "train_per_class": train_per_class, "test_per_class": test_per_class,
              "imbalance": float(imbalance), "domains": domains, "run_length": run_length,
              "seed": seed, "records_per_shard": records_per_shard}
    _check_params(params)
    train = train_plan(params)
    plans = {"train": train, "test": test_plan(params, train[-1].group + 1)}
    splits = {}
    for split in SPLITS:
        source = {"dataset": "synthetic_stream", "generator_version": GENERATOR_VERSION,
                  "split": split, **params}
        manifest, reason = existing_set(Path(out_dir), split, source)
        skipped = manifest is not None
        if not skipped:
            write_classification_set(out_dir, split, _samples(params, split, plans[split]),
                                     num_classes=num_classes, source=source,
                                     class_names=[f"class_{c}" for c in range(num_classes)],
                                     records_per_shard=records_per_shard)
            manifest = open_record_set(out_dir, split)
        print(f"{split}: {'up to date, skipped' if skipped else 'written'} ({reason}) in "
              f"{out_dir}")
        splits[split] = {"manifest": str(manifest.path), "num_images": manifest.num_records,
                         "class_counts": manifest.class_counts(),
                         "content_hash": manifest.content_hash, "skipped": skipped}
    return {"out_dir": str(out_dir), "splits": splits}


@reports_input_errors
def main(argv: list[str] | None = None) -> int:
    """CLI entry point; prints `error: ...` (no traceback) and returns 2 on bad input."""
    parser = argparse.ArgumentParser(prog="python -m continual.data.synthetic_stream",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="data folder for the train and test sets")
    for name, kind, default in (("num_classes", int, 10), ("size", int, 32), ("channels", int, 3),
                                ("train_per_class", int, 200), ("test_per_class", int, 50),
                                ("imbalance", float, 1.0), ("domains", int, 2),
                                ("run_length", int, 8), ("seed", int, 0),
                                ("records_per_shard", int, 2000)):
        parser.add_argument(f"--{name}", type=kind, default=default)
    args = vars(parser.parse_args(argv))
    summary = generate_stream_set(args.pop("out"), **args)
    for split, info in summary["splits"].items():
        counts = ", ".join(str(n) for _, n in sorted(info["class_counts"].items()))
        print(f"{split}: {info['num_images']} images ({info['manifest']}); per class: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
