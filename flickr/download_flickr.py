"""Download RECALL's Flickr web replay images: one folder of JPEGs + manifest per VOC class.

    python flickr/download_flickr.py --out data/replay_images/flickr [--classes aeroplane cat ...]
        [--per_class 1000] [--keywords keywords.json | cat=kitten ...] [--key_file keys.json]

Keys: FLICKR_API_KEY / FLICKR_API_SECRET or --key_file (see flickr/README.md). A rerun resumes:
complete classes are skipped, partial ones continue. A photo whose download still fails after
its retries is skipped for now; a class left short by such failures is not finished, the other
classes go on, and the run ends with exit code 2 saying how many failed: rerun to retry them.
Exit code 2 on errors, with the reason.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `continual` is not installed
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
from collections.abc import Callable  # noqa: E402

from tqdm.contrib.logging import logging_redirect_tqdm  # noqa: E402

from continual.errors import reports_input_errors  # noqa: E402
from continual.replay.flickr import (  # noqa: E402
    FLICKR_REST_URL,
    RECALL_KEYWORDS,
    DownloadsFailed,
    FlickrDownloadError,
    class_keywords,
    download_class,
    load_keys,
    make_client,
)
from continual.replay.folders import read_class_manifest  # noqa: E402
from continual.replay.web_images import RequestPolicy  # noqa: E402

LOG = logging.getLogger("download_flickr")


def positive(kind: type) -> Callable[[str], float]:
    """argparse type: a number of `kind` above zero."""
    def convert(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return convert


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    count, number = positive(int), positive(float)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--out", type=Path, default=Path("data/replay_images/flickr"),
        help="root of the class folders (default: WebReplay.folder's default)")
    add("--classes", nargs="+", default=list(RECALL_KEYWORDS),
        help="VOC class names (default: all 20, VOC order)")
    add("--per_class", type=count, default=1000, help="images per class")
    add("--keywords", nargs="+", default=[], metavar="FILE_OR_CLASS=KEYWORD",
        help="keyword overrides: a JSON file {class: keyword} or class=keyword")
    add("--key_file", type=Path, help="JSON {api_key, api_secret}, or key and secret lines")
    add("--rest_url", default=FLICKR_REST_URL, help="Flickr REST endpoint")
    add("--license", nargs="+", type=int, help="keep only these Flickr licence ids")
    add("--safe_search", type=int, choices=(1, 2, 3), help="Flickr safe search level")
    add("--dedup", action="store_true",
        help="drop byte-identical images (default: keep them, as the original does)")
    add("--min_side", type=count, default=1,
        help="smallest width/height kept (default 1: no rejection, as the original)")
    add("--jpeg_only", action="store_true", help="reject images that are not JPEG")
    add("--max_pixels", type=count, default=40_000_000,
        help="largest width*height accepted (checked before decoding)")
    add("--per_page", type=count, default=50, help="search results per page (max 500)")
    add("--timeout", type=number, default=30.0, help="seconds per request")
    add("--max_retries", type=int, default=5, choices=range(21), metavar="0..20")
    add("--api_rps", type=number, default=1.0, help="max API calls per second")
    add("--download_rps", type=number, default=5.0, help="max image downloads per second")
    add("--no_progress", action="store_true", help="no progress bars")
    add("--finish_despite_failures", action="store_true",
        help="finish a class short of --per_class even when downloads failed (default: leave "
             "it unfinished, so that a rerun retries them)")
    return parser.parse_args(argv)


def keyword_overrides(items: list[str]) -> dict[str, str]:
    """{class: keyword} from `class=keyword` items and JSON files."""
    overrides = {}
    for item in items:
        if "=" in item:
            name, keyword = item.split("=", 1)
            overrides[name.strip()] = keyword.strip()
            continue
        try:
            data = json.loads(Path(item).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise FlickrDownloadError(f"--keywords {item}: not a class=keyword pair nor a "
                                      f"readable JSON file ({err})") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise FlickrDownloadError(f"--keywords {item}: expected a JSON object "
                                      '{"class": "keyword", ...}')
        overrides.update(data)
    return overrides


def download(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """Download every class; returns one line per class that the search left short of
    --per_class, and one per class left unfinished by failed downloads."""
    keywords = class_keywords(args.classes, keyword_overrides(args.keywords))
    client = make_client(*load_keys(args.key_file), rest_url=args.rest_url)
    policy = RequestPolicy(timeout_s=args.timeout, max_retries=args.max_retries,
                           api_rps=args.api_rps, download_rps=args.download_rps)
    shortfalls, unfinished = [], []
    for voc_class, keyword in keywords.items():
        try:
            folder = download_class(
                client, voc_class=voc_class, keyword=keyword, count=args.per_class,
                out_folder=args.out, license=args.license, safe_search=args.safe_search,
                dedup=args.dedup, min_side=args.min_side, max_pixels=args.max_pixels,
                jpeg_only=args.jpeg_only, per_page=args.per_page, policy=policy,
                progress_bar=not args.no_progress,
                finish_despite_failures=args.finish_despite_failures)
        except DownloadsFailed as err:
            unfinished.append(str(err))
            continue
        count = read_class_manifest(folder)["count"]
        if count < args.per_class:
            shortfalls.append(f"{voc_class}: {count} of {args.per_class} ({keyword!r})")
    return shortfalls, unfinished


@reports_input_errors  # keys, API, replay folder, temporary files, a full disk
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("flickrapi").setLevel(logging.WARNING)  # one INFO line per API call
    try:
        with logging_redirect_tqdm():
            shortfalls, unfinished = download(args)
    except KeyboardInterrupt:
        print("download_flickr: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    for line in shortfalls:
        LOG.warning("shortfall (search ran out) %s", line)
    for line in unfinished:
        print(f"error: {line}", file=sys.stderr)
    if unfinished:
        classes = f"{len(unfinished)} class{'es' if len(unfinished) > 1 else ''}"
        print(f"download_flickr: {classes} under {args.out} unfinished because downloads "
              "failed; rerun the same command to retry them", file=sys.stderr)
        return 2
    print(f"download_flickr: {len(set(args.classes))} classes complete under {args.out}"
          + (f"; {len(shortfalls)} short of {args.per_class}" if shortfalls else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
