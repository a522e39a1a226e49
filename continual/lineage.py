"""Why a stage will train: what changed since the store last completed the same stage.

A stage's lineage key is its key with the code left out and every upstream key replaced by
that stage's lineage key: two runs of one experiment that differ only in the code have the same
lineage keys. When a stage completes, the store records its code under its lineage key
(`<store>/.lineage/<kind>/<lineage key>.json`); a dry run then names, for each stage it will
train, the modules whose source changed (`code changed: continual/methods/x.py`).

A completed stage also records its values under the experiment's name and the stage's
(`<store>/.lineage/values/<experiment>/<stage>.json`): a stage whose lineage is new to the store
is then explained by the values that differ from the experiment's last completed run of it
(`values changed: FineTuning.epochs 2 -> 1`), or is 'new' when the experiment never ran it.
"""

from __future__ import annotations

import json
from pathlib import Path

from continual.artifacts import PlanStep, artifact_key
from continual.data.atomic import write_json_atomic

FOLDER = ".lineage"
VALUES = "values"  # under FOLDER: each experiment's last completed values per stage
SHOWN = 4  # changed files (or values) named in a dry run's line
UPSTREAM = ("previous", "model")  # inputs holding an upstream stage's key
PER_SEED = ("seed", "rows", "eval_rows")  # plain inputs that a seed changes by design
LONG = 40  # a value longer than this is named, not shown


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


def _values_path(store_root: Path, experiment: str, step: PlanStep) -> Path:
    return Path(store_root) / FOLDER / VALUES / experiment / f"{step.name}.json"


def record(store_root: Path, step: PlanStep, lineage: str, experiment: str | None = None) -> None:
    """Remember that `step` (complete now) is this lineage's latest artefact, and its code;
    with `experiment`, also its values as that experiment's last completed run of the stage."""
    write_json_atomic(_record_path(store_root, step, lineage),
                      {"key": step.key, "code": step.inputs.get("code")})
    if experiment is not None:
        write_json_atomic(_values_path(store_root, experiment, step),
                          {"key": step.key, "values": value_leaves(step.inputs)})


def why_train(store_root: Path, step: PlanStep, lineage: str,
              experiment: str | None = None) -> str:
    """Why `step` is not in the store: 'code changed: <files>' when the store completed the
    same stage with other code, 'an input changed' when an upstream stage's code changed,
    'partial: resumes' when its folder holds a killed run, 'values changed: <bindings>' when
    `experiment` last completed the stage with other values, else 'new: ...'."""
    if (Path(store_root) / step.kind / step.key).is_dir():
        return "partial: resumes"
    path = _record_path(store_root, step, lineage)
    if not path.is_file():
        return _values_changed(store_root, step, experiment)
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


def _values_changed(store_root: Path, step: PlanStep, experiment: str | None) -> str:
    new = "new: no stored stage has these values and inputs"
    path = None if experiment is None else _values_path(store_root, experiment, step)
    if path is None or not path.is_file():
        return new
    try:
        before = json.loads(path.read_text(encoding="utf-8"))["values"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        return f"unknown: the values record {path} is damaged ({err}); delete it"
    changed = changed_values(before, value_leaves(step.inputs))
    if not changed:
        return new
    more = f" and {len(changed) - SHOWN} more" if len(changed) > SHOWN else ""
    return "values changed: " + "; ".join(changed[:SHOWN]) + more


def value_leaves(inputs: dict) -> dict[str, str]:
    """A stage's inputs (code left out) as name -> value text: each binding of a gin section
    (`FineTuning.epochs` -> '2') and each other input by its path (`scenario_params.x`)."""
    leaves: dict[str, str] = {}
    _add_leaves(leaves, "", {k: v for k, v in inputs.items() if k != "code"})
    return leaves


def _add_leaves(leaves: dict[str, str], prefix: str, value) -> None:
    if isinstance(value, dict):
        for name, inner in value.items():
            _add_leaves(leaves, f"{prefix}{name}.", inner)
    elif isinstance(value, str) and " = " in value:
        leaves.update(_gin_bindings(value))
    else:
        leaves[prefix.rstrip(".")] = json.dumps(value, sort_keys=True)


def _gin_bindings(section: str) -> dict[str, str]:
    """`A.b = 1` lines of a gin section (a value continued over lines joins its binding)."""
    found, name = {}, None
    for line in section.splitlines():
        head, sep, tail = line.partition(" = ")
        if sep and not line.startswith((" ", "\t")):
            name = head.strip()
            found[name] = tail.strip()
        elif name is not None:
            found[name] += " " + line.strip()
    return found


def changed_values(before: dict[str, str], now: dict[str, str]) -> list[str]:
    """'name old -> new' for each differing value (bindings first); an upstream stage's key
    only as 'an upstream stage', and only when nothing else differs."""
    names = sorted(set(before) | set(now), key=lambda n: (n in UPSTREAM, "." not in n, n))
    changed = [_change(n, before.get(n), now.get(n)) for n in names
               if before.get(n) != now.get(n) and n not in UPSTREAM]
    if not changed and any(before.get(n) != now.get(n) for n in UPSTREAM):
        return ["an upstream stage"]
    return changed


def _change(name: str, old: str | None, new: str | None) -> str:
    if old is None or new is None:
        return f"{name} {'added' if old is None else 'removed'}"
    if len(old) > LONG or len(new) > LONG:
        return name
    return f"{name} {old} -> {new}"


def values_id(plan: list[PlanStep]) -> str:
    """A configuration's values without its seed: a hash of every stage's gin bindings, its
    other plain inputs (data hashes, method, scenario, precision...) and its code, leaving out
    the seed and whatever the seed draws (class order, rows: the nested and per-row inputs)
    and upstream keys. Seeds of one experiment share it unless some binding, data or code
    differs between them (the summary then refuses to pool them)."""
    steps = [[step.name, step.kind, configured_values(step.inputs)] for step in plan]
    code = [step.inputs.get("code") for step in plan]
    return artifact_key("values", {"steps": steps, "code": code})[:12]


def configured_values(inputs: dict) -> dict[str, str]:
    """The leaves of a stage's inputs that a user sets: each gin binding, and each top-level
    plain value but the seed, the rows it draws and upstream keys."""
    found = value_leaves({"bindings": inputs.get("bindings") or {}})
    for name, value in inputs.items():
        if (name not in (*PER_SEED, *UPSTREAM, "code", "bindings")
                and (value is None or isinstance(value, (str, int, float, bool)))):
            found[name] = json.dumps(value)
    return found
