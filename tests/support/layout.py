"""The architecture as a checkable rule: which module may import which.

Layers, top to bottom (STYLE.md "The shape")::

    7  cli, cli_*                       the command line
    6  signsvc (the package facade)     what integrators import
    5  signsvc.service                  the local signing service (web e-office systems)
    4  signsvc.sign, signsvc.verify     what officials and admins do
    3  signsvc.appearance, .pki, .tokens
    2  signsvc's leaf modules           errors, _files, _der, _time, _inputs, _version
    1  drivers                          the PKCS#11 token layer

A module may import a lower layer, or its own room (its subpackage; the leaves
are one room; the CLI modules are one room). Every import counts: at the top, inside
functions, under ``TYPE_CHECKING``. Besides: ``drivers`` and ``signsvc.pki`` import no
PDF library, and nothing below the CLI imports click. And no import cycle between
modules, with a package's ``__init__`` counted as a module of its own.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Import", "cycles", "import_graph", "layer_violations", "project_modules"]

PDF_LIBRARIES = ("pyhanko", "pyhanko_certvalidator", "pdfminer", "PIL", "fontTools",
                 "uharfbuzz", "reportlab")
_ROOMS_4 = ("signsvc.sign", "signsvc.verify")
_ROOMS_3 = ("signsvc.appearance", "signsvc.pki", "signsvc.tokens")


@dataclass(frozen=True)
class Import:
    """One import statement, resolved to the module it loads."""

    source: str
    target: str
    line: int


def _module_name(root: Path, file: Path) -> str:
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path) -> dict[str, Path]:
    """The project's own modules (signsvc, drivers, the CLI) by dotted name."""
    files = [*root.glob("cli*.py"), *root.glob("signsvc/**/*.py"), *root.glob("drivers/**/*.py")]
    return {_module_name(root, f): f for f in sorted(files)}


def _imports(name: str, file: Path, modules: dict[str, Path]) -> Iterable[Import]:
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                # ``from pkg import mod`` loads pkg.mod; ``from mod import name`` loads mod.
                yield Import(name, candidate if candidate in modules else base, node.lineno)


def import_graph(root: Path) -> dict[str, list[Import]]:
    """Every import of every project module (third-party ones included)."""
    modules = project_modules(root)
    return {name: list(_imports(name, file, modules)) for name, file in modules.items()}


def _place(module: str) -> tuple[int, str] | None:
    """(layer, room) of a project module; None for anything else."""
    top = module.split(".")[0]
    if top == "cli" or top.startswith("cli_"):
        return 7, "cli"
    if module == "signsvc":
        return 6, "signsvc"
    if module == "signsvc.service" or module.startswith("signsvc.service."):
        return 5, "signsvc.service"
    for rooms, layer in ((_ROOMS_4, 4), (_ROOMS_3, 3)):
        for room in rooms:
            if module == room or module.startswith(room + "."):
                return layer, room
    if top == "signsvc":
        return 2, "signsvc leaves"
    if top == "drivers":
        return 1, "drivers"
    return None


def layer_violations(graph: dict[str, list[Import]]) -> list[str]:
    """Each import against the direction, as ``source:line imports target (why)``."""
    found = []
    for source, imports in graph.items():
        here = _place(source)
        assert here is not None, source
        for imp in imports:
            target_top = imp.target.split(".")[0]
            where = f"{source}:{imp.line} imports {imp.target}"
            if target_top == "click" and here[0] < 7:
                found.append(f"{where} (only the CLI knows a terminal)")
            if target_top in PDF_LIBRARIES and (
                    here[1] in ("drivers", "signsvc.pki") or here[0] == 2):
                found.append(f"{where} ({here[1]} knows no PDF)")
            there = _place(imp.target)
            if there is None or there[1] == here[1]:
                continue
            if there[0] >= here[0]:
                found.append(f"{where} (layer {here[0]} {here[1]} may not import layer "
                             f"{there[0]} {there[1]})")
    return found


def cycles(graph: dict[str, list[Import]]) -> list[list[str]]:
    """The import cycles between project modules (strongly connected components of
    more than one module, or a module importing itself), each sorted."""
    edges = {src: sorted({i.target for i in imps if i.target in graph})
             for src, imps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the graph is small
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges[node]:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found
