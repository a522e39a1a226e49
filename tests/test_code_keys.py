"""A module's part of a stage's key is its code: comments, docstrings, blank lines and line
wrapping re-key nothing; a string constant, a number or a statement re-keys it; a module that
does not parse raises its SyntaxError (`continual/code_keys.py`)."""

import pytest

from continual import code_keys

BASE = '''"""Scales values (a module docstring)."""

import math

LIMIT = 3  # at most this many values


class Scaler:
    """Scales by a factor."""

    def __init__(self, factor: float = 2.0):
        """Keep the factor."""
        self.factor = factor

    def scale(self, values):
        if len(values) > LIMIT:
            raise ValueError("too many values for Scaler.scale")
        return [math.floor(v * self.factor) for v in values]


async def fetch(x):
    """Fetch x."""
    return x
'''

SAME_CODE = {
    "comment": ("# at most this many values", "# the most values one call takes"),
    "added comment line": ("class Scaler:", "# scaling\nclass Scaler:"),
    "module docstring": ('"""Scales values (a module docstring)."""', '"""Scales."""'),
    "no module docstring": ('"""Scales values (a module docstring)."""\n', ""),
    "class docstring": ('"""Scales by a factor."""', '"""Multiplies, then floors."""'),
    "method docstring": ('"""Keep the factor."""', "'''Keeps the factor\n        given.'''"),
    "async function docstring": ('"""Fetch x."""', '"""Returns x as it is."""'),
    "blank lines": ("LIMIT = 3", "\n\nLIMIT = 3\n"),
    "re-wrapped expression": ("[math.floor(v * self.factor) for v in values]",
                              "[math.floor(v * self.factor)\n                for v in values]"),
    "re-wrapped string": ('"too many values for Scaler.scale"',
                          '(\n                "too many values "\n'
                          '                "for Scaler.scale")'),
}

OTHER_CODE = {
    "error message": ("too many values", "too many inputs"),
    "number": ("LIMIT = 3", "LIMIT = 4"),
    "default": ("factor: float = 2.0", "factor: float = 3.0"),
    "name": ("math.floor", "math.ceil"),
    "statement": ("        self.factor = factor",
                  "        self.factor = factor\n        self.count = 0"),
    "assigned string": ("    return x", "    x = 'fetched'\n    return x"),
}


def code_hash_of(folder, source: str) -> str:
    """`code_hash` of `source` written to a new module file of `folder`."""
    path = folder / f"module_{len(list(folder.iterdir()))}.py"
    path.write_text(source)
    return code_keys.code_hash(path)


def edited(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


@pytest.mark.parametrize("edit", SAME_CODE)
def test_an_edit_that_is_not_code_keeps_the_modules_hash(tmp_path, edit):
    assert code_hash_of(tmp_path, edited(*SAME_CODE[edit])) == code_hash_of(tmp_path, BASE)


@pytest.mark.parametrize("edit", OTHER_CODE)
def test_an_edit_of_code_changes_the_modules_hash(tmp_path, edit):
    assert code_hash_of(tmp_path, edited(*OTHER_CODE[edit])) != code_hash_of(tmp_path, BASE)


def test_a_module_that_does_not_parse_raises_its_syntax_error(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text(BASE.replace("def scale(self, values):", "def scale(self, values:"))
    with pytest.raises(SyntaxError) as error:
        code_keys.code_hash(path)
    assert error.value.filename == str(path)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project root of two modules: `shop.prices` imports `shop.rates`."""
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "rates.py").write_text('"""Rates."""\n\nVAT = 0.2\n')
    (tmp_path / "shop" / "prices.py").write_text(
        "from shop.rates import VAT\n\n\ndef gross(net):\n    return net * (1 + VAT)\n")
    monkeypatch.setattr(code_keys, "ROOT", tmp_path)
    code_keys.module_path.cache_clear()
    yield tmp_path
    code_keys.module_path.cache_clear()


def test_module_hashes_follow_code_edits_of_an_imported_module_only(project):
    rates = project / "shop" / "rates.py"
    before = code_keys.module_hashes({"shop.prices"})
    assert set(before) == {"shop/prices.py", "shop/rates.py"}
    rates.write_text(rates.read_text().replace("Rates.", "Rates of tax.") + "# from 2026\n")
    assert code_keys.module_hashes({"shop.prices"}) == before
    rates.write_text(rates.read_text() + "VAT = 0.25\n")
    after = code_keys.module_hashes({"shop.prices"})
    assert after["shop/prices.py"] == before["shop/prices.py"]
    assert after["shop/rates.py"] != before["shop/rates.py"]


def test_module_hashes_raise_the_syntax_error_of_a_module_they_reach(project):
    (project / "shop" / "rates.py").write_text("VAT = (0.2\n")
    with pytest.raises(SyntaxError) as error:
        code_keys.module_hashes({"shop.prices"})
    assert error.value.filename == str(project / "shop" / "rates.py")
