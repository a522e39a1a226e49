"""Documentation agrees with behaviour (issue 12, item 14)."""

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

from continual.data import synthetic
from continual.plans.replay_plan import WebReplay

ROOT = Path(__file__).resolve().parents[1]
# Citations of the study documents behind the ports and RECALL (the replay-methods reference,
# its errata, RECALL's reference), which are not in the repository: their section signs and
# numbers, errata and decision ids (R6, S2, DEC8), quirk ids (A1, B7, C4, K5), file names.
# A reader follows a paper (authors, venue, Sec.) or an original's file instead.
MISSING_DOCUMENT = re.compile(
    r"§\s*\d"
    r"|\b[Rr]eference (?:section )?[A-D]?\d"
    r"|\b[Ee]rrata [A-Z]{1,3}\d|\bDEC\d|\b[Qq]uirk [A-Z]\d"
    r"|\b[Ss]ection \d+\.\d|\([Ss]ection \d|\b(?:RECALL|RM|SSLAD|Kaizen|MinRed) [Ss]ection \d"
    r"|(?<!results/)\brecall\.md|replay-methods"
    r"|\b[AB](?:[1-9]|1[01])\b|\bC[1-6]\b|\b[SMK][1-7]\b")
# Measured results are written by the code (their text is not hand-edited).
NOT_CHECKED = ("docs/results/", ".venv/", "tests/test_docs.py")


def script(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def checked_files() -> list[str]:
    """Every .py, .gin and .md file git tracks or would add (not ignored), but NOT_CHECKED."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return [name for name in listed.splitlines()
            if name.endswith((".py", ".gin", ".md")) and not name.startswith(NOT_CHECKED)
            and (ROOT / name).is_file()]


def citations(text: str) -> list[str]:
    return [f"{number}: {line.strip()}" for number, line in enumerate(text.splitlines(), 1)
            if MISSING_DOCUMENT.search(line)]


@pytest.mark.parametrize("cited", [
    "reference §3.4", "reference section 4", "reference 5.6", "(reference §2.6 ...)",
    "RM reference §6, B7", "§3.9 B4", "§3.5, quirk B1", "errata R6", "errata DEC8", "(DEC6, B4)",
    "errata M1/M4/DEC2", "errata S2", "shipped rule A1", "(C4)", "reference C1", "reference D2",
    "(errata K5)", "S1", "(section 3.5)", "RECALL section 10.2", "Kaizen section 5.6",
    "see recall.md", "replay-methods-errata.md"])
def test_the_citation_pattern_finds_every_form(cited):
    assert citations(f"text ({cited}) text") != []


@pytest.mark.parametrize("fine", [
    "docs/results/recall.md", "splits D0..D3", "R18 and R50", "R3 = np.array", "A0, B0, C0",
    "Chaudhry et al., ECCV 2018, Sec. 4", "the decorrelated reference", "a gin reference",
    "[X1; X2]", "A_last", "B // 2"])
def test_the_citation_pattern_leaves_ordinary_text_alone(fine):
    assert citations(fine) == []


def test_no_file_cites_a_document_that_is_not_in_the_repository():
    files = checked_files()
    assert len(files) > 300 and "README.md" in files and "config/demo.gin" in files
    citing = {name: found for name in files
              if (found := citations((ROOT / name).read_text(encoding="utf-8")))}
    assert citing == {}


def test_scripts_default_to_the_one_folder_per_replay_source():
    flickr = script("flickr/download_flickr.py")
    assert str(flickr.parse_args([]).out) == WebReplay().folder == "data/replay_images/flickr"
    gan = script("gan/generate_gan.py").build_parser()
    assert gan.parse_args(["generate"]).out == "data/replay_images/gan"
    readme = (ROOT / "data" / "README.md").read_text()
    assert "data/replay_images/gan" in readme and "under the checkpoint directory" in readme


def test_synthetic_help_says_what_it_writes(capsys):
    with pytest.raises(SystemExit):
        synthetic.main(["--help"])
    assert "train.manifest.json" in capsys.readouterr().out
