"""The audit journal: every signing attempt, in an embedded SQLite database.

One row per attempt (signed, failed or skipped), committed in its own transaction
before the result is reported to anyone, in WAL mode with ``synchronous=FULL``: a
crash or power cut loses nothing that was already reported as signed. No PIN or
password is ever passed to the journal. Times are stored in UTC (ISO 8601) and shown
in Vietnam time (UTC+07:00, no daylight saving).

**A signed output gets its name only after its row is committed.** A batch writes the
signed document to a temporary file, commits the ``signed`` row together with a
``pending`` row naming that temporary file, and only then renames it into place. Ctrl-C
is held back across those steps (:func:`signsvc._interrupts.held_interrupts`); a
process killed between them (SIGKILL, power cut) leaves a committed row and a complete
temporary file, and :meth:`AuditJournal.recover`, which every batch runs first, gives
the file its name. So a signature never exists under an output name without its row.

Every login a batch makes (PIN accepted or refused, never the PIN itself) is in the
``logins`` table (:meth:`AuditJournal.logins`).

Example::

    >>> from signsvc.sign.journal import AuditJournal
    >>> with AuditJournal.open() as journal:  # ~/.local/share/signsvc/audit.sqlite3
    ...     for entry in journal.entries(since=datetime(2026, 11, 1, tzinfo=UTC)):
    ...         print(entry.local_time, entry.status, entry.input_path)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from signsvc._files import place, sha256_file
from signsvc._sqlite import Transaction, open_database
from signsvc._time import VIETNAM_TIME
from signsvc.errors import OutputError
from signsvc.sign._batchlock import batch_alive
from signsvc.sign.results import SignStatus

if TYPE_CHECKING:
    from signsvc.sign.results import SignResult

__all__ = ["AuditEntry", "AuditJournal", "LoginEntry", "RecoveredOutput",
           "default_journal_path"]

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
CREATE INDEX IF NOT EXISTS attempts_output ON attempts (output_sha256);
-- A signed row whose output is not known to have its name yet (see the module).
CREATE TABLE IF NOT EXISTS pending (
    attempt INTEGER PRIMARY KEY REFERENCES attempts (id),
    batch TEXT NOT NULL,
    temporary TEXT NOT NULL,
    output_path TEXT NOT NULL,
    output_sha256 TEXT NOT NULL,
    overwrite INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS logins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_utc TEXT NOT NULL,
    result TEXT NOT NULL,
    token TEXT,
    serial TEXT,
    module TEXT,
    error TEXT,
    batch TEXT
);
"""
_ADDED_COLUMNS = (("attempts", "note", "TEXT"),)
"""Columns added after the first release: added to an older journal when opened."""

LoginResult = Literal["accepted", "refused", "locked", "cancelled", "failed"]
"""How one login ended: the PIN accepted, refused (wrong PIN), the token locked,
cancelled on the PIN pad, or another token failure."""


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
    note: str | None = None
    """What else the auditor should know: a signature made with ``--force`` and why,
    an output finished by recovery after its batch was killed."""

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
            "note": self.note,
        }


@dataclass(frozen=True)
class LoginEntry:
    """One login (one PIN given, one ``C_Login``) as recorded; never the PIN."""

    id: int
    """Row number, increasing."""
    time: datetime
    """When the login ended (aware, UTC)."""
    result: LoginResult
    """accepted, refused, locked, cancelled or failed."""
    token: str | None
    """Token label (or the PKCS#12 file)."""
    serial: str | None
    """Token serial number."""
    module: str | None
    """PKCS#11 module path."""
    error: str | None
    """The token's refusal, in words."""
    batch: str | None
    """The batch that logged in, when known."""

    @property
    def local_time(self) -> datetime:
        """:attr:`time` in Vietnam time (+07:00)."""
        return self.time.astimezone(VIETNAM_TIME)

    def to_json(self) -> dict[str, Any]:
        """JSON form printed by ``signsvc audit --logins --json``."""
        return {"id": self.id, "time": self.time.isoformat().replace("+00:00", "Z"),
                "time_vietnam": self.local_time.isoformat(), "result": self.result,
                "token": self.token, "serial": self.serial, "module": self.module,
                "error": self.error, "batch": self.batch}


