"""The verification store: each document's verdict in SQLite, so a batch can resume.

Example::

    >>> from signsvc.verify._store import VerifyStore
    >>> with VerifyStore.open(Path(".signsvc-verify.sqlite3")) as store:  # doctest: +SKIP
    ...     results = list(verify_iter(paths, trust=trust, store=store, resume=True))
    ...     store.summary()  # {"TOTAL-PASSED": 812, "TOTAL-FAILED": 3, ...}

One row per (absolute path, validation parameters): the file's size and mtime when it
was handed to a worker, the result's SHA-256, indication and full JSON
(:meth:`~signsvc.verify.results.DocumentResult.to_json`), when it finished, how many
times it was verified, and how many of its passed signatures were not checked for
revocation (counted apart in a run's summary). A row is committed before its result
is reported to anyone, so a run interrupted by Ctrl-C, ``kill -9`` or a crash resumes
where it stopped.

Each :class:`VerifyStore` instance is one *run*; ``run_documents`` links the run to the
rows it produced or reused, in input order, which is what a report of the run reads
(:meth:`VerifyStore.iter_json`, streamed, never the whole run in memory).

The store holds JSON only, never pickles: it is a file in a working directory that
someone else may have written, and loading it must not run code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from signsvc._sqlite import Transaction, open_database
from signsvc.errors import OutputError
from signsvc.pki.algorithms import ValidationPolicy
from signsvc.pki.indications import Indication, SubIndication
from signsvc.pki.trust import TrustStore
from signsvc.verify._urls import is_url
from signsvc.verify.results import DocumentResult

__all__ = ["SUMMARY_KEYS", "FreshResult", "StoredResult", "VerifyStore", "category",
           "params_key"]

SUMMARY_KEYS = ("TOTAL-PASSED", "TOTAL-FAILED", "INDETERMINATE", "unsigned", "error")
"""The categories a run is counted in; each document is in exactly one."""

_FORMAT = 2
"""Bumped when what a stored result means changes: older rows are then not reused.
2: results carry ``revocation_checked`` / ``revocation_not_checked``; a row written
before lacks them, so it is verified again rather than guessed at."""

_RUN_RETENTION = timedelta(days=30)
"""Links of older runs are pruned (their document rows stay, for resuming)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    params TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    sha256 TEXT,
    indication TEXT NOT NULL,
    category TEXT NOT NULL,
    result TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    verifications INTEGER NOT NULL DEFAULT 1,
    revocation_not_checked INTEGER,
    UNIQUE (path, params)
);
CREATE TABLE IF NOT EXISTS runs (
    run TEXT PRIMARY KEY,
    started_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_documents (
    run TEXT NOT NULL,
    position INTEGER NOT NULL,
    document INTEGER NOT NULL,
    reused INTEGER NOT NULL,
    PRIMARY KEY (run, position)
);
"""


def document_key(path: Path | str) -> str:
    """How a document is named in the store: its absolute path, or its URL as given."""
    return str(path) if is_url(path) else os.path.abspath(path)


def category(result: DocumentResult) -> str:
    """The :data:`SUMMARY_KEYS` entry a result is counted in.

    A document that could not be verified (``error``) or carries no signature is
    INDETERMINATE by indication, but an admin acts differently on each (fix the file,
    ask for a signed copy, look at the signature), so they are counted apart.
    """
    if result.error is not None:
        return "error"
    if result.unsigned:
        return "unsigned"
    return result.indication.value


def params_key(trust: TrustStore, *, at: datetime | None, policy: str | ValidationPolicy,
               revocation: str, online: bool) -> str:
    """SHA-256 of everything besides the file that decides a verdict.

    A stored result is reused only under the same key: trusting another root,
    another policy, validation time, revocation mode, or another signsvc version
    verifies again. ``at=None`` ("now") is one value: resume is for finishing an
    interrupted batch, not for re-checking yesterday's verdicts against today.
    """
    from signsvc._version import __version__

    data = {
        "format": _FORMAT,
        "version": __version__,
        "trust": sorted(anchor.fingerprint for anchor in trust),
        "at": at.astimezone(UTC).isoformat() if at is not None else None,
        # A policy object by its fields (a frozen dataclass's repr is deterministic).
        "policy": policy if isinstance(policy, str) else repr(policy),
        "revocation": revocation,
        "online": online,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class StoredResult(DocumentResult):
    """A result reused from the store by ``resume``: the verdict, not the objects.

    Its indication, reason, hashes and errors are those stored; :attr:`signatures` is
    empty because certificates are not stored (JSON only), but :meth:`to_json` returns
    the complete stored object, so reports and ``--json`` lines are the same as when the
    document was verified.
    """

    stored: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The stored :meth:`DocumentResult.to_json` object."""
    finished_at: datetime | None = None
    """When the stored verification finished (UTC)."""

    @property
    def unsigned(self) -> bool:
        return self.error is None and not self.stored.get("signatures")

    @property
    def revocation_not_checked(self) -> int:
        # Stored rows of an older format are never reused (_FORMAT); should one be
        # read anyway, a passed signature without the key counts as not checked.
        return sum(1 for s in self.stored.get("signatures") or ()
                   if s.get("indication") == Indication.TOTAL_PASSED.value
                   and s.get("revocation_checked") is not True)

    def to_json(self) -> dict[str, Any]:
        return {**self.stored, "path": self.location}

    @classmethod
    def from_json(cls, path: Path, data: Mapping[str, Any],
                  finished_at: datetime | None = None) -> StoredResult:
        """Rebuild the light result of ``path`` from its stored JSON."""
        sub = data.get("sub_indication")
        when = data.get("validation_time")
        return cls(
            path=path, indication=Indication(data["status"]),
            sub_indication=SubIndication(sub) if sub else None,
            reason=str(data.get("reason") or ""), sha256=data.get("sha256"),
            size=data.get("size"), revisions=data.get("revisions"),
            validation_time=datetime.fromisoformat(when) if when else None,
            error=data.get("error"), error_type=data.get("error_type"),
            seconds=data.get("seconds"), stored=dict(data), finished_at=finished_at)


@dataclass(frozen=True)
class FreshResult:
    """A result to store, with what identifies its file (see :meth:`VerifyStore.commit`)."""

    result: DocumentResult
    position: int
    size: int | None
    mtime_ns: int | None
    line: str | None = None
    """``result.to_json()`` already serialised, when the caller has it."""


_UPSERT = (
    "INSERT INTO documents (path, params, size, mtime_ns, sha256, indication, category, "
    "result, finished_at, revocation_not_checked) VALUES (?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT (path, params) DO UPDATE SET size=excluded.size, "
    "mtime_ns=excluded.mtime_ns, sha256=excluded.sha256, indication=excluded.indication, "
    "category=excluded.category, result=excluded.result, finished_at=excluded.finished_at, "
    "revocation_not_checked=excluded.revocation_not_checked, "
    "verifications=verifications + 1 RETURNING id")


class VerifyStore:
    """One run's view of a verification store (SQLite, WAL).

    ``synchronous=NORMAL``, unlike the audit journal's FULL: in WAL mode a power cut
    can lose the last few commits but never corrupts the file, and a lost row here
    only means that document is verified again on resume. FULL would fsync once per
    document, which at thousands of documents a minute costs more than verifying.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run = uuid.uuid4().hex[:16]
        """This run's identifier."""
        self._db = open_database(path, what="verification store", schema=_SCHEMA,
                                 synchronous="NORMAL")
        try:
            now = datetime.now(UTC)
            with self._transaction():
                self._migrate()
                old = (now - _RUN_RETENTION).isoformat()
                self._db.execute("DELETE FROM run_documents WHERE run IN "
                                 "(SELECT run FROM runs WHERE started_at < ?)", (old,))
                self._db.execute("DELETE FROM runs WHERE started_at < ?", (old,))
                self._db.execute("INSERT INTO runs VALUES (?, ?)", (self.run, now.isoformat()))
        except (OSError, sqlite3.Error) as exc:
            self._db.close()
            raise OutputError(f"cannot use the verification store: {exc}", path=path) from exc

    def _migrate(self) -> None:
        """Add what a store made by an older signsvc lacks (inside a transaction, so
        two runs opening it at once do not both alter it)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(documents)")}
        if "revocation_not_checked" not in columns:
            # NULL in the older rows: not known (they are not reused, see _FORMAT).
            self._db.execute("ALTER TABLE documents ADD COLUMN revocation_not_checked "
                             "INTEGER")

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> VerifyStore:
        """Open (creating if needed) the store at ``path`` and start a run."""
        return cls(Path(path))

    def __enter__(self) -> VerifyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def lookup(self, path: Path | str, *, size: int | None, mtime_ns: int | None,
               params: str) -> tuple[int, StoredResult] | None:
        """The stored row of ``path`` (a path, or an fsspec URL) if the file is
        unchanged (same size and mtime) and was verified under ``params``: its id and
        light result."""
        row = self._db.execute(
            "SELECT id, size, mtime_ns, result, finished_at FROM documents "
            "WHERE path = ? AND params = ?", (document_key(path), params)).fetchone()
        if row is None or (row[1], row[2]) != (size, mtime_ns):
            return None
        data = json.loads(row[3])
        stored = StoredResult.from_json(Path(path), data, datetime.fromisoformat(row[4]))
        if is_url(path):
            stored = dataclasses.replace(stored, url=str(path))
        return int(row[0]), stored

    def reuse(self, document: int, *, position: int) -> None:
        """Count a stored row in this run (the row itself is left as it was)."""
        self.commit([], reused=[(document, position)])

    def record(self, result: DocumentResult, *, position: int, size: int | None,
               mtime_ns: int | None, params: str, line: str | None = None) -> int:
        """Store a fresh result durably (replacing an older one of the same file and
        parameters) and count it in this run; returns the row id.

        ``line`` is ``result.to_json()`` already serialised, when the caller has it.
        """
        return self.commit([FreshResult(result, position, size, mtime_ns, line)],
                           params=params)[0]

    def commit(self, fresh: Iterable[FreshResult], *, params: str = "",
               reused: Iterable[tuple[int, int]] = ()) -> list[int]:
        """Store fresh results and count reused rows (``(row id, position)``) in this
        run, all in one transaction; returns the fresh results' row ids.

        One transaction per batch of results, not per result: a commit costs more
        than verifying a one-page document. A result is still durable before anyone
        is told of it (the batch commits, then its results are yielded), and a row
        of the same file and parameters is replaced, never duplicated, so a batch
        retried after a worker died adds nothing twice.
        """
        finished = datetime.now(UTC).isoformat(timespec="microseconds")
        ids: list[int] = []
        with self._transaction():
            for item in fresh:
                result = item.result
                line = item.line
                if line is None:
                    line = result.to_json_line()
                row = (document_key(result.url or result.path), params, item.size,
                       item.mtime_ns,
                       result.sha256, result.indication.value, category(result), line,
                       finished, result.revocation_not_checked)
                document = int(self._db.execute(_UPSERT, row).fetchone()[0])
                ids.append(document)
                self._db.execute("INSERT OR REPLACE INTO run_documents VALUES (?, ?, ?, 0)",
                                 (self.run, item.position, document))
            self._db.executemany(
                "INSERT OR REPLACE INTO run_documents VALUES (?, ?, ?, 1)",
                [(self.run, position, document) for document, position in reused])
        return ids

    def iter_json(self, run: str | None = None) -> Iterator[dict[str, Any]]:
        """The JSON objects of a run (default: this one), in input order, streamed."""
        cursor = self._db.execute(
            "SELECT d.result FROM run_documents r JOIN documents d ON d.id = r.document "
            "WHERE r.run = ? ORDER BY r.position", (run or self.run,))
        for (text,) in cursor:
            yield json.loads(text)

    def summary(self, run: str | None = None) -> dict[str, int]:
        """How many documents of a run (default: this one) fell in each category;
        every :data:`SUMMARY_KEYS` entry is present."""
        counts = dict.fromkeys(SUMMARY_KEYS, 0)
        for name, count in self._db.execute(
                "SELECT d.category, COUNT(*) FROM run_documents r JOIN documents d "
                "ON d.id = r.document WHERE r.run = ? GROUP BY d.category",
                (run or self.run,)):
            counts[name] = int(count)
        return counts

    def not_checked_for_revocation(self, run: str | None = None) -> int:
        """How many TOTAL-PASSED documents of a run (default: this one) have a
        signature that passed without a revocation check (soft-fail without usable
        data, or ``revocation="off"``): part of ``summary()["TOTAL-PASSED"]``, shown
        apart so an admin sees it."""
        (count,) = self._db.execute(
            "SELECT COUNT(*) FROM run_documents r JOIN documents d ON d.id = r.document "
            "WHERE r.run = ? AND d.category = 'TOTAL-PASSED' "
            "AND d.revocation_not_checked > 0", (run or self.run,)).fetchone()
        return int(count)

    def rows(self, paths: Iterable[Path] | None = None) -> list[dict[str, Any]]:
        """Bookkeeping columns of every stored document (or of ``paths``), for
        inspection and tests: path, size, mtime_ns, sha256, indication, category,
        finished_at, verifications."""
        columns = ("path", "size", "mtime_ns", "sha256", "indication", "category",
                   "finished_at", "verifications")
        query = f"SELECT {', '.join(columns)} FROM documents"
        if paths is None:
            found = self._db.execute(query + " ORDER BY id").fetchall()
        else:
            wanted = [document_key(p) for p in paths]
            found = [row for p in wanted
                     for row in self._db.execute(query + " WHERE path = ?", (p,))]
        return [dict(zip(columns, row, strict=True)) for row in found]

    def _transaction(self) -> Transaction:
        return Transaction(self._db, self.path, "verification store")
