"""The import arrows that DESIGN.md draws: the top-level modules point one way, into the
library; inside it, data/ is the floor, replay/ and models/ never reach up into methods/, the
loop or plans/, and only plans/ (and the top level) may use everything."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL = ("main", "suite", "train_manager", "training")  # each may import only later ones

# package -> prefixes it must never import
FORBIDDEN = {
    "continual.data": ("continual.replay", "continual.models", "continual.methods",
                       "continual.loop", "continual.plans", "continual.stages",
                       "continual.metrics", "continual.reporting", "continual.optim"),
    "continual.replay": ("continual.methods", "continual.loop", "continual.plans",
                         "continual.stages"),
    "continual.models": ("continual.methods", "continual.loop", "continual.plans",
                         "continual.replay", "continual.stages"),
    "continual.optim": ("continual.methods", "continual.loop", "continual.plans",
                        "continual.replay", "continual.stages", "continual.models"),
    "continual.metrics": ("continual.methods", "continual.loop", "continual.plans",
                          "continual.replay", "continual.stages", "continual.models"),
    "continual.methods": ("continual.loop", "continual.plans", "continual.stages"),
    "continual.loop": ("continual.plans", "continual.stages"),
    "continual.stages": ("continual.plans", "continual.methods", "continual.loop"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def library_modules() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted((ROOT / "continual").rglob("*.py"))}


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_library_never_imports_the_runner():
    offenders = [(module, target) for module, targets in library_modules().items()
                 for target in targets if target.split(".")[0] in TOP_LEVEL]
    assert offenders == []


@pytest.mark.parametrize("index", range(len(TOP_LEVEL)))
def test_top_level_arrows_point_one_way(index):
    name = TOP_LEVEL[index]
    targets = {t.split(".")[0] for t in imports_of(ROOT / f"{name}.py")}
    assert not targets & set(TOP_LEVEL[:index + 1]) - {name}, (name, targets)


def test_library_layers_import_only_downwards():
    offenders = []
    for module, targets in library_modules().items():
        for package, forbidden in FORBIDDEN.items():
            if within(module, package):
                offenders += [(module, t) for t in targets
                              if any(within(t, f) for f in forbidden)]
    assert offenders == []


def test_the_checker_sees_a_wrong_arrow(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from continual.plans.stream import StreamPlan\nimport suite\n")
    assert {"continual.plans.stream", "suite"} <= imports_of(bad)
