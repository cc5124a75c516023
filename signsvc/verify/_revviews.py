"""The document as it stood at each revision, on the strict reader.

:class:`~signsvc.verify._pdfscan.ScannedPdf` resolves references in the final revision
only. The difference analysis (:mod:`signsvc.verify._revdiff`) needs every revision a
signature covers and every one after it: a :class:`RevisionView` resolves references
over the cross-reference sections up to one document revision (ISO 32000-1 §7.5.6:
the newest definition of an object wins, a free entry makes it null).

A document revision is what one ``%%EOF`` closes, so a linearized file's first-page
section and its main section are one revision (:func:`revision_groups`). Objects
are parsed once per cross-reference entry, whatever number of views share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signsvc.verify._pdfscan import PdfDict, PdfSyntaxError, Ref, ScannedPdf, Stream

__all__ = ["RevisionView", "revision_groups", "views"]

Entry = tuple[int, int, int]
"""A cross-reference entry: (type, offset or object stream number, gen or index)."""


def revision_groups(pdf: ScannedPdf, ends: list[int]) -> list[list[int]]:
    """Indexes into ``pdf.revisions`` of each document revision, oldest first: the
    sections that end at the same ``%%EOF`` (``ends`` from ``_revision_ends``)."""
    groups: list[list[int]] = []
    last_end = None
    for idx, end in enumerate(ends):
        if groups and end == last_end:
            groups[-1].append(idx)
        else:
            groups.append([idx])
        last_end = end
    return groups


@dataclass
class _Shared:
    """What all views of one file share: parsed objects by entry."""

    pdf: ScannedPdf
    objects: dict[Entry, Any]


class RevisionView:
    """References resolved as of one document revision."""

    def __init__(self, shared: _Shared, entries: dict[int, Entry], trailer: PdfDict,
                 changed: set[int]) -> None:
        self._shared = shared
        self.entries = entries
        self.trailer = trailer
        self.changed = changed
        """Object numbers the sections of this revision define (or free)."""
        self._referrers: dict[int, set[int]] | None = None

    @property
    def pdf(self) -> ScannedPdf:
        return self._shared.pdf

    def entry(self, ref: Ref) -> Entry | None:
        e = self.entries.get(ref.num)
        if e is None or e[0] == 0 or (e[0] == 1 and e[2] != ref.gen):
            return None
        if e[0] == 2 and ref.gen != 0:
            return None
        return e

    def get(self, ref: Ref) -> Any:
        e = self.entry(ref)
        if e is None:
            return None
        objects = self._shared.objects
        if e in objects:
            return objects[e]
        pdf = self._shared.pdf
        objects[e] = None  # a /Length or object stream that needs itself reads null
        if e[0] == 1:
            value = pdf._parse_indirect(e[1], ref)[2]
        else:
            # The object stream as this revision defines it must be the one the final
            # revision reads (ScannedPdf caches streams by number): a file that redefines
            # an object stream is left to pyHanko's analysis.
            mine = self.entries.get(e[1])
            final = _final_entry(pdf, e[1])
            if mine != final:
                raise PdfSyntaxError(f"object stream {e[1]} is redefined by a later "
                                     "revision")
            value = pdf._from_object_stream(e[1], e[2], ref.num)
        objects[e] = value
        return value

    def resolve(self, value: Any) -> Any:
        return self.get(value) if isinstance(value, Ref) else value

    @property
    def root(self) -> Any:
        return self.resolve(self.trailer.get("Root"))

    def referrers(self) -> dict[int, set[int]]:
        """Object number -> the numbers of the objects that refer to it (-1: the
        trailer), over everything reachable from the trailer. Walked once per view,
        when a rule needs to know whether an object is used in more than one place."""
        if self._referrers is None:
            found: dict[int, set[int]] = {}
            seen: set[int] = set()
            todo: list[tuple[int, Any]] = [(-1, self.trailer)]
            steps = 0
            while todo:
                owner, value = todo.pop()
                stack = [value]
                while stack:
                    steps += 1
                    if not steps % 4096:
                        self.pdf.budget.check()
                    item = stack.pop()
                    if isinstance(item, Ref):
                        found.setdefault(item.num, set()).add(owner)
                        if item.num not in seen:
                            seen.add(item.num)
                            todo.append((item.num, self.get(item)))
                    elif isinstance(item, dict):
                        stack.extend(item.values())
                    elif isinstance(item, list):
                        stack.extend(item)
                    elif isinstance(item, Stream):
                        stack.extend(item.dict.values())
            self._referrers = found
        return self._referrers


def _final_entry(pdf: ScannedPdf, num: int) -> Entry | None:
    for rev in reversed(pdf.revisions):
        e = rev.entries.get(num)
        if e is not None:
            return e
    return None


def views(pdf: ScannedPdf, ends: list[int]) -> list[RevisionView]:
    """One view per document revision, oldest first."""
    shared = _Shared(pdf, {})
    out: list[RevisionView] = []
    merged: dict[int, Entry] = {}
    for group in revision_groups(pdf, ends):
        pdf.budget.check()
        changed: set[int] = set()
        trailer: PdfDict | None = None
        # Within a group, the /Prev chain order: a linearized file's first-page section
        # is newer than its main section, and both are read.
        for idx in group:
            rev = pdf.revisions[idx]
            entries = rev.entries
            pdf.budget.spend_objects(len(entries))
            merged.update(entries)
            changed.update(entries)
            if trailer is None or "Root" in rev.trailer:
                trailer = rev.trailer
        assert trailer is not None
        out.append(RevisionView(shared, dict(merged), trailer, changed))
    return out
