"""Why a stage will train: what changed since the store last completed the same stage.

A stage's lineage key is its key with the code left out and every upstream key replaced by
that stage's lineage key: two runs of one experiment that differ only in the code have the same
lineage keys. When a stage completes, the store records its code under its lineage key
(`<store>/.lineage/<kind>/<lineage key>.json`); a dry run then names, for each stage it will
train, the modules whose source changed (`code changed: continual/methods/x.py`).
"""

from __future__ import annotations

import json
from pathlib import Path

from continual.artifacts import PlanStep, artifact_key
from continual.data.atomic import write_json_atomic

FOLDER = ".lineage"
SHOWN = 4  # changed files named in a dry run's line


def lineage_keys(plan: list[PlanStep]) -> dict[str, str]:
    """Plan step name -> lineage key (the plan lists dependencies first)."""
    found, by_key = {}, {}
    for step in plan:
        inputs = {name: _upstream(value, by_key) for name, value in step.inputs.items()
                  if name != "code"}
        found[step.name] = by_key[step.key] = artifact_key(step.kind, inputs)
    return found


def _upstream(value, by_key: dict[str, str]):
    if isinstance(value, str):
        return by_key.get(value, value)
    if isinstance(value, (list, tuple)):
        return [_upstream(v, by_key) for v in value]
    if isinstance(value, dict):
        return {k: _upstream(v, by_key) for k, v in value.items()}
    return value


def _record_path(store_root: Path, step: PlanStep, lineage: str) -> Path:
    return Path(store_root) / FOLDER / step.kind / f"{lineage}.json"


def record(store_root: Path, step: PlanStep, lineage: str) -> None:
    """Remember that `step` (complete now) is this lineage's latest artefact, and its code."""
    write_json_atomic(_record_path(store_root, step, lineage),
                      {"key": step.key, "code": step.inputs.get("code")})


def why_train(store_root: Path, step: PlanStep, lineage: str) -> str:
    """Why `step` is not in the store: 'code changed: <files>' when the store completed the
    same stage with other code, 'an input changed' when an upstream stage's code changed,
    'partial: resumes' when its folder holds a killed run, else 'new: ...'."""
    if (Path(store_root) / step.kind / step.key).is_dir():
        return "partial: resumes"
    path = _record_path(store_root, step, lineage)
    if not path.is_file():
        return "new: no stored stage has these values and inputs"
    try:
        before = json.loads(path.read_text(encoding="utf-8")).get("code") or {}
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
        return f"unknown: the lineage record {path} is damaged ({err}); delete it"
    now = step.inputs.get("code") or {}
    changed = _changed_modules(before.get("modules") or {}, now.get("modules") or {})
    if before.get("lock") != now.get("lock"):
        changed.insert(0, "Pipfile.lock")
    if changed:
        more = f" and {len(changed) - SHOWN} more" if len(changed) > SHOWN else ""
        return "code changed: " + ", ".join(changed[:SHOWN]) + more
    return "an upstream stage's code changed"


def _changed_modules(before: dict, now: dict) -> list[str]:
    return sorted(path for path in set(before) | set(now) if before.get(path) != now.get(path))
