"""RECALL's incremental tests and data setups, by name.

A test type is the structure of an experiment: how many classes step 0 learns and how many each
incremental step adds, in VOC id order (the original README's TEST 0-7). Names are accepted in
our canonical form ('15-1x5'), RECALL's original form ('ADD_ONE_FIVE_TIMES'), the paper's short
form ('15-1'), the fully written structure ('15-1-1-1-1-1') and with the '×' sign, in any case.
"""

from __future__ import annotations

TEST_TYPES: dict[str, tuple[int, ...]] = {
    "19-1": (19, 1),
    "15-5": (15, 5),
    "10-5-5": (10, 5, 5),
    "15-1x5": (15, 1, 1, 1, 1, 1),
    "10-10": (10, 10),
    "10-2x5": (10, 2, 2, 2, 2, 2),
    "10-1x10": (10,) + (1,) * 10,
    "joint": (20,),
}

# RECALL's `TrainManager.TESTS` names (T0..T7), kept so the original gin files still parse.
ORIGINAL_NAMES: dict[str, str] = {
    "ADD_ONE_ONE_TIME": "19-1",
    "ADD_FIVE_ONE_TIME": "15-5",
    "ADD_FIVE_TWO_TIMES": "10-5-5",
    "ADD_ONE_FIVE_TIMES": "15-1x5",
    "ADD_TEN_ONE_TIME": "10-10",
    "ADD_TWO_FIVE_TIMES": "10-2x5",
    "ADD_ONE_TEN_TIMES": "10-1x10",
    "JOINT": "joint",
}

# The paper's names for the multi-step tests.
SHORT_FORMS: dict[str, str] = {"15-1": "15-1x5", "10-2": "10-2x5", "10-1": "10-1x10"}

SETUPS = ("sequential", "disjoint", "overlapped")


def _normalise(name: str) -> str:
    return name.strip().lower().replace("×", "x").replace(" ", "")


def _aliases() -> dict[str, list[str]]:
    """Canonical name -> every accepted spelling (built from TEST_TYPES, so added types work)."""
    aliases: dict[str, list[str]] = {name: [name] for name in TEST_TYPES}
    for original, canonical in ORIGINAL_NAMES.items():
        aliases.setdefault(canonical, [canonical]).append(original)
    for short, canonical in SHORT_FORMS.items():
        aliases.setdefault(canonical, [canonical]).append(short)
    for name, structure in TEST_TYPES.items():
        written = "-".join(str(size) for size in structure)
        if written not in aliases[name]:
            aliases[name].append(written)
    return aliases


def valid_test_type_names() -> str:
    """Every accepted test-type name, grouped per test, for error messages."""
    return "; ".join(
        f"{names[0]} (also {', '.join(names[1:])})" if len(names) > 1 else names[0]
        for names in _aliases().values()
    )


def resolve_test_type(name: str) -> str:
    """Return the canonical name of a test type given any accepted spelling.

    Raises a ValueError listing every valid name when `name` is unknown.
    """
    if isinstance(name, str):
        wanted = _normalise(name)
        for canonical, names in _aliases().items():
            if canonical in TEST_TYPES and wanted in (_normalise(n) for n in names):
                return canonical
    raise ValueError(
        f"unknown test_type {name!r}; valid names (case-insensitive, '×' or 'x'): "
        f"{valid_test_type_names()}"
    )


def resolve_setup(name: str) -> str:
    """Return the canonical setup name ('sequential', 'disjoint' or 'overlapped').

    Raises a ValueError listing the valid setups when `name` is unknown.
    """
    if isinstance(name, str) and name.strip().lower() in SETUPS:
        return name.strip().lower()
    raise ValueError(f"unknown data setup {name!r}; expected one of {', '.join(SETUPS)}")
