#!/usr/bin/env python3
"""Set up (or refresh) the local virtual environment from Pipfile.lock, then run a job.

    python3 bootstrap.py main [main.py args...]   # every demo suite (or main.py with these args)
    python3 bootstrap.py test [pytest args...]    # the test suite

Only the standard library is used, so this runs on a fresh machine with Python 3.11. Every
package is installed at the version and hashes pinned in Pipfile.lock (`pip --require-hashes`);
the environment is reinstalled only when the lock changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("RECALL_VENV", ROOT / ".venv"))
LOCK = ROOT / "Pipfile.lock"
# The embedded default: each demo suite with its results folder and the file its tables go to
# (stamped with the commit, command and machine), run in this order.
DEMOS = (("config/demo.gin", "runs/demo", "docs/results/recall.md"),
         ("config/ports/baselines/demo_seeds.gin", "runs/baselines",               # FT, ER, joint
          "docs/results/baselines.md"),
         ("config/ports/rainbow_memory/demo.gin", "runs/rainbow_memory",
          "docs/results/rainbow_memory.md"),
         ("config/ports/sslad/demo.gin", "runs/sslad", "docs/results/sslad.md"),
         ("config/ports/continuous_ssl/demo.gin", "runs/continuous_ssl",
          "docs/results/continuous_ssl.md"),
         ("config/ports/kaizen/demo.gin", "runs/kaizen", "docs/results/kaizen.md"))


def demo_args(gin_file: str, workdir: str, results_file: str) -> list[str]:
    """main.py's arguments for one demo: its suite, its folder and its results file."""
    return ["--gin_file", gin_file, "--workdir", workdir,
            "--gin_param", f"Suite.results_file = '{results_file}'"]


# Run on its own (about 4 minutes; the main command would pass 30 minutes with it):
# python3 bootstrap.py main --gin_file config/ports/rainbow_memory/baselines_demo.gin \
#     --workdir runs/rm_baselines


def requirements(sections: list[str]) -> str:
    """Pipfile.lock sections as a pip requirements file with hashes."""
    lock = json.loads(LOCK.read_text())
    lines = []
    for section in sections:
        for name, spec in sorted(lock[section].items()):
            line = f"{name}{spec['version']}"
            if spec.get("markers"):
                line += f" ; {spec['markers']}"
            hashes = " ".join(f"--hash={h}" for h in spec["hashes"])
            lines.append(f"{line} {hashes}")
    return "\n".join(lines) + "\n"


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_env(sections: list[str]) -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"bootstrap.py needs Python 3.11 (Pipfile.lock is resolved for it); "
                 f"this is {sys.version.split()[0]}. Run it with python3.11.")
    reqs = requirements(sections)
    stamp = VENV / ".lock-sha256"
    wanted = hashlib.sha256(reqs.encode()).hexdigest()
    if venv_python().exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    if not venv_python().exists():
        print(f"[bootstrap] creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    req_file = VENV / "requirements.lock.txt"
    req_file.write_text(reqs)
    print(f"[bootstrap] installing pinned packages ({', '.join(sections)}) into {VENV}", flush=True)
    subprocess.run([str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check",
                    "--no-input", "--require-hashes", "-r", str(req_file)], check=True)
    stamp.write_text(wanted)


def run(argv: list[str]) -> int:
    if not argv or argv[0] not in ("main", "test"):
        sys.exit(__doc__)
    job, rest = argv[0], argv[1:]
    # The test environment is a superset of the main one, so one venv serves both jobs.
    ensure_env(["default", "develop"])
    env = dict(os.environ)
    env.setdefault("KERAS_HOME", str(ROOT / ".cache" / "keras"))
    env.setdefault("MPLCONFIGDIR", str(ROOT / ".cache" / "matplotlib"))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if job == "test":
        cmd = [str(venv_python()), "-m", "pytest", *(rest or ["-q", "tests"])]
        return subprocess.run(cmd, cwd=ROOT, env=env).returncode
    runs = [rest] if rest else [demo_args(*demo) for demo in DEMOS]
    for args in runs:
        code = subprocess.run([str(venv_python()), str(ROOT / "main.py"), *args], cwd=ROOT,
                              env=env).returncode
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
