"""The service's audit trail: every request and decision, in the signing journal's file.

Two tables beside the journal's own (:mod:`signsvc.sign.journal`, whose ``attempts``
and ``logins`` rows the batch writes as ``signsvc sign`` does): ``service_requests``,
one row per request and decision (time, request id, origin, call, decision,
certificate serial and subject, error), and ``service_files``, one row per document
(URL, SHA-256 fetched and uploaded, upload status). A PIN, cookie or JWT is never
passed here. Each decision is also one line on standard error, which journald keeps
when the service runs as a systemd unit.

``synchronous=NORMAL`` (in WAL mode: no fsync per row), unlike the signing journal's
FULL: a refusal costs microseconds, so a page hammering the port slows nothing, and a
power cut loses at most the last refusals, never a signed document's row (those are
the journal's, FULL).

Example::

    >>> audit = ServiceAudit(Path("audit.sqlite3"))  # doctest: +SKIP
    >>> audit.decision("a1b2", origin="https://e.gov.vn", call="SignApproved",
    ...                decision="denied")  # doctest: +SKIP
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from signsvc._sqlite import Transaction, open_database

__all__ = ["FileRecord", "RequestRecord", "ServiceAudit"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS service_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_utc TEXT NOT NULL,
    request TEXT NOT NULL,
    origin TEXT,
    call TEXT,
    decision TEXT NOT NULL,
    certificate_serial TEXT,
    certificate_subject TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS service_requests_time ON service_requests (time_utc);
CREATE TABLE IF NOT EXISTS service_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_utc TEXT NOT NULL,
    request TEXT NOT NULL,
    url TEXT NOT NULL,
    sha256_in TEXT,
    sha256_out TEXT,
    upload_url TEXT,
    upload_status TEXT
);
"""


@dataclass(frozen=True)
class RequestRecord:
    """One row of ``service_requests``."""

    time: datetime
    """When (aware, UTC)."""
    request: str
    """The request id (also in the batch's journal rows)."""
    origin: str | None
    """The calling origin, as sent (None: none was sent)."""
    call: str | None
    """The call (path), e.g. ``SignApproved``."""
    decision: str
    """``refused-host``, ``refused-origin``, ``denied``, ``signed``, ``failed``, ..."""
    certificate_serial: str | None
    """The signer's certificate serial (hex), once known."""
    certificate_subject: str | None
    """Its subject (RFC 4514)."""
    error: str | None
    """Why, when it is not a success."""


@dataclass(frozen=True)
class FileRecord:
    """One row of ``service_files``."""

    request: str
    """The request id."""
    url: str
    """Where the document came from."""
    sha256_in: str | None
    """SHA-256 fetched."""
    sha256_out: str | None
    """SHA-256 signed and uploaded."""
    upload_url: str | None
    """Where it was posted."""
    upload_status: str | None
    """``uploaded``, ``not-signed``, or the upload's failure."""


class ServiceAudit:
    """The two tables in the journal file; thread-safe (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        """Raises: OutputError (the file cannot be opened or is not a journal)."""
        self.path = path
        self._db = open_database(path, what="audit journal", schema=_SCHEMA,
                                 synchronous="NORMAL")
        self._db.close()
        # Reopened for use from the event loop and worker threads, behind one lock.
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30,
                                   check_same_thread=False)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def decision(self, request: str, *, origin: str | None, call: str | None,
                 decision: str, serial: str | None = None, subject: str | None = None,
                 error: str | None = None) -> None:
        """Record one decision, and say it on standard error."""
        now = datetime.now(UTC)
        with self._lock, Transaction(self._db, self.path, "audit journal"):
            self._db.execute(
                "INSERT INTO service_requests (time_utc, request, origin, call, decision, "
                "certificate_serial, certificate_subject, error) VALUES (?,?,?,?,?,?,?,?)",
                (now.isoformat(timespec="milliseconds"), request, origin, call, decision,
                 serial, subject, error))
        words = [f"signsvc: {now.isoformat(timespec='seconds')}", f"request={request}",
                 f"origin={origin or '-'}", f"call={call or '-'}", f"decision={decision}"]
        if serial:
            words.append(f"certificate={serial}")
        if error:
            words.append(f"error={error!r}")
        print(" ".join(words), file=sys.stderr, flush=True)

    def file(self, record: FileRecord) -> None:
        """Record one document of a request."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._lock, Transaction(self._db, self.path, "audit journal"):
            self._db.execute(
                "INSERT INTO service_files (time_utc, request, url, sha256_in, sha256_out, "
                "upload_url, upload_status) VALUES (?,?,?,?,?,?,?)",
                (now, record.request, record.url, record.sha256_in, record.sha256_out,
                 record.upload_url, record.upload_status))

    def requests(self) -> list[RequestRecord]:
        """Every decision, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT time_utc, request, origin, call, decision, certificate_serial, "
                "certificate_subject, error FROM service_requests ORDER BY id").fetchall()
        return [RequestRecord(datetime.fromisoformat(r[0]), *r[1:]) for r in rows]

    def files(self) -> list[FileRecord]:
        """Every document row, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT request, url, sha256_in, sha256_out, upload_url, upload_status "
                "FROM service_files ORDER BY id").fetchall()
        return [FileRecord(*r) for r in rows]
