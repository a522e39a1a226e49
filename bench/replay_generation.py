"""GAN replay throughput: stand-in generation and class-mapper labelling, in images/s.

Builds the offline stand-ins (generator at `--size` px, classifier) and a synthetic train set in
a temporary folder, then times, after a warm-up: the generator alone, `generate_class` end to
end (noise, generator, JPEG encoding, files, manifest) at batch 5 (RECALL) and 25, and
`map_classes` over the synthetic set (decode, classify, average). Prints a markdown table and
asserts nothing; numbers depend on the machine and its load.

Usage: python bench/replay_generation.py [--size 64] [--images 100] [--map_images 200]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run standalone from anywhere

import tensorflow as tf  # noqa: E402

from continual.data.shards import open_record_set  # noqa: E402
from continual.data.synthetic import generate_synthetic  # noqa: E402
from continual.replay.class_mapper import map_classes  # noqa: E402
from continual.replay.gan import class_noise, generate_class  # noqa: E402
from continual.replay.hub_models import load_classifier, load_generator  # noqa: E402
from continual.replay.standins import build_standins  # noqa: E402

IMAGENET_CLASS = 404  # the stand-in's aeroplane


def generator_rate(generator, batch: int, images: int) -> float:
    """Images/s of the generator call alone (noise made beforehand), after one warm-up call."""
    y = tf.one_hot([IMAGENET_CLASS] * batch, generator.num_classes)
    noise = [class_noise(generator.z_dim, batch, seed=0, imagenet_class=IMAGENET_CLASS,
                         batch=b, truncation=1.0) for b in range(max(1, images // batch) + 1)]
    generator(noise[0], y, 1.0).numpy()
    started = time.perf_counter()
    for z in noise[1:]:
        generator(z, y, 1.0).numpy()
    return (len(noise) - 1) * batch / (time.perf_counter() - started)


def generate_class_rate(generator, batch: int, images: int, out: Path) -> float:
    """Images/s of `generate_class` into a fresh folder (JPEGs and manifest included)."""
    generate_class(generator, imagenet_class=IMAGENET_CLASS, count=batch,
                   out_folder=out / f"warmup{batch}", batch_size=batch)
    started = time.perf_counter()
    generate_class(generator, imagenet_class=IMAGENET_CLASS, count=images,
                   out_folder=out / f"batch{batch}", batch_size=batch)
    return images / (time.perf_counter() - started)


def mapper_rate(classifier, data: Path) -> tuple[float, int]:
    """(images/s, images) of `map_classes` over every class of the synthetic train set."""
    manifest = open_record_set(data, "train")
    map_classes(classifier, manifest, voc_classes=[1])  # warm-up: pipeline and signature
    started = time.perf_counter()
    map_classes(classifier, manifest, batch_size=32)
    return manifest.num_records / (time.perf_counter() - started), manifest.num_records


def pseudo_label_rate(data: Path) -> tuple[float, int]:
    """Pseudo-labelling images/s: the demo segmenter (tiny encoder + ASPP-v2) over a record set,
    restricted argmax, crop back, PNG encode; the first image (trace) is excluded."""
    import gin

    from continual.data.pipeline import EncodedRecords
    from continual.data.shards import open_record_set
    from continual.models.segmenter import build_segmenter
    from continual.replay.labelling import predictions, restricted_argmax

    gin.parse_config(["build_encoder.backbone = 'tiny'", "aspp_v2.rates = (1, 2, 3, 4)"])
    segmenter = build_segmenter()
    manifest = open_record_set(data, "train")
    records = EncodedRecords.from_manifest(manifest)
    labelled = predictions(lambda x: restricted_argmax(segmenter(x), range(16)), records,
                           list(range(len(records))), pad_to=64,
                           mean_bgr=(104.0, 116.7, 122.7), desc="pseudo-labels")
    next(labelled)
    start = time.perf_counter()
    count = sum(1 for _ in labelled)
    return count / (time.perf_counter() - start), count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64, help="stand-in generator image side")
    parser.add_argument("--images", type=int, default=100, help="images per generation row")
    parser.add_argument("--map_images", type=int, default=200, help="synthetic train images")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        tmp = Path(tmp)
        with contextlib.redirect_stdout(io.StringIO()):
            built = build_standins(tmp / "standins", size=args.size)
            generate_synthetic(tmp / "data", size=args.size, num_train=args.map_images,
                               num_val=1)
        generator = load_generator(str(built["generator"]))
        classifier = load_classifier(str(built["classifier"]))
        rows = ["| what | image size | batch | images | images/s |", "|---|---|---|---|---|"]
        for batch in (5, 25):
            rate = generator_rate(generator, batch, args.images)
            rows.append(f"| generator call | {args.size} | {batch} | {args.images} | {rate:.0f} |")
            rate = generate_class_rate(generator, batch, args.images, tmp / "gan")
            rows.append(f"| generate_class (JPEG + manifest) | {args.size} | {batch} | "
                        f"{args.images} | {rate:.0f} |")
        rate, count = mapper_rate(classifier, tmp / "data")
        input_size = "x".join(map(str, classifier.input_size))
        rows.append(f"| class mapper (decode + classify) | {args.size} -> {input_size} | 32 | "
                    f"{count} | {rate:.0f} |")
        rate, count = pseudo_label_rate(tmp / "data")
        rows.append(f"| pseudo-labels (tiny DeepLab, argmax, PNG) | {args.size} | 1 | "
                    f"{count} | {rate:.0f} |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
