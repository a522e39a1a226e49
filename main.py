"""Run a suite of continual-learning experiments defined in gin.

    python main.py [--gin_file F]... [--gin_param 'A.b = c']... [--workdir DIR]
                   [--only GLOB]... [--dry_run]

With no --gin_file it runs the full RECALL suite of config/suite.gin. Each experiment is one
config file x one test type x one replay source; the gin config is cleared before each, then
the experiment's file and the user's files and bindings are parsed in that order. Every step an
earlier experiment (or an earlier run) already produced is reused by its content key.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEFAULT_GIN = "config/suite.gin"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gin_file", action="append", default=[],
                        help=f"gin file (repeatable); default {DEFAULT_GIN}")
    parser.add_argument("--gin_param", action="append", default=[],
                        help="gin binding, e.g. 'TrainManager.seed = 1' (repeatable)")
    parser.add_argument("--workdir", default="runs", help="where results are written")
    parser.add_argument("--only", action="append", default=[],
                        help="run only experiments whose name matches this glob (repeatable)")
    parser.add_argument("--dry_run", action="store_true",
                        help="print the plan (steps, keys, reuse) and train nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")
    for noisy in ("tensorflow", "absl"):  # tf.data logs sharding details at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import suite  # TensorFlow and every gin configurable load here, after argument parsing

    try:  # every experiment's gin values, data and replay inputs, checked before training
        runner = suite.SuiteRunner.from_args(args.gin_file or [DEFAULT_GIN], args.gin_param,
                                             Path(args.workdir), args.only)
        rows, missing = runner.dry_run_rows() if args.dry_run else (runner.plan_rows(), [])
    except (ValueError, TypeError, FileNotFoundError) as err:  # our input errors subclass these
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.dry_run:
        runner.print_plan(rows, missing)
        return 0
    runner.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
