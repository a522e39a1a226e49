"""Code edits re-key exactly what they change (issue 20, item 1), as a user meets it: in a
copy of the checkout, run fine-tuning and EWC; edit the code of EWC's method file and of a
reporting module, and the README; the dry run says EWC's stages will train because ewc.py
changed and reuses every fine-tuning stage, and the rerun trains exactly EWC's stages. (A
comment would not do: keys hold code without comments, `continual/code_keys.py`.)"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EWC = "continual/methods/rainbow_memory/ewc.py"


def copy_checkout(to: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for name in listed.splitlines():
        source = ROOT / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            (to / name).write_bytes(source.read_bytes())
    return to


def run_main(repo: Path, *extra: str) -> str:
    params = ["generate_stream_set.train_per_class = 8", "generate_stream_set.test_per_class = 4",
              "EWC.memory_epochs = 1", "ExperienceLoop.checkpoint_every = 1000"]
    args = [sys.executable, "main.py", "--gin_file", "config/ports/rainbow_memory/demo.gin",
            "--workdir", "runs/edits", "--only", "FINETUNE_seed1", "--only", "EWC_seed1"]
    for param in params:
        args += ["--gin_param", param]
    done = subprocess.run([*args, *extra], cwd=repo, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line)


@pytest.mark.slow
def test_editing_a_method_file_retrains_that_method_only(tmp_path):
    repo = copy_checkout(tmp_path / "clone")
    run_main(repo)
    markers = sorted((repo / "checkpoints").rglob("COMPLETE.json"))
    append(repo / EWC, "\n_EDITED = True  # an edit of EWC's code\n")
    append(repo / "README.md", "\nAn edited README.\n")
    append(repo / "continual/reporting/tables.py", "\n_EDITED = True  # reporting code\n")
    plan = run_main(repo, "--dry_run")
    finetune, ewc = plan.split("\nEWC_seed1")
    assert " train" not in finetune and "reuse (on disk)" in finetune
    trained = [line for line in ewc.splitlines() if " train (" in line]
    assert trained and all(f"code changed: {EWC}" in line for line in trained), ewc
    run_main(repo)
    new = sorted(set((repo / "checkpoints").rglob("COMPLETE.json")) - set(markers))
    assert new and len(new) == len([line for line in ewc.splitlines()
                                    if " train (" in line or " evaluate (" in line])
