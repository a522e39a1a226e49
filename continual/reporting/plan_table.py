"""The plan that `python main.py --dry_run` prints: every step of every experiment with its
key and what will happen to it (train, generate data, evaluate, or reuse and from where), then
the totals and the inputs this machine lacks."""

from __future__ import annotations

# the actions that compute a stage; any other reuses one
RUN_NOW = ("train", "generate", "evaluate")


def plan_table(suite: str, note: str, experiments: int, rows: list[dict],
               missing: list[str] = ()) -> str:
    """The plan of suite `suite` (`experiments` of them) as text, from the runner's plan rows
    (experiment, step, model, kind, key, action and, for a stage to run, why)."""
    lines = [f"# Plan of suite {suite!r}: {experiments} experiments"]
    if note:
        lines.append(f"# {note}")
    lines += _step_lines(rows)
    lines.append(f"\n{_totals(rows)}")
    lines += _missing_lines(missing)
    return "\n".join(lines)


def _step_lines(rows: list[dict]) -> list[str]:
    """One line per step, under a heading line per experiment that names its model."""
    lines, current = [], None
    for row in rows:
        if row["experiment"] != current:
            current = row["experiment"]
            lines.append(f"\n{current}  ({row['model']})")
        why = f" ({row['why']})" if row.get("why") else ""
        lines.append(f"  {row['step']:<9} {row['kind']:<18} {row['key']}  {row['action']}{why}")
    return lines


def _totals(rows: list[dict]) -> str:
    distinct = {(r["kind"], r["key"]) for r in rows}
    to_run = {(r["kind"], r["key"]) for r in rows if r["action"] in RUN_NOW}
    return f"{len(rows)} steps in all, {len(distinct)} distinct, {len(to_run)} to run now"


def _missing_lines(missing: list[str]) -> list[str]:
    """What this machine lacks; the keys that hash it are placeholders until it exists."""
    if not missing:
        return []
    inputs = "input is" if len(missing) == 1 else "inputs are"
    return [f"\n{len(missing)} {inputs} missing; the keys that depend on them are "
            "placeholders until they exist:", *(f"  - {line}" for line in missing)]
