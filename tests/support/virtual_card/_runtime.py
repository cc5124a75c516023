"""Process bookkeeping shared by the emulator and the PC/SC stack: pid files, leftovers.

A leftover card emulator from a crashed run stays connected to vpcd (or waits in its
accept queue) and answers for the next run's card; a leftover pcscd holds the socket.
Every process the harness starts writes ``<kind>-<pid>.pid`` into :data:`RUNTIME_DIR`;
the next start stops whatever those files name, after checking ``/proc/<pid>/cmdline``
so that a recycled pid is never signalled. Nothing is ever killed by name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

RUNTIME_DIR = Path(tempfile.gettempdir()) / "signsvc-virtual-card"
CARD_MARKER = "tests.support.virtual_card.card"
"""Appears in every emulator's command line (``python -m tests.support.virtual_card.card``)."""
PCSCD_MARKER = "signsvc-virtual-card"
"""Appears in the command line of a pcscd the harness started (its ``-c`` directory)."""

PR_SET_PDEATHSIG = 1


KEEP = "KEEP"
"""A work directory holding this file is left for a human to read (debug runs)."""


def make_workdir(kind: str) -> Path:
    """A fresh ``<kind>-<our pid>-*`` directory in :data:`RUNTIME_DIR`; once this
    process is gone, :func:`stop_leftovers` removes it."""
    RUNTIME_DIR.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{kind}-{os.getpid()}-", dir=RUNTIME_DIR))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_file(kind: str, pid: int) -> Path:
    return RUNTIME_DIR / f"{kind}-{pid}.pid"


def register(kind: str, pid: int) -> Path:
    """Record a process the harness owns."""
    RUNTIME_DIR.mkdir(parents=True, exist_ok=True)
    path = pid_file(kind, pid)
    path.write_text(str(pid), encoding="ascii")
    return path


def unregister(kind: str, pid: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        pid_file(kind, pid).unlink()


def cmdline(pid: int) -> str:
    """The process's command line, NUL-separated arguments joined by spaces; "" if gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace")


def stop_pid(pid: int, marker: str, *, timeout: float = 3.0) -> bool:
    """SIGTERM then SIGKILL the process ``pid`` if its command line contains ``marker``.

    Returns True if such a process was running.
    """
    if marker not in cmdline(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker not in cmdline(pid):
            return True
        _reap(pid)
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    while marker in cmdline(pid) and time.monotonic() < deadline + 2:
        _reap(pid)
        time.sleep(0.02)
    return True


def _reap(pid: int) -> None:
    """Collect the zombie if ``pid`` is our child (a zombie keeps its /proc entry)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop_leftovers() -> list[str]:
    """Stop every process a previous run registered and left running, and remove the
    work directories of runs that are gone (unless marked :data:`KEEP`).

    Call it only while holding the stack's lock: then no other run is alive.

    Returns a description of each process stopped.
    """
    stopped: list[str] = []
    if not RUNTIME_DIR.is_dir():
        return stopped
    for path in sorted(RUNTIME_DIR.glob("*.pid")):
        kind = path.name.split("-", 1)[0]
        marker = CARD_MARKER if kind == "card" else PCSCD_MARKER
        try:
            pid = int(path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            pid = 0
        if pid and pid != os.getpid() and stop_pid(pid, marker):
            stopped.append(f"{kind} pid {pid}")
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    for directory in RUNTIME_DIR.iterdir():
        owner = directory.name.split("-")
        if (directory.is_dir() and len(owner) >= 3 and owner[1].isdigit()
                and not (directory / KEEP).exists() and not _alive(int(owner[1]))):
            shutil.rmtree(directory, ignore_errors=True)
    return stopped


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGTERM this process when its parent dies (prctl(2)
    ``PR_SET_PDEATHSIG``), so a crashed test run leaves no card behind; then make sure
    the parent did not die before the request was made."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(0)
