"""signsvc._inputs: one rule for the documents ``sign`` and ``verify`` work on."""

from __future__ import annotations

import os
from pathlib import Path

from signsvc._inputs import InputFile, collect_inputs, collect_pdfs


def _pdf(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF-1.7\n")
    return path


def test_folders_recursively_sorted_and_files_as_given(tmp_path: Path) -> None:
    _pdf(tmp_path / "in" / "b.pdf")
    _pdf(tmp_path / "in" / "a.PDF")
    _pdf(tmp_path / "in" / "phong-x" / "c.pdf")
    (tmp_path / "in" / "notes.txt").write_text("not a PDF")
    missing = tmp_path / "missing.pdf"
    found = collect_inputs([tmp_path / "in", missing, str(tmp_path / "in" / "b.pdf")])
    assert found == [
        InputFile(tmp_path / "in" / "a.PDF", Path("a.PDF")),
        InputFile(tmp_path / "in" / "b.pdf", Path("b.pdf")),
        InputFile(tmp_path / "in" / "phong-x" / "c.pdf", Path("phong-x/c.pdf")),
        InputFile(missing, Path("missing.pdf")),  # reported later, not dropped
    ]  # b.pdf given a second time is listed once
    assert collect_pdfs([tmp_path / "in"]) == [f.path for f in found[:3]]


def test_links_are_followed_inside_the_tree_only(tmp_path: Path) -> None:
    _pdf(tmp_path / "in" / "real" / "a.pdf")
    _pdf(tmp_path / "outside" / "secret.pdf")
    os.symlink(tmp_path / "in" / "real", tmp_path / "in" / "alias")  # inside: same files
    os.symlink(tmp_path / "outside", tmp_path / "in" / "escape")  # a folder outside
    os.symlink(tmp_path / "outside" / "secret.pdf", tmp_path / "in" / "secret.pdf")
    os.symlink(tmp_path / "in", tmp_path / "in" / "real" / "loop")  # a loop
    _pdf(tmp_path / "in" / "real" / "b.pdf")
    os.symlink(tmp_path / "in" / "real" / "b.pdf", tmp_path / "in" / "b-link.pdf")
    found = [f.relative for f in collect_inputs([tmp_path / "in"])]
    # alias/ is real/ (entered once, under the name first in order); b-link.pdf is
    # real/b.pdf (listed once); nothing from outside/, and the loop ends at once.
    assert found == [Path("alias/a.pdf"), Path("alias/b.pdf")]


def test_an_excluded_folder_is_not_searched(tmp_path: Path) -> None:
    _pdf(tmp_path / "in" / "a.pdf")
    _pdf(tmp_path / "in" / "da-ky" / "a.pdf")  # the previous run's output folder
    found = collect_inputs([tmp_path / "in"], exclude=[tmp_path / "in" / "da-ky"])
    assert [f.relative for f in found] == [Path("a.pdf")]
