"""The original RECALL README's Python example runs verbatim (issue 12, item 9), on tiny data.

The example's lines are executed as written, in a folder whose `config/MY_CONFIG.gin` is the
repository's DISJOINT config (its include made absolute) plus bindings that shrink data, model
and iterations.
"""

import json
import textwrap
from pathlib import Path

from continual.data.synthetic import generate_synthetic
from continual.replay.standins import build_standins

ROOT = Path(__file__).resolve().parents[2]
IMPORTS = "import gin\nfrom train_manager import TrainManager\nfrom training import Training\n"
# The original README's "Example of code", character for character (it leaves imports out).
EXAMPLE = '''
    gin.parse_config_file('config/MY_CONFIG.gin')
    manager = TrainManager(test_type="ADD_ONE_FIVE_TIMES", replay_source="gan")
    training = Training(manager)
    training.train()
'''


def tiny_config(tmp: Path) -> str:
    disjoint = (ROOT / "config" / "DISJOINT.gin").read_text().replace(
        "include 'config/common.gin'", f"include '{ROOT / 'config' / 'common.gin'}'")
    return "\n".join([
        disjoint,
        "TrainManager.data_dir = 'data'", "TrainManager.pretrained_encoder = None",
        "build_encoder.backbone = 'tiny'", "aspp_v2.rates = (1, 2)",
        "TrainManager.train_image_size = 32", "TrainManager.batch_size = 2",
        "TrainManager.training_steps_per_class = 2",
        "TrainManager.training_steps_per_class_incremental = 1",
        "TrainManager.training_steps_per_class_helper = 1",
        f"GanReplay.generator_handle = '{tmp / 'standins' / 'generator'}'",
        f"GanReplay.classifier_handle = '{tmp / 'standins' / 'classifier'}'",
        "GanReplay.images_per_class = 2", "GanReplay.batch_size = 2", ""])


def test_the_original_readme_example_runs_as_written(tmp_path, monkeypatch):
    generate_synthetic(tmp_path / "data", size=32, num_train=60, num_val=12, seed=0)
    build_standins(tmp_path / "standins", size=32)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "MY_CONFIG.gin").write_text(tiny_config(tmp_path))
    monkeypatch.chdir(tmp_path)
    exec(compile(IMPORTS + textwrap.dedent(EXAMPLE), "README example", "exec"), {})
    lines = (tmp_path / "runs" / "15-1x5" / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == [0, 1, 2, 3, 4, 5]
    assert records[-1]["method"] == "RECALL-GAN" and records[-1]["replay_source"] == "gan"
    assert (tmp_path / "checkpoints").is_dir()
