"""Which signing batches are still running: one locked file per batch.

A batch holds an exclusive lock (``flock``; ``msvcrt.locking`` on Windows) on
``<lock folder>/<batch id>.lock`` for as long as it runs. The operating system drops
the lock when the process ends, however it ends (SIGKILL, a crash, a power cut), so a
lock that can be taken belongs to a batch that is gone: its journal rows still waiting
for their output (:meth:`signsvc.sign.journal.AuditJournal.recover`) and its temporary
files may be finished or cleaned up by the next run, and a running batch's never are.

Example::

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with BatchLock("3f2a9c", folder):
    ...     batch_alive("3f2a9c", folder)
    True
    >>> batch_alive("3f2a9c", folder)
    False
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO

__all__ = ["BatchLock", "batch_alive", "default_lock_folder"]


def default_lock_folder() -> Path:
    """``$XDG_RUNTIME_DIR/signsvc-batches``, else ``<temp>/signsvc-batches-<user>``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "signsvc-batches"
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"signsvc-batches-{user}"


def _lock(handle: IO[bytes]) -> bool:
    """Take the lock without waiting; False when someone holds it."""
    try:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            return False
    except OSError:
        return False
    return True


class BatchLock:
    """Held by a running batch (a context manager)."""

    def __init__(self, batch: str, folder: Path | None = None) -> None:
        self.batch = batch
        self.folder = folder or default_lock_folder()
        self.path = self.folder / f"{batch}.lock"
        self._handle: IO[bytes] | None = None

    def __enter__(self) -> BatchLock:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = self.path.open("ab")
        if not _lock(handle):
            handle.close()
            raise RuntimeError(f"batch {self.batch} is already running")
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self._handle.close()
            self._handle = None


def batch_alive(batch: str, folder: Path | None = None) -> bool:
    """True while the batch ``batch`` runs (its lock is held by a live process)."""
    path = (folder or default_lock_folder()) / f"{batch}.lock"
    try:
        handle = path.open("rb")
    except OSError:
        return False  # ended (it removes its lock file), or never ran on this machine
    with handle:
        return not _lock(handle)
