"""The paper's CIFAR-100 run cards of the Kaizen port (config/ports/kaizen/CIFAR100_*.gin) plan
with --dry_run on a tiny CIFAR-100-format set converted by continual.data.cifar: three
experiments each (No Distill, CaSSLe, Kaizen) with task 0 reused (slow: run with -m slow), the
paper's SSL values bound, and bad SSL bindings refused before training (default)."""

import pickle
from pathlib import Path

import gin
import numpy as np
import pytest

import main
import suite  # noqa: F401  (registers every configurable the files bind)
from continual.data.cifar import VARIANTS, convert_cifar
from continual.gin_files import parse_gin

CARDS = ["MOCOV2PLUS", "BYOL", "SIMCLR", "VICREG"]


@pytest.fixture(scope="module")
def cifar100(tmp_path_factory) -> Path:
    """CIFAR-100's files with 13 train and 1 test image per class (32 x 32), converted: 260
    rows a task, at least one batch of 256 (an epoch drops its partial batch)."""
    root = tmp_path_factory.mktemp("cifar")
    variant = VARIANTS["cifar100"]
    folder = root / variant.folder
    folder.mkdir()
    rng = np.random.default_rng(0)
    for member, per_class in ((variant.splits["train"][0], 13), (variant.splits["test"][0], 1)):
        labels = [c for c in range(100) for _ in range(per_class)]
        rows = rng.integers(0, 256, (len(labels), 3072), np.uint8)
        (folder / member).write_bytes(pickle.dumps(
            {b"data": rows, variant.label_key: labels, b"batch_label": b"tiny"}, protocol=2))
    (folder / variant.meta).write_bytes(pickle.dumps(
        {variant.names_key: [f"class{i}".encode() for i in range(100)]}, protocol=2))
    convert_cifar(root, root / "data")
    return root


def card_args(root: Path, card: str, *extra: str) -> list[str]:
    params = [f"StreamPlan.data_dir = '{root / 'data'}'",
              # 13 images a class here (500 in CIFAR-100): 0.01 would keep none
              "ProportionPerClassPolicy.replay_proportion = 0.5",
              f"TrainManager.checkpoint_dir = '{root / card / 'ckpt'}'", *extra]
    args = ["--gin_file", f"config/ports/kaizen/CIFAR100_{card}.gin",
            "--workdir", str(root / card / "runs"), "--dry_run"]
    for param in params:
        args += ["--gin_param", param]
    return args


@pytest.mark.slow  # 12-30 s a card on the shared 2 cores (three full-size ResNet-18 plans)
@pytest.mark.parametrize("card", CARDS)
def test_each_paper_card_plans_three_experiments_with_task_0_reused(cifar100, card, capsys):
    assert main.main(card_args(cifar100, card)) == 0
    out = capsys.readouterr().out
    assert "3 experiments" in out and "ResNet-18" in out
    # CaSSLe and Kaizen reuse No Distill's initial state and task 0 (trained and evaluated)
    assert out.count("reuse (from NO_DISTILL)") == 8, out
    assert not (cifar100 / card / "ckpt").exists()


@pytest.mark.parametrize("card, values", [
    ("MOCOV2PLUS", {"ssl_method": "mocov2plus", "queue_size": 65536, "moco_temperature": 0.2,
                    "tau_final": 0.999, "projector_hidden": 2048, "learning_rate": 1.0}),
    ("VICREG", {"ssl_method": "vicreg", "learning_rate": 0.3, "weight_decay": 1e-4,
                "classifier_lr": 0.05, "projection_dim": 2048, "feature_distill_weight": 25.0,
                "vicreg_invariance_weight": 25.0, "distiller": "predictive_mse"}),
    ("SIMCLR", {"ssl_method": "simclr", "simclr_temperature": 0.1, "projector_hidden": 4096}),
    ("BYOL", {"ssl_method": "byol", "tau_final": 1.0, "predictor_hidden": 4096}),
])
def test_cards_bind_the_paper_scripts_values_over_each_experiment(card, values):
    parse_gin(["config/ports/kaizen/KAIZEN.gin", f"config/ports/kaizen/CIFAR100_{card}.gin"], [])
    bound = gin.get_bindings("Kaizen")
    assert {k: bound[k] for k in values} == values
    assert gin.query_parameter("class_incremental.num_tasks") == 5
    assert gin.query_parameter("build_classifier.name") == "resnet18_cifar"
    assert gin.query_parameter("ExperienceLoop.stream_batch_size") == 256


@pytest.mark.parametrize("binding, message", [
    ("Kaizen.queue_size = 100", "Kaizen.queue_size = 100 is smaller than a batch of"),
    ("Kaizen.distiller = 'decorrelative'", "Kaizen.distiller"),
    ("Kaizen.ssl_method = 'swav'", "Kaizen.ssl_method"),
])
def test_bad_ssl_bindings_are_refused_before_training(cifar100, binding, message, capsys):
    assert main.main(card_args(cifar100, "MOCOV2PLUS", binding)) == 2
    err = capsys.readouterr().err
    assert "error:" in err and message in err, err
    assert not (cifar100 / "MOCOV2PLUS" / "ckpt").exists()


@pytest.mark.parametrize("name, ssl_method, replay", [
    ("KAIZEN_MOCO", "mocov2plus", True), ("CASSLE_MOCO", "mocov2plus", False),
    ("KAIZEN_VICREG", "vicreg", True), ("CASSLE_VICREG", "vicreg", False),
    ("KAIZEN_SIMCLR", "simclr", True), ("CASSLE_SIMCLR", "simclr", False)])
def test_single_experiment_files_combine_the_flags_with_the_ssl_values(name, ssl_method, replay):
    parse_gin([f"config/ports/kaizen/{name}.gin"], [])
    assert gin.query_parameter("Kaizen.ssl_method") == ssl_method
    assert gin.query_parameter("Kaizen.replay") is replay
    assert gin.query_parameter("StreamPlan.name") == name.lower()
