"""Documentation agrees with behaviour (issue 12, item 14)."""

import importlib.util
import re
from pathlib import Path

import pytest

from continual.data import synthetic
from continual.plans.replay_plan import WebReplay

ROOT = Path(__file__).resolve().parents[1]
# RECALL's files (the stream experiments' files cite their own reference: not checked here).
RECALL_FILES = (
    "README.md", "main.py", "suite.py", "train_manager.py", "training.py", "data/README.md",
    "checkpoints/README.md", "config/*.gin", "gan/*", "flickr/*", "continual/plans/RECALL.md",
    "continual/plans/segmentation*.py", "continual/plans/replay_*.py", "continual/evaluation.py",
    "continual/planning.py", "continual/bindings.py", "continual/replay/*.py",
    "continual/data/*.py", "continual/models/*.py", "continual/methods/segmentation.py",
    "continual/methods/losses.py", "continual/metrics/segmentation.py", "tests/test_*.py",
    "tests/core/*.py", "tests/data/test_*.py", "tests/replay/*.py", "tests/models/*.py")
STREAM_DATA = ("continual/data/sslad.py", "continual/data/ssl_views.py",
               "continual/data/synthetic_stream.py", "continual/models/simsiam_heads.py",
               "tests/core/test_sslad_demo.py", "tests/core/test_rainbow_memory_demo.py",
               "tests/replay/test_ssl_buffer.py", "tests/data/test_sslad.py")
MISSING_DOCUMENT = re.compile(r"recall\.md|reference section|reference \d")


def script(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_recall_file_cites_a_document_that_is_not_in_the_repository():
    files = sorted({p for pattern in RECALL_FILES for p in ROOT.glob(pattern) if p.is_file()})
    files = [p for p in files if str(p.relative_to(ROOT)) not in STREAM_DATA
             and p.name != "test_docs.py" and p.suffix in (".py", ".md", ".gin")]
    assert len(files) > 50
    citing = [str(p.relative_to(ROOT)) for p in files
              if MISSING_DOCUMENT.search(p.read_text(encoding="utf-8"))]
    assert citing == []


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
