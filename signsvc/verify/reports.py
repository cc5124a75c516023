"""Verification reports for admins: JSON for machines, CSV for Excel, HTML for reading.

Example::

    >>> from pathlib import Path
    >>> from signsvc.verify.reports import write_report
    >>> results = [verify_pdf(p, trust=trust) for p in paths]  # doctest: +SKIP
    >>> write_report(Path("bao-cao.html"), lambda: (r.to_json() for r in results),
    ...              summary={"TOTAL-PASSED": 2, "TOTAL-FAILED": 1},
    ...              trust=["TEST ONLY RootCA chuyên dùng Chính phủ G2"])  # doctest: +SKIP

Reports are written from an iterable of :meth:`signsvc.verify.results.DocumentResult.to_json`
dicts, one document at a time: a batch of thousands is read back from its store and
never held in memory, so ``documents`` is a callable returning a fresh iterator (the
HTML report reads it twice: documents needing attention first, then the others). The
summary counts are passed in, because the HTML shows them before the documents.

The formats are documented in ``docs/verify-report.md``. Every report is written to a
temporary file beside its destination, fsync'ed, then renamed over it: a reader never
sees half a report, and an interrupted run leaves the previous one in place.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from signsvc._files import atomic_open
from signsvc.errors import BadInputError, OutputError
from signsvc.verify._report_html import category, not_checked, vn_time, write_html

__all__ = ["CSV_COLUMNS", "JSON_SCHEMA", "REPORT_FORMATS", "report_format", "write_report"]

REPORT_FORMATS = ("json", "csv", "html")
"""The formats :func:`write_report` writes, named by the file suffix."""

JSON_SCHEMA = "signsvc-verify-report/1"
"""The ``schema`` value of a JSON report; bumped when a key changes meaning or goes."""

CSV_COLUMNS = (
    "path",
    "status",
    "field",
    "kind",
    "signer_common_name",
    "signer_subject",
    "signer_serial",
    "signer_issuer",
    "claimed_signing_time",
    "timestamp_time",
    "timestamp_valid",
    "indication",
    "sub_indication",
    "intact",
    "coverage",
    "revision",
    "modification",
    "modification_details",
    "chain_indication",
    "ltv_offline",
    "revocation_checked",
    "reason",
    "error",
)
"""The CSV header, one row per signature (documented in ``docs/verify-report.md``)."""

_BUFFER = 1 << 16


def report_format(path: str | os.PathLike[str]) -> str:
    """The report format for ``path``, from its suffix (case-insensitive).

    Raises:
        BadInputError: the suffix is not ``.json``, ``.csv`` or ``.html``.
    """
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in REPORT_FORMATS:
        wanted = ", ".join(f".{f}" for f in REPORT_FORMATS)
        raise BadInputError(f"unknown report format {suffix or '(no suffix)'!r}; "
                            f"use {wanted}", path=path)
    return suffix


def write_report(
    path: str | os.PathLike[str],
    documents: Callable[[], Iterable[dict[str, Any]]],
    *,
    summary: Mapping[str, int],
    title: str | None = None,
    generated_at: datetime | None = None,
    trust: Sequence[str] = (),
    policy: str = "default",
    not_checked_for_revocation: int | None = None,
) -> None:
    """Write a verification report to ``path``, replacing any previous one atomically.

    Args:
        path: the report; its suffix chooses the format (:func:`report_format`).
        documents: returns a fresh iterable of ``DocumentResult.to_json()`` dicts each
            time it is called, in the order the documents were given.
        summary: counts by ``TOTAL-PASSED``, ``TOTAL-FAILED``, ``INDETERMINATE``,
            ``unsigned``, ``error`` (other keys are shown after these).
        title: a heading for the HTML report (and ``title`` in JSON).
        generated_at: when the verification ran (aware); now by default.
        trust: the trust anchors used, one description each (label or subject).
        policy: the validation policy's name.
        not_checked_for_revocation: how many of the TOTAL-PASSED documents have a
            signature that passed without a revocation check (shown apart); None:
            counted from ``documents()`` (one more pass over them; not for CSV).

    Raises:
        BadInputError: unknown suffix, naive ``generated_at``, or ``trust`` given as
            one string.
        OutputError: the report could not be written (no such directory, read-only,
            disk full); no partial report is left behind.
    """
    path = Path(path)
    fmt = report_format(path)
    if generated_at is None:
        generated_at = datetime.now(UTC)
    elif generated_at.tzinfo is None or generated_at.utcoffset() is None:
        raise BadInputError("generated_at must be an aware datetime")
    if isinstance(trust, str):
        raise BadInputError("trust must be a sequence of anchor descriptions, not a string")
    anchors = [str(t) for t in trust]
    counts = {str(k): int(v) for k, v in summary.items()}
    if not_checked_for_revocation is None and fmt != "csv":  # CSV has it per row only
        not_checked_for_revocation = sum(
            1 for d in documents() if category(d) == "TOTAL-PASSED" and not_checked(d))
    unchecked = int(not_checked_for_revocation or 0)
    try:
        if fmt == "json":
            with _atomic_text(path, encoding="utf-8", newline="\n") as out:
                _write_json(out, documents(), summary=counts, title=title,
                            generated_at=generated_at, trust=anchors, policy=policy,
                            not_checked_for_revocation=unchecked)
        elif fmt == "csv":
            # Excel decides a CSV's encoding by its first bytes: without a UTF-8 BOM it
            # reads the file in the Windows ANSI code page (1258 on Vietnamese Windows,
            # 1252 elsewhere) and "Nguyễn Thị Lấp Lánh Ánh" turns to mojibake. With the
            # BOM it reads UTF-8. Python's csv module, pandas and LibreOffice accept the
            # BOM ("utf-8-sig"). RFC 4180 CRLF line ends; the csv module writes them.
            with _atomic_text(path, encoding="utf-8-sig", newline="") as out:
                _write_csv(out, documents())
        else:
            with _atomic_text(path, encoding="utf-8", newline="\n") as out:
                write_html(out, documents, summary=counts, title=title,
                           generated_at=generated_at, trust=anchors, policy=policy,
                           not_checked_for_revocation=unchecked)
    except OSError as exc:
        raise OutputError(f"cannot write the report: {exc.strerror or exc}",
                          path=path) from exc


@contextlib.contextmanager
def _atomic_text(path: Path, *, encoding: str, newline: str) -> Iterator[TextIO]:
    """A text stream over :func:`signsvc._files.atomic_open`: the report replaces
    ``path`` only once complete (a report is regenerated in place, so it replaces)."""
    with atomic_open(path, overwrite=True, buffering=_BUFFER) as raw:
        # backslashreplace: a lone surrogate (a PDF text string decoded leniently) must
        # not abort a report of thousands; in JSON the result is the same \\udXXX escape
        # json.dumps would have written.
        text = io.TextIOWrapper(raw, encoding=encoding, errors="backslashreplace",
                                newline=newline)
        yield text
        text.flush()
        text.detach()  # atomic_open closes the file itself


def _write_json(
    out: TextIO,
    documents: Iterable[dict[str, Any]],
    *,
    summary: dict[str, int],
    title: str | None,
    generated_at: datetime,
    trust: list[str],
    policy: str,
    not_checked_for_revocation: int,
) -> None:
    # The header is small and written whole; documents follow one per line so that a
    # report of thousands stays greppable and is never one huge string in memory.
    head = {
        "schema": JSON_SCHEMA,
        "title": title,
        "generated_at": generated_at.astimezone(UTC).isoformat(),
        "policy": policy,
        "trust": trust,
        "summary": summary,
        # Apart from summary, whose categories each count a document once: these
        # documents are also in summary["TOTAL-PASSED"].
        "revocation_not_checked": not_checked_for_revocation,
    }
    opening = json.dumps(head, ensure_ascii=False, indent=1)
    out.write(opening[:-2])  # drop the closing "\n}" to append "documents"
    out.write(',\n "documents": [')
    separator = "\n  "
    for document in documents:
        out.write(separator)
        out.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")))
        separator = ",\n  "
    out.write("\n ]\n}\n")


def _write_csv(out: TextIO, documents: Iterable[dict[str, Any]]) -> None:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for document in documents:
        for row in _csv_rows(document):
            writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])


def _csv_rows(document: Mapping[str, Any]) -> list[dict[str, str]]:
    """The CSV rows of one document: one per signature, or one with the signature
    columns empty when it has none (unsigned, or could not be read)."""
    base = {
        "path": _text(document.get("path")),
        "status": _text(document.get("status")),
        "error": _text(document.get("error")),
    }
    signatures = document.get("signatures") or []
    if not signatures:
        row = dict.fromkeys(CSV_COLUMNS, "")
        row.update(base, reason=_text(document.get("reason")))
        return [row]
    rows = []
    for sig in signatures:
        signer = sig.get("signer") or {}
        timestamp = sig.get("timestamp") or {}
        chain = sig.get("chain") or {}
        ltv = sig.get("ltv") or {}
        row = dict(base)
        row.update(
            field=_text(sig.get("field")),
            kind=_text(sig.get("kind")),
            signer_common_name=_text(signer.get("common_name")),
            signer_subject=_text(signer.get("subject")),
            signer_serial=_text(signer.get("serial")),
            signer_issuer=_text(signer.get("issuer")),
            claimed_signing_time=vn_time(sig.get("claimed_signing_time")),
            timestamp_time=vn_time(timestamp.get("time")),
            timestamp_valid=_text(timestamp.get("valid")),
            indication=_text(sig.get("indication")),
            sub_indication=_text(sig.get("sub_indication")),
            intact=_text(sig.get("intact")),
            coverage=_text(sig.get("coverage")),
            revision=_text(sig.get("revision")),
            modification=_text(sig.get("modification")),
            modification_details="; ".join(
                _text(d) for d in sig.get("modification_details") or ()),
            chain_indication=_text(chain.get("indication")),
            ltv_offline=_text(ltv.get("offline")),
            revocation_checked=_text(sig.get("revocation_checked")),
            reason=_text(sig.get("reason")),
        )
        rows.append(row)
    return rows


def _text(value: object) -> str:
    """A JSON value as a CSV cell: booleans as ``true``/``false`` (as in JSON), None
    as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    # Field names, certificate names and file names come from the documents, i.e. from
    # whoever sent them. Excel evaluates a cell starting with = + - @ as a formula
    # (OWASP "CSV Injection"): =HYPERLINK(...) in a field name would become a live link
    # in the admin's spreadsheet. A leading apostrophe makes Excel show it as text.
    # None of signsvc's own values (indications, ISO times, hex serials) start so.
    if value.startswith(_FORMULA_START):
        return "'" + value
    return value
