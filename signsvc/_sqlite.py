"""The SQLite files signsvc keeps (the audit journal, the verification store): opened
the same way, with every database failure an :class:`~signsvc.errors.OutputError`
naming the file.

Both use WAL (readers never block the one writer, and a crash never corrupts the
file) and autocommit, each write in its own ``BEGIN IMMEDIATE`` transaction; they
differ only in ``synchronous`` (each module says why).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

from signsvc.errors import OutputError

__all__ = ["Transaction", "open_database"]


def open_database(path: Path, *, what: str, schema: str,
                  synchronous: Literal["FULL", "NORMAL"]) -> sqlite3.Connection:
    """Open (creating it and its folder if needed) the database ``what`` names.

    Raises:
        OutputError: it cannot be created or opened, or is not such a database (a
            file that is not SQLite, a read-only folder, ...).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit; writes open their own transaction.
        db = sqlite3.connect(path, isolation_level=None, timeout=30)
    except (OSError, sqlite3.Error) as exc:
        raise OutputError(f"cannot open the {what}: {exc}", path=path) from exc
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.executescript(schema)
    except sqlite3.Error as exc:
        db.close()
        raise OutputError(f"not a signsvc {what} ({exc})", path=path) from exc
    return db


class Transaction:
    """``BEGIN IMMEDIATE ... COMMIT`` (``ROLLBACK`` on an exception); a database
    failure (disk full, file replaced) becomes an OutputError naming the file."""

    def __init__(self, db: sqlite3.Connection, path: Path, what: str) -> None:
        self._db = db
        self._path = path
        self._what = what

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise OutputError(f"{self._what}: {exc}", path=self._path) from exc

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        except sqlite3.Error as error:
            raise OutputError(f"{self._what}: {error}", path=self._path) from error
        if isinstance(exc, sqlite3.Error):
            raise OutputError(f"{self._what}: {exc}", path=self._path) from exc
