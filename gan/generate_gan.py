"""GAN replay images for RECALL: BigGAN-deep through TF-Hub, plus the class mapper.

  python gan/generate_gan.py [generate] --classes 404 aeroplane ... --per_class 500 --out DIR
      [--handle H] [--mapping mapping.json] [--truncation 1.0] [--batch 5] [--seed 0]
  python gan/generate_gan.py map --data DATA/ --out mapping.json [--classifier H]
      [--override person=981] [--classes ...]
  python gan/generate_gan.py standins --out DIR      (offline stand-in generator + classifier)
  python gan/generate_gan.py cache-path --handle H   (where to put a downloaded model offline)

Class folders go to DIR/<VOC name or ImageNet id as 4 digits>/; a complete folder is skipped,
a partial one resumes. See gan/README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run standalone from anywhere

from continual.data.shards import open_record_set  # noqa: E402
from continual.errors import InputError  # noqa: E402
from continual.replay import class_mapper, gan, hub_models, standins  # noqa: E402

COMMANDS = ("generate", "map", "standins", "cache-path")


def resolve_targets(classes: list[str] | None, mapping_path: str | None,
                    generator_classes: int | None) -> dict[str, int]:
    """{folder label: ImageNet id} from ImageNet ids and VOC names (looked up in the mapping);
    ids are checked against `generator_classes` when it is known."""
    mapping = (class_mapper.read_mapping(mapping_path, generator_classes)
               if mapping_path else None)
    if not classes:
        if mapping is None:
            raise InputError("give --classes (ImageNet ids or VOC names) or --mapping "
                             "(then every mapped class is generated)")
        classes = list(mapping)
    targets = {}
    for token in classes:
        if token.isdigit():
            imagenet_class = class_mapper.check_override(token, int(token), generator_classes,
                                                         "--classes")
            targets[gan.class_folder_name(imagenet_class)] = imagenet_class
        elif mapping is None:
            raise InputError(f"--classes {token!r} is a class name, which needs "
                             "--mapping FILE (made by `generate_gan.py map`); or give the "
                             "ImageNet id")
        elif token not in mapping:
            raise InputError(f"--classes {token!r} is not in {mapping_path} (it maps "
                             f"{', '.join(mapping)}); add it there or give the ImageNet id")
        else:
            targets[token] = int(mapping[token]["imagenet_class"])
    return targets


def run_generate(args: argparse.Namespace) -> None:
    resolve_targets(args.classes, args.mapping, None)  # bad names fail before the model loads
    generator = hub_models.load_generator(args.handle)
    print(f"generator {args.handle}: {generator.signature}")
    targets = resolve_targets(args.classes, args.mapping, generator.num_classes)
    folders = gan.generate_classes(generator, targets, args.out, count=args.per_class,
                                   truncation=args.truncation, batch_size=args.batch,
                                   seed=args.seed)
    for label, folder in folders.items():
        print(f"{label:<12} ImageNet {targets[label]:>4}  {folder}")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (argparse names the flag in its error)."""
    if not text.strip().lstrip("+").isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1")
    return int(text)


