"""The architecture holds: imports point one way and nothing imports in a circle
(tests/support/layout.py states the rules). The checker is shown to catch a planted
wrong-direction import and a planted cycle, so a green run means something."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.layout import cycles, import_graph, layer_violations
from tests.support.paths import ROOT


def test_imports_point_one_way() -> None:
    assert layer_violations(import_graph(ROOT)) == []


def test_no_import_cycle_between_modules() -> None:
    assert cycles(import_graph(ROOT)) == []


def test_the_graph_sees_function_level_and_type_checking_imports() -> None:
    graph = import_graph(ROOT)
    targets = {i.target for i in graph["cli_verify"]}
    assert "signsvc.verify.batch" in targets  # imported inside the command
    assert "signsvc.verify.results" in targets  # imported under TYPE_CHECKING
    assert len(graph) > 60


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the project's modules to plant imports in."""
    for name in ("signsvc", "drivers"):
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for cli in ROOT.glob("cli*.py"):
        shutil.copy(cli, tmp_path / cli.name)
    return tmp_path


def _plant(file: Path, line: str) -> None:
    file.write_text(file.read_text(encoding="utf-8") + f"\n\ndef _planted() -> None:\n"
                    f"    {line}\n", encoding="utf-8")


@pytest.mark.parametrize(("file", "line", "words"), [
    ("signsvc/pki/chain.py", "from signsvc.verify import pdf",
     "layer 3 signsvc.pki may not import layer 4 signsvc.verify"),
    ("signsvc/sign/batch.py", "import signsvc.verify.results",
     "layer 4 signsvc.sign may not import layer 4 signsvc.verify"),
    ("drivers/keys.py", "from signsvc.errors import BadInputError",
     "layer 1 drivers may not import layer 2"),
    ("signsvc/pki/trust.py", "import pyhanko.sign", "signsvc.pki knows no PDF"),
    ("signsvc/verify/pdf.py", "import click", "only the CLI knows a terminal"),
    ("signsvc/errors.py", "from cli_common import ExitCode", "may not import layer 7 cli"),
])
def test_a_planted_wrong_import_is_caught(tree: Path, file: str, line: str,
                                          words: str) -> None:
    assert layer_violations(import_graph(tree)) == []
    _plant(tree / file, line)
    found = layer_violations(import_graph(tree))
    assert len(found) == 1 and words in found[0], found


def test_a_planted_cycle_is_caught(tree: Path) -> None:
    _plant(tree / "signsvc/pki/_x509.py", "from signsvc.pki import chain")
    found = cycles(import_graph(tree))
    assert found and {"signsvc.pki._x509", "signsvc.pki.chain"} <= set(found[0]), found


def test_the_readme_layout_names_every_module() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    listed = {line.split()[0] for line in section.splitlines()
              if line.strip() and not line.startswith((" ", "`"))}
    modules = {str(path.relative_to(ROOT)) for path in
               [*ROOT.glob("cli*.py"), *ROOT.glob("signsvc/**/*.py"), *ROOT.glob("drivers/*.py")]
               if path.name != "__init__.py" or path.parent.name in ("signsvc", "drivers")}
    assert sorted(modules - listed) == []
    assert sorted(m for m in listed - modules if m.endswith(".py")) == []
