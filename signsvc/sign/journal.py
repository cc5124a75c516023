"""The audit journal: every signing attempt, in an embedded SQLite database.

One row per attempt (signed, failed or skipped), committed in its own transaction
before the result is reported to anyone, in WAL mode with ``synchronous=FULL``: a
crash or power cut loses nothing that was already reported as signed. No PIN or
password is ever passed to the journal. Times are stored in UTC (ISO 8601) and shown
in Vietnam time (UTC+07:00, no daylight saving).

Example::

    >>> from signsvc.sign.journal import AuditJournal
    >>> with AuditJournal.open() as journal:  # ~/.local/share/signsvc/audit.sqlite3
    ...     for entry in journal.entries(since=datetime(2026, 11, 1, tzinfo=UTC)):
    ...         print(entry.local_time, entry.status, entry.input_path)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signsvc._sqlite import Transaction, open_database
from signsvc._time import VIETNAM_TIME
from signsvc.sign.results import SignStatus

if TYPE_CHECKING:
    from signsvc.sign.results import SignResult

__all__ = ["AuditEntry", "AuditJournal", "default_journal_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_utc TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('signed', 'failed', 'skipped')),
    signer_subject TEXT,
    signer_serial TEXT,
    signer_issuer TEXT,
    input_path TEXT NOT NULL,
    input_sha256 TEXT,
    output_path TEXT,
    output_sha256 TEXT,
    level TEXT,
    tsa TEXT,
    error TEXT,
    batch TEXT
);
CREATE INDEX IF NOT EXISTS attempts_time ON attempts (time_utc);
"""


def default_journal_path() -> Path:
    """``$SIGNSVC_AUDIT_DB``, else ``$XDG_DATA_HOME/signsvc/audit.sqlite3``
    (``~/.local/share/...``)."""
    explicit = os.environ.get("SIGNSVC_AUDIT_DB")
    if explicit:
        return Path(explicit)
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "signsvc" / "audit.sqlite3"


@dataclass(frozen=True)
class AuditEntry:
    """One signing attempt as recorded."""

    id: int
    """Row number, increasing."""
    time: datetime
    """When the attempt ended (aware, UTC)."""
    status: SignStatus
    """Signed, failed or skipped."""
    signer_subject: str | None
    """Signer certificate subject (RFC 4514)."""
    signer_serial: str | None
    """Signer certificate serial number (hex)."""
    signer_issuer: str | None
    """Signer certificate issuer (RFC 4514)."""
    input_path: str
    """Input document."""
    input_sha256: str | None
    """SHA-256 of the input (hex)."""
    output_path: str | None
    """Output document."""
    output_sha256: str | None
    """SHA-256 of the output (hex)."""
    level: str | None
    """PAdES level requested."""
    tsa: str | None
    """Time-stamping authority URL, if any."""
    error: str | None
    """The error, for failed attempts."""
    batch: str | None
    """Identifier shared by the attempts of one batch."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", SignStatus(self.status))

    @property
    def local_time(self) -> datetime:
        """:attr:`time` in Vietnam time (+07:00)."""
        return self.time.astimezone(VIETNAM_TIME)

    def to_json(self) -> dict[str, Any]:
        """JSON form printed by ``signsvc audit --json``."""
        return {
            "id": self.id,
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "time_vietnam": self.local_time.isoformat(),
            "status": self.status,
            "signer_subject": self.signer_subject,
            "signer_serial": self.signer_serial,
            "signer_issuer": self.signer_issuer,
            "input": self.input_path,
            "input_sha256": self.input_sha256,
            "output": self.output_path,
            "output_sha256": self.output_sha256,
            "level": self.level,
            "tsa": self.tsa,
            "error": self.error,
            "batch": self.batch,
        }


class AuditJournal:
    """The SQLite journal. One instance per thread (sqlite3 connections are not
    shared between threads); several processes may write the same file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open (creating if needed) the journal at ``path``.

        Raises:
            OutputError: it cannot be created or opened, or is not a journal (a file
                that is not an SQLite database, a read-only folder, ...).
        """
        self.path = path = Path(path)
        # FULL: the WAL is fsync'ed at each commit, so a reported row survives a power
        # cut (NORMAL would only protect against application crashes).
        self._db = open_database(path, what="audit journal", schema=_SCHEMA,
                                 synchronous="FULL")

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> AuditJournal:
        """Open (creating if needed) the journal at ``path`` or the default path."""
        return cls(path or default_journal_path())

    def __enter__(self) -> AuditJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def record(self, result: SignResult, *, tsa: str | None = None,
               batch: str | None = None, time: datetime | None = None) -> int:
        """Record one attempt durably; returns its row id."""
        cert = result.certificate
        moment = (time or datetime.now(UTC)).astimezone(UTC)
        row = (
            moment.isoformat(timespec="milliseconds"), result.status,
            cert.subject.rfc4514_string() if cert else None,
            format(cert.serial_number, "x") if cert else None,
            cert.issuer.rfc4514_string() if cert else None,
            # Absolute paths: a journal outlives the directory the command ran in.
            os.path.abspath(result.input), result.input_sha256,
            os.path.abspath(result.output) if result.output else None, result.output_sha256,
            result.level.value if result.level else None, tsa, result.error, batch,
        )
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO attempts (time_utc, status, signer_subject, signer_serial, "
                "signer_issuer, input_path, input_sha256, output_path, output_sha256, "
                "level, tsa, error, batch) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
        return int(cursor.lastrowid or 0)

    def entries(self, *, since: datetime | None = None) -> list[AuditEntry]:
        """Attempts at or after ``since`` (aware), oldest first."""
        query = "SELECT * FROM attempts"
        args: tuple[str, ...] = ()
        if since is not None:
            if since.tzinfo is None:
                raise ValueError("since must be an aware datetime")
            query += " WHERE time_utc >= ?"
            args = (since.astimezone(UTC).isoformat(timespec="milliseconds"),)
        rows = self._db.execute(query + " ORDER BY id", args).fetchall()
        return [_entry(row) for row in rows]

    def signed_output(self, input_sha256: str, output: Path) -> str | None:
        """SHA-256 of the last output recorded as signed from this input at ``output``."""
        row = self._db.execute(
            "SELECT output_sha256 FROM attempts WHERE status='signed' AND input_sha256=? "
            "AND output_path=? ORDER BY id DESC LIMIT 1", (input_sha256, os.path.abspath(output))
        ).fetchone()
        return row[0] if row else None

    def _transaction(self) -> Transaction:
        return Transaction(self._db, self.path, "audit journal")


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    (id_, time_utc, status, subject, serial, issuer, input_path, input_sha, output_path,
     output_sha, level, tsa, error, batch) = row
    return AuditEntry(
        id=id_, time=datetime.fromisoformat(time_utc), status=status,
        signer_subject=subject, signer_serial=serial, signer_issuer=issuer,
        input_path=input_path, input_sha256=input_sha, output_path=output_path,
        output_sha256=output_sha, level=level, tsa=tsa, error=error, batch=batch)


def iter_entries(path: str | os.PathLike[str], since: datetime | None = None
                 ) -> Iterator[AuditEntry]:
    """Read a journal without creating it (for ``signsvc audit``)."""
    if not Path(path).exists():
        return
    with AuditJournal(path) as journal:
        yield from journal.entries(since=since)