@dataclass(frozen=True)
class RecoveredOutput:
    """What :meth:`AuditJournal.recover` did with one output of a batch that was killed
    between committing its row and renaming its file."""

    attempt: int
    """The attempt's row id."""
    output: Path
    """The output."""
    outcome: Literal["placed", "completed", "failed"]
    """``placed``: it had its name already; ``completed``: recovery gave the complete
    temporary file its name now; ``failed``: it could not be placed (the row now says
    failed, and why)."""


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
        self._placed: list[int] = []
        """Rows whose output has its name, not yet deleted from ``pending`` (deleted
        with the next row, or by :meth:`flush`: one commit per document)."""
        try:
            for table, column, kind in _ADDED_COLUMNS:
                names = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                if column not in names:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        except sqlite3.Error as exc:
            self._db.close()
            raise OutputError(f"cannot update the audit journal ({exc})", path=path) from exc

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> AuditJournal:
        """Open (creating if needed) the journal at ``path`` or the default path."""
        return cls(path or default_journal_path())

    def __enter__(self) -> AuditJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._db.close()

    def record(self, result: SignResult, *, tsa: str | None = None,
               batch: str | None = None, time: datetime | None = None,
               note: str | None = None, temporary: Path | None = None,
               overwrite: bool = False) -> int:
        """Record one attempt durably; returns its row id.

        Args:
            temporary: for a signed result whose output does not have its name yet,
                the complete temporary file that becomes it: committed with the row as
                ``pending`` (see the module). The caller renames it next, then calls
                :meth:`placed`, or :meth:`placing_failed`.
            overwrite: the output may replace an existing file (for recovery).
        """
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
            result.level.value if result.level else None, tsa, result.error, batch, note,
        )
        if temporary is not None and (result.output is None or result.output_sha256 is None):
            raise ValueError("a pending output needs the result's output and its SHA-256")
        with self._transaction():
            self._delete_placed()
            cursor = self._db.execute(
                "INSERT INTO attempts (time_utc, status, signer_subject, signer_serial, "
                "signer_issuer, input_path, input_sha256, output_path, output_sha256, "
                "level, tsa, error, batch, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
            attempt = int(cursor.lastrowid or 0)
            if temporary is not None:
                assert result.output is not None
                self._db.execute(
                    "INSERT INTO pending (attempt, batch, temporary, output_path, "
                    "output_sha256, overwrite) VALUES (?,?,?,?,?,?)",
                    (attempt, batch or "", os.path.abspath(temporary),
                     os.path.abspath(result.output), result.output_sha256, int(overwrite)))
        return attempt

    def placed(self, attempt: int) -> None:
        """The output of ``attempt`` has its name now (no write: the ``pending`` row
        goes with the next commit, and recovery would find the file anyway)."""
        self._placed.append(attempt)

    def placing_failed(self, attempt: int, error: str) -> None:
        """The output of ``attempt`` could not be renamed into place: the row says
        failed, and why."""
        with self._transaction():
            self._db.execute("UPDATE attempts SET status='failed', output_path=NULL, "
                             "output_sha256=NULL, error=? WHERE id=?", (error, attempt))
            self._db.execute("DELETE FROM pending WHERE attempt=?", (attempt,))

    def flush(self) -> None:
        """Forget the ``pending`` rows of outputs that have their names."""
        if self._placed:
            with self._transaction():
                self._delete_placed()

    def _delete_placed(self) -> None:
        if self._placed:
            self._db.executemany("DELETE FROM pending WHERE attempt=?",
                                 [(a,) for a in self._placed])
            self._placed.clear()

    def recover(self, *, lock_folder: Path | None = None) -> list[RecoveredOutput]:
        """Finish what killed batches left between a committed row and its output's
        name; batches still running (:mod:`signsvc.sign._batchlock`) are left alone.

        For each such row: the output has its name already (``placed``); or the
        complete temporary file is there and gets its name now (``completed``,
        noted in the row); or it cannot (the name is taken, the temporary is damaged)
        and the row says ``failed``. Run by every batch before it starts.
        """
        rows = self._db.execute(
            "SELECT attempt, batch, temporary, output_path, output_sha256, overwrite "
            "FROM pending ORDER BY attempt").fetchall()
        done: list[RecoveredOutput] = []
        alive: dict[str, bool] = {}
        for attempt, batch, temporary, output_path, output_sha, overwrite in rows:
            if attempt in self._placed:
                continue
            if alive.setdefault(batch, batch_alive(batch, lock_folder)):
                continue
            output, temp = Path(output_path), Path(temporary)
            outcome, error = _recover_one(temp, output, output_sha, bool(overwrite))
            with self._transaction():
                if outcome == "failed":
                    self._db.execute("UPDATE attempts SET status='failed', output_path=NULL, "
                                     "output_sha256=NULL, error=? WHERE id=?",
                                     (error, attempt))
                elif outcome == "completed":
                    self._db.execute(
                        "UPDATE attempts SET note=COALESCE(note || '; ', '') || ? WHERE id=?",
                        ("the output was given its name when the journal was next opened "
                         "(the batch had been interrupted)", attempt))
                self._db.execute("DELETE FROM pending WHERE attempt=?", (attempt,))
            done.append(RecoveredOutput(attempt, output, outcome))
        return done

    def record_login(self, result: LoginResult, *, token: str | None, serial: str | None,
                     module: str | None, error: str | None = None,
                     batch: str | None = None, time: datetime | None = None) -> int:
        """Record one login (one PIN given): how it ended; never the PIN."""
        moment = (time or datetime.now(UTC)).astimezone(UTC)
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO logins (time_utc, result, token, serial, module, error, batch) "
                "VALUES (?,?,?,?,?,?,?)",
                (moment.isoformat(timespec="milliseconds"), result, token, serial, module,
                 error, batch))
        return int(cursor.lastrowid or 0)

    def logins(self, *, since: datetime | None = None) -> list[LoginEntry]:
        """Logins at or after ``since`` (aware), oldest first."""
        query, args = _since("SELECT * FROM logins", since)
        return [LoginEntry(id=r[0], time=datetime.fromisoformat(r[1]), result=r[2],
                           token=r[3], serial=r[4], module=r[5], error=r[6], batch=r[7])
                for r in self._db.execute(query + " ORDER BY id", args).fetchall()]

    def signed_from(self, output_sha256: str) -> list[tuple[str, str | None]]:
        """``(input_path, input_sha256)`` of every attempt that signed an output with
        this SHA-256: what a file is the signed output of, when signsvc made it."""
        rows = self._db.execute(
            "SELECT input_path, input_sha256 FROM attempts WHERE status='signed' AND "
            "output_sha256=? ORDER BY id", (output_sha256,)).fetchall()
        return [(row[0], row[1]) for row in rows]

    def entries(self, *, since: datetime | None = None) -> list[AuditEntry]:
        """Attempts at or after ``since`` (aware), oldest first."""
        query, args = _since("SELECT * FROM attempts", since)
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
     output_sha, level, tsa, error, batch, note) = row
    return AuditEntry(
        id=id_, time=datetime.fromisoformat(time_utc), status=status,
        signer_subject=subject, signer_serial=serial, signer_issuer=issuer,
        input_path=input_path, input_sha256=input_sha, output_path=output_path,
        output_sha256=output_sha, level=level, tsa=tsa, error=error, batch=batch, note=note)