def truncation(text: str) -> float:
    """argparse type: BigGAN's truncation, in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{value} is outside (0, 1] (RECALL: 1.0)")
    return value


def _override(text: str) -> tuple[str, int]:
    name, _, value = text.partition("=")
    if not value.strip().isdigit():
        raise argparse.ArgumentTypeError(f"--override {text!r}: expected NAME=IMAGENET_ID, "
                                         "e.g. person=981")
    return name.strip(), int(value)


def run_map(args: argparse.Namespace) -> None:
    classifier = hub_models.load_classifier(args.classifier, output_kind=args.outputs)
    print(f"classifier {args.classifier}: {classifier.signature}")
    manifest = open_record_set(args.data, args.split)
    slot = {"auto": None, "yes": True, "no": False}[args.background_slot]
    voc_classes = [int(c) if c.isdigit() else c for c in args.classes] if args.classes else None
    size = (args.image_size, args.image_size) if args.image_size else None
    mapping = class_mapper.map_classes(
        classifier, manifest, voc_classes=voc_classes, batch_size=args.batch, image_size=size,
        overrides=dict(args.override), background_slot=slot,
        generator_classes=args.generator_classes)
    class_mapper.write_mapping(args.out, mapping)
    print(f"{'VOC class':<12}{'ImageNet':>9}{'score':>9}{'images':>8}  override")
    for name, entry in mapping.items():
        score = "-" if entry["score"] is None else f"{entry['score']:.3f}"
        print(f"{name:<12}{entry['imagenet_class']:>9}{score:>9}{entry['num_images']:>8}  "
              f"{'yes' if entry['override'] else ''}")
    print(f"mapping written to {args.out}")


def run_standins(args: argparse.Namespace) -> None:
    built = standins.build_standins(args.out, size=args.size, seed=args.seed,
                                    background_slot=args.background_slot)
    if args.tf1_generator:
        built["generator_tf1"] = standins.build_tf1_hub_generator(
            Path(args.out) / "generator_tf1", size=args.size, seed=args.seed)
    for name in ("generator", "generator_tf1", "classifier"):
        if name in built:
            print(f"{name:<14}{built[name]}")
    print("label ids of the synthetic classes:", built["class_ids"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="generate replay images per class")
    gen.add_argument("--handle", default=hub_models.DEFAULT_GENERATOR, help="TF-Hub generator")
    gen.add_argument("--classes", nargs="+", help="ImageNet ids and/or VOC names (need --mapping)")
    gen.add_argument("--per_class", type=positive_int, default=500,
                     help="images per class (RECALL: 500)")
    gen.add_argument("--truncation", type=truncation, default=1.0, help="in (0, 1]")
    gen.add_argument("--batch", type=positive_int, default=5,
                     help="generator batch size (RECALL: 5)")
    gen.add_argument("--mapping", help="class-mapper JSON: VOC name -> ImageNet id")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", default="data/replay_images/gan",
                     help="output folder of the class folders (GanReplay.folder points here)")
    gen.set_defaults(run=run_generate)
    mapper = sub.add_parser("map", help="map VOC classes to generator classes with a classifier")
    mapper.add_argument("--classifier", default=hub_models.DEFAULT_CLASSIFIER)
    mapper.add_argument("--data", required=True,
                        help="record-set folder with <split>.manifest.json")
    mapper.add_argument("--split", default="train")
    mapper.add_argument("--classes", nargs="+", help="VOC names or ids (default: all present)")
    mapper.add_argument("--override", type=_override, action="append", default=[],
                        metavar="NAME=ID", help="force a class's ImageNet id (repeatable)")
    mapper.add_argument("--out", required=True, help="mapping JSON to write")
    mapper.add_argument("--batch", type=positive_int, default=16)
    mapper.add_argument("--image_size", type=positive_int,
                        help="resize to this square size first")
    mapper.add_argument("--background_slot", choices=("auto", "yes", "no"), default="auto")
    mapper.add_argument("--outputs", choices=hub_models.OUTPUT_KINDS, default="logits")
    mapper.add_argument("--generator_classes", type=int, default=class_mapper.GENERATOR_CLASSES)
    mapper.set_defaults(run=run_map)
    stand = sub.add_parser("standins", help="build the offline stand-in generator + classifier")
    stand.add_argument("--out", required=True)
    stand.add_argument("--size", type=positive_int, default=64)
    stand.add_argument("--seed", type=int, default=0)
    stand.add_argument("--background_slot", action="store_true", help="1001-output classifier")
    stand.add_argument("--tf1_generator", action="store_true", help="also a TF1 Hub-format one")
    stand.set_defaults(run=run_standins)
    where = sub.add_parser("cache-path", help="print the TFHUB_CACHE_DIR folder of a handle")
    where.add_argument("--handle", default=hub_models.DEFAULT_GENERATOR)
    where.set_defaults(run=lambda args: print(hub_models.cache_folder(args.handle)))
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
        argv.insert(0, "generate")  # `generate` is the default command
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except InputError as err:  # argparse exits 2 for bad flags; input errors exit 2 too
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from err


if __name__ == "__main__":
    main()
