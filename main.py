"""Run a suite of continual-learning experiments defined in gin.

    python main.py [--gin_file F]... [--gin_param 'A.b = c']... [--workdir DIR]
                   [--only GLOB]... [--dry_run] [--shard I/N] [--quiet] [--tensorflow_log]

With no --gin_file it runs the full RECALL suite of config/suite.gin. Each experiment is one
config file x one test type x one replay source; the gin config is cleared before each, then
the experiment's file and the user's files and bindings are parsed in that order. Every step an
earlier experiment (or an earlier run) already produced is reused by its content key. Many
processes may share one checkpoint store: each stage is trained by the one that claims its key.
Each stage shows a progress bar and each experiment logs to `WORKDIR/experiments/<name>/
experiment.log`; `--quiet` (batch jobs) keeps bars and INFO lines off the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
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
                        help="run only experiments whose name matches this glob (repeatable); "
                             "the summary keeps the suite's other experiments already in "
                             "--workdir")
    parser.add_argument("--dry_run", action="store_true",
                        help="print the plan (steps, keys, reuse) and train nothing")
    parser.add_argument("--shard", default=None, metavar="I/N",
                        help="run only experiments I, I+N, ... of the suite (a job array's "
                             "task I of N); the summary goes to WORKDIR/shard-I-of-N")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars and only warnings and errors on the terminal "
                             "(batch jobs); each experiment.log still gets everything")
    parser.add_argument("--tensorflow_log", action="store_true",
                        help="show TensorFlow's C++ start-up and INFO lines (hidden by default)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")
    for noisy in ("tensorflow", "absl"):  # tf.data logs sharding details at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if Path(args.workdir).exists() and not Path(args.workdir).is_dir():
        return fail(f"--workdir {args.workdir} is a file; pass a folder (it is created if "
                    "missing)")
    if args.tensorflow_log:  # read when the package first imports TensorFlow
        os.environ["CONTINUAL_TENSORFLOW_LOG"] = "1"
    with terminal(quiet=args.quiet):
        return run(args, command_line(argv))


@contextlib.contextmanager
def terminal(quiet: bool):
    """Progress bars and log lines that share the terminal (log lines are printed above the
    bars); with `quiet`, no bars and only warnings and errors on the terminal.

    tqdm reads TQDM_DISABLE when it is first imported, which in a `main.py` process is after
    this point (suite.py's imports); a caller that imported tqdm before keeps its bars."""
    root = logging.getLogger()
    if not quiet:
        from tqdm.contrib.logging import logging_redirect_tqdm

        with logging_redirect_tqdm(loggers=[root]):
            yield
        return
    consoles = [h for h in root.handlers if type(h) is logging.StreamHandler]
    levels = [h.level for h in consoles]
    disable = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    for handler in consoles:
        handler.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for handler, level in zip(consoles, levels, strict=True):
            handler.setLevel(level)
        if disable is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = disable


def run(args: argparse.Namespace, command: str) -> int:
    """Plan (and, without --dry_run, run) the suite of the parsed command line; `command` is
    the command line as typed (stamped into results files)."""
    import continual  # noqa: F401 (first: it imports TensorFlow quietly, continual/tf_startup.py)
    import suite  # every gin configurable loads here, after argument parsing

    try:  # every experiment's gin values, data and replay inputs, checked before training
        runner = suite.SuiteRunner.from_args(args.gin_file or [DEFAULT_GIN], args.gin_param,
                                             Path(args.workdir), args.only, shard=args.shard,
                                             command=command)
        rows, missing = runner.dry_run_rows() if args.dry_run else (runner.plan_rows(), [])
    except Exception as err:  # re-raised unless the user's to fix
        message = user_fault(err, planning=True)
        if message is None:
            raise
        return fail(message)
    if args.dry_run:
        runner.print_plan(rows, missing)
        return 0
    try:
        runner.run()
    except Exception as err:  # re-raised unless the user's to fix
        message = user_fault(err, planning=False)
        if message is None:
            raise
        return fail(message)
    return 0


def command_line(argv: list[str] | None) -> str:
    """The command as a user would retype it in a POSIX shell (stamped into a results file);
    an argument with spaces or quotes is double-quoted where that needs no escapes."""
    args = ["python", "main.py", *(sys.argv[1:] if argv is None else argv)]
    return " ".join(_shell_word(arg) for arg in args)


def _shell_word(arg: str) -> str:
    if shlex.quote(arg) == arg or any(c in arg for c in '"$`\\!'):
        return shlex.quote(arg)
    return f'"{arg}"'


def user_fault(err: Exception, *, planning: bool) -> str | None:
    """The message of an input or environment fault, or None for a bug (kept as a traceback).

    While planning, every ValueError / TypeError / FileNotFoundError comes from checking the
    user's bindings and files; while running, only the project's `InputError`s do.
    """
    from continual.errors import fault_message

    if planning and isinstance(err, (ValueError, TypeError, FileNotFoundError)):
        return str(err)
    return fault_message(err)


def fail(message: str) -> int:
    """Report an input or environment fault the way every command of the project does."""
    print(f"error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
