"""What runs inside a Dask worker for :mod:`signsvc.verify.cluster` (imports Dask,
so it is imported only when a cluster is used)."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin, get_worker

from signsvc.errors import ValidationSetupError
from signsvc.verify._workers import VerifyOne, verify_safely
from signsvc.verify.results import DocumentResult

__all__ = ["Answers", "Item", "Verifier", "verify_chunk"]

Item = tuple[int, str, str]
"""A document as a task carries it: position, path as given, absolute path (or its
URL, twice)."""

Answers = list[tuple[int, DocumentResult, str]] | tuple[str, str, "str | None"]
"""Per document (position, result, its JSON line); or ("setup", reason, argument)
when the options are unusable (the batch stops, as on one machine)."""


class Verifier(WorkerPlugin):
    """The worker plugin: the verifier, unpickled once per worker (its trust store
    with it), and one validation cache per worker (certificates parsed and signatures
    checked once per worker, not once per task)."""

    def __init__(self, verify_one: VerifyOne) -> None:
        self.verify_one = verify_one

    def setup(self, worker: Any) -> None:
        from signsvc.pki.chain import ValidationCache

        verify: Any = self.verify_one  # a partial of verify_pdf, which takes a cache
        self.verify_one = functools.partial(verify, cache=ValidationCache())


def verify_chunk(name: str, items: list[Item]) -> Answers:
    """The task: verify each document of a chunk on this worker, in order."""
    plugin = get_worker().plugins[name]
    assert isinstance(plugin, Verifier)
    answers = []
    for position, given, absolute in items:
        try:
            result = verify_safely(plugin.verify_one, absolute, None)
        except ValidationSetupError as exc:
            return ("setup", exc.reason, exc.argument)
        if given != absolute:
            result = replace(result, path=Path(given))
        answers.append((position, result, result.to_json_line()))
    return answers
