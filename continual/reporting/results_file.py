"""A suite's results file: its summary stamped with the commit, the command and the machine.

bootstrap.py's demos write one each (`Suite.results_file = 'docs/results/<demo>.md'`), so a
number in the docs is one the code produced, and anyone can tell where and from what. The
slow test tests/core/test_results_files.py reruns each demo and compares its tables with the
recorded ones (throughput aside) when it runs on the machine that recorded them.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

from continual.data.atomic import write_text_atomic
from continual.reporting.summary import nested_section

RESULTS_DIR = "docs/results"  # results files are not part of the tree's state (git_stamp)
STAMP = re.compile(r"^- (?P<field>commit|command|machine): (?P<value>.*)$", re.MULTILINE)
TIMING_COLUMNS = ("images_per_sec",)  # differ from run to run on one machine


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what `platform` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_line() -> str:
    """CPU model, cores, TensorFlow and Python versions: what moves the numbers."""
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    return (f"{cpu_model()}, {os.cpu_count()} cores"
            + (f", {len(gpus)} GPU(s)" if gpus else "")
            + f"; TensorFlow {tf.__version__}; Python {platform.python_version()}")


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=False)
    except FileNotFoundError:  # no git on this machine: the stamp says so
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_stamp(repo: Path) -> str:
    """'<commit> (tree clean)' or '<commit> (tree dirty: ...)', results files aside."""
    commit = _git(repo, "rev-parse", "HEAD")
    if commit is None:
        return "unknown (not a git checkout)"
    changes = _git(repo, "status", "--porcelain", "--", ".", f":(exclude){RESULTS_DIR}")
    if not changes:
        return f"{commit} (tree clean)"
    count = len(changes.splitlines())
    return f"{commit} (tree dirty: {count} changed or untracked files)"


def results_text(summary_md: str, *, suite: str, command: str, commit: str,
                 machine: str) -> str:
    return (f"# Results: {suite}\n\nWritten by main.py from the run's metrics "
            "(Suite.results_file); do not edit by hand, rerun the command.\n\n"
            f"- commit: {commit}\n- command: `{command}`\n- machine: {machine}\n\n"
            + nested_section(summary_md, "Summary"))


def write_results_file(path: Path, summary_md: str, *, suite: str, command: str, repo: Path,
                       machine: str) -> Path:
    """Write the stamped summary to `path` (atomically); returns it."""
    return write_text_atomic(path, results_text(summary_md, suite=suite, command=command,
                                                commit=git_stamp(repo), machine=machine))


def recorded_stamp(text: str) -> dict[str, str]:
    """{'commit', 'command', 'machine'} of a results file's text."""
    return {m["field"]: m["value"] for m in STAMP.finditer(text)}


def comparable_tables(markdown: str) -> list[str]:
    """Every markdown table of `markdown` (a summary or a results file), timing columns
    dropped, as text: what a rerun on the same machine reproduces exactly."""
    tables, current = [], []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            current.append([cell.strip() for cell in line.strip("|").split("|")])
        elif current:
            tables.append(_without_timing(current))
            current = []
    return tables


def _without_timing(rows: list[list[str]]) -> str:
    keep = [i for i, name in enumerate(rows[0]) if name not in TIMING_COLUMNS]
    return "\n".join(" | ".join(row[i] for i in keep if i < len(row)) for row in rows)
