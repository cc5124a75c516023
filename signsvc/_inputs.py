"""The documents a command works on: files as given, folders searched for PDFs.

One rule for ``signsvc sign`` and ``signsvc verify`` (and their library calls):

- a file given explicitly is kept as given, even when it does not exist or is not
  named ``.pdf``, so the batch reports it rather than silently leaving it out;
- a folder means every ``*.pdf`` (any case) under it, in its sub-folders too,
  sorted per folder given;
- symbolic links are followed only where they point inside the folder given: a link
  out of the tree (or into a loop) is not entered, so what a folder holds is what
  its owner put there;
- a file reached twice (given twice, or through a link) is listed once;
- a sub-folder that cannot be listed is listed itself, so it is reported as an error.

Example::

    >>> from signsvc._inputs import collect_inputs
    >>> [(f.path.name, str(f.relative)) for f in collect_inputs(["in/"])]  # doctest: +SKIP
    [('a.pdf', 'a.pdf'), ('b.pdf', 'phong-x/b.pdf')]
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["InputFile", "collect_inputs", "collect_pdfs"]


@dataclass(frozen=True)
class InputFile:
    """One document to work on."""

    path: Path
    """Where it is (as given, or under the folder given)."""
    relative: Path
    """Its path under the folder it was found in; its name when given as a file.
    ``signsvc sign --out DIR`` writes ``DIR/relative``."""


def collect_inputs(
    paths: Iterable[str | os.PathLike[str]], *, exclude: Iterable[str | os.PathLike[str]] = ()
) -> list[InputFile]:
    """Expand folders to the PDFs under them; keep files as given (see the module).

    Args:
        paths: files and folders.
        exclude: folders not to search (e.g. the output folder of a signing run
            inside its input folder, whose files are outputs, not inputs).
    """
    skip = {os.path.realpath(p) for p in exclude}
    found: list[InputFile] = []
    seen: set[str] = set()

    def add(item: InputFile) -> None:
        key = os.path.realpath(item.path)
        if key not in seen:
            seen.add(key)
            found.append(item)

    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            add(InputFile(path, Path(path.name)))
            continue
        for file in _walk(path, skip):
            add(InputFile(file, file.relative_to(path)))
    return found


def collect_pdfs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The paths of :func:`collect_inputs`."""
    return [item.path for item in collect_inputs(paths)]


def _inside(real: str, top: str) -> bool:
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def _walk(top: Path, skip: set[str]) -> list[Path]:
    top_real = os.path.realpath(top)
    entered: set[tuple[int, int]] = set()
    listed: list[Path] = []
    unreadable: list[Path] = []
    for folder, dirnames, filenames in os.walk(
            top, followlinks=True, onerror=lambda exc: unreadable.append(Path(exc.filename))):
        real = os.path.realpath(folder)
        info = os.stat(folder)
        if (not _inside(real, top_real) or real in skip
                or (info.st_dev, info.st_ino) in entered):
            dirnames.clear()
            continue
        entered.add((info.st_dev, info.st_ino))
        dirnames.sort()  # the same folder under two names: the first name is the one kept
        for name in filenames:
            if not name.lower().endswith(".pdf"):
                continue
            file = Path(folder, name)
            if os.path.islink(file) and not _inside(os.path.realpath(file), top_real):
                continue
            listed.append(file)
    return sorted(listed + unreadable)