def _recover_one(temporary: Path, output: Path, sha: str, overwrite: bool
                 ) -> tuple[Literal["placed", "completed", "failed"], str | None]:
    """Finish one pending output (see :meth:`AuditJournal.recover`)."""
    try:
        matches = output.exists() and sha256_file(output) == sha
        complete = temporary.exists() and sha256_file(temporary) == sha
    except OSError as exc:
        return "failed", f"interrupted, and its output cannot be checked now: {exc}"
    if matches:
        temporary.unlink(missing_ok=True)  # renamed; only the unlink was left
        return "placed", None
    if not temporary.exists():
        # Placing is link (or replace) then unlink: without the temporary the output
        # had its name once, but it is not there now as signed.
        return "failed", ("interrupted, and its output is not there now as it was signed "
                          "(moved, changed, or lost in a power cut)")
    if not complete:
        temporary.unlink(missing_ok=True)
        return "failed", ("interrupted, and the temporary file it left is not the signed "
                          "document (damaged); nothing was written")
    try:
        place(temporary, output, overwrite=overwrite)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        why = "its name is taken by another file" if isinstance(exc, FileExistsError) else \
            (exc.strerror or str(exc))
        return "failed", f"interrupted, and its output could not be put in place: {why}"
    return "completed", None


def iter_entries(path: str | os.PathLike[str], since: datetime | None = None
                 ) -> Iterator[AuditEntry]:
    """Read a journal without creating it (for ``signsvc audit``)."""
    if not Path(path).exists():
        return
    with AuditJournal(path) as journal:
        yield from journal.entries(since=since)


def iter_logins(path: str | os.PathLike[str], since: datetime | None = None
                ) -> Iterator[LoginEntry]:
    """Read a journal's logins without creating it (for ``signsvc audit --logins``)."""
    if not Path(path).exists():
        return
    with AuditJournal(path) as journal:
        yield from journal.logins(since=since)


def _since(query: str, since: datetime | None) -> tuple[str, tuple[str, ...]]:
    """``query`` limited to rows at or after ``since`` (aware), with its arguments."""
    if since is None:
        return query, ()
    if since.tzinfo is None:
        raise ValueError("since must be an aware datetime")
    return (query + " WHERE time_utc >= ?",
            (since.astimezone(UTC).isoformat(timespec="milliseconds"),))
