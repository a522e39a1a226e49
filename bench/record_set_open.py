"""What opening a record set costs, phase by phase, in a fresh process per set.

Phases (TensorFlow's start excluded): reading the manifest (with its self-check) and computing
its identity, verifying the shards' sha256, the cross-check of every record against the
manifest (ids, labels, sizes, count per shard), and the in-memory load every stage does anyway
(decoded images of a classification set, serialised records of a segmentation set). Prints a
markdown table; asserts nothing.

    python bench/record_set_open.py data/synthetic data/stream [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("manifest", "sha256", "cross_check", "load")


def measure(manifest_file: str) -> dict[str, float | int | None]:
    """Seconds per phase for one set (run in a fresh process: every cache is cold)."""
    from continual.data import record_checks
    from continual.data.classification import decoded_images
    from continual.data.manifest import read_manifest
    from continual.data.shards import load_serialized

    _warm_up()
    seconds: dict[str, float | int | None] = {}
    start = time.perf_counter()
    manifest = read_manifest(manifest_file)
    assert manifest.content_hash
    seconds["manifest"] = time.perf_counter() - start
    start = time.perf_counter()
    manifest.verify_shards()
    seconds["sha256"] = time.perf_counter() - start
    start = time.perf_counter()
    record_checks.check_records(manifest)
    seconds["cross_check"] = time.perf_counter() - start
    start = time.perf_counter()
    if manifest.task == "classification":
        decoded_images(manifest)
    else:
        load_serialized(manifest)
    seconds["load"] = time.perf_counter() - start
    seconds["records"] = manifest.num_records
    return seconds


def _warm_up() -> None:
    """TensorFlow's one-time start of tf.data and parsing, outside every timed phase."""
    import tensorflow as tf

    list(tf.data.Dataset.from_tensors(tf.constant([b""])))
    tf.io.parse_example(tf.constant([b""]), {"x": tf.io.FixedLenFeature([], tf.int64, 0)})


def run_fresh(manifest_file: Path) -> dict:
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); "
            "from bench.record_set_open import measure; "
            f"print(json.dumps(measure({str(manifest_file)!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dirs", nargs="+", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print("| set | records | " + " | ".join(f"{p} ms" for p in PHASES) + " | check / load |")
    print("|---|---:|" + "---:|" * len(PHASES) + "---:|")
    for manifest_file in sorted(f for d in args.data_dirs for f in d.glob("*.manifest.json")):
        runs = [run_fresh(manifest_file) for _ in range(args.repeats)]
        best = {p: min(r[p] for r in runs) for p in PHASES}
        ratio = best["cross_check"] / best["load"]
        print(f"| {manifest_file.parent.name}/{manifest_file.name.split('.')[0]} | "
              f"{runs[0]['records']} | " + " | ".join(f"{best[p] * 1e3:.1f}" for p in PHASES)
              + f" | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
