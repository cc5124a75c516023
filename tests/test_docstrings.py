"""The examples that open the modules run (STYLE.md: each public module opens with a
short runnable example). Examples that need a token, a network or a document the
reader supplies are marked ``# doctest: +SKIP``; the rest must work as written, from
the repository root."""

from __future__ import annotations

import doctest
import importlib

import pytest

from tests.support.layout import project_modules
from tests.support.paths import ROOT

LIBRARY = sorted(name for name in project_modules(ROOT) if not name.startswith("cli"))


@pytest.mark.parametrize("name", LIBRARY)
def test_module_examples_run(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} has no docstring"
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=True)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"


def test_the_public_modules_have_an_example() -> None:
    missing = [name for name in LIBRARY
               if not any(part.startswith("_") for part in name.split(".")[1:])
               and ">>>" not in (importlib.import_module(name).__doc__ or "")
               and name.split(".")[-1] not in ("errors", "indications", "results")]
    assert missing == [], missing
