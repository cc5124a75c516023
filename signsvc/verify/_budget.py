"""What one document may cost :func:`signsvc.verify.verify_pdf`: a deadline and sizes.

Example::

    >>> from signsvc.verify._budget import Budget
    >>> budget = Budget(time_limit=10.0)
    >>> budget.stage = "reading the cross-reference sections"
    >>> budget.check()               # raises TimeLimitError once the 10 s have passed
    >>> budget.spend_decoded(4096)   # raises PdfLimitError past MAX_DECODED in all

Why inside the call: the batch's forked workers kill a document that overruns, but a
system that imports the library and calls ``verify_pdf`` has no watchdog (issue 13:
one byte changed in a 17 KB signed file made ``verify_pdf`` loop for ten minutes). So
the work itself is bounded:

- the loops of our own code (the strict reader's tokeniser, the cross-reference
  readers, the field walk, the walk of the bytes after a signature, the signatures of a
  document) call :meth:`Budget.check` every so often;
- code that is not ours and has no hook for it (pyHanko's reader and its difference
  analysis) runs under :meth:`Budget.foreign`: a watcher thread raises
  :class:`TimeLimitError` in the verifying thread when the deadline passes, and
  :class:`MemoryLimitError` when the process grows by :data:`MAX_FOREIGN_GROWTH`
  meanwhile (``PyThreadState_SetAsyncExc``, delivered between two bytecodes; C code is
  bounded by the size caps instead);
- sizes: :data:`MAX_DECODED` bytes of decoded streams per document and
  :data:`MAX_OBJECTS` cross-reference entries, besides the per-structure caps of the
  reader (nesting, fields, revisions, string and number lengths in
  :mod:`signsvc.verify._pdfscan`; one stream in :mod:`signsvc.verify._pdffilters`).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Iterator

from signsvc.verify._pdffilters import PdfLimitError

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "MAX_DECODED",
    "MAX_FOREIGN_GROWTH",
    "MAX_OBJECTS",
    "Budget",
    "DocumentLimitError",
    "MemoryLimitError",
    "TimeLimitError",
]

DEFAULT_TIME_LIMIT = 10.0
"""Seconds one document may take. A one-page decision verifies in about a millisecond,
a 50 MB scan in about a second: ten seconds only ever stops a hostile file."""

MAX_DECODED = 256 * 1024 * 1024
"""Bytes all decoded streams of one document may add up to (each stream is further
capped by :data:`signsvc.verify._pdffilters.MAX_STREAM`): many small bombs are a bomb."""

MAX_FOREIGN_GROWTH = 512 * 1024 * 1024
"""Bytes the process may grow by while foreign code (pyHanko) reads one document: its
reader has no object limit, and a cross-reference stream it reads on its own (one the
strict reader never reached) can declare millions of entries, about 400 bytes each."""

MAX_OBJECTS = 1_000_000
"""Cross-reference entries of one document, all revisions together. A 5,000-page
dossier has about 15,000 objects; a compressed cross-reference stream could otherwise
declare 64 million (about 10 GB of Python objects)."""


class DocumentLimitError(BaseException):
    """The document's budget ran out (see the subclasses).

    A BaseException, like KeyboardInterrupt: handlers that turn any failure into a
    verdict (a difference analysis that fails counts as a modification, ISO 32000-2
    §12.8.2.2) must not catch it, so running out can only ever end as "could not
    verify", never as "modified".
    """


class TimeLimitError(DocumentLimitError):
    """The document's time budget ran out."""


class MemoryLimitError(DocumentLimitError):
    """Foreign code grew the process by more than :data:`MAX_FOREIGN_GROWTH`."""


class Budget:
    """The budget of one document; it also counts what was spent."""

    def __init__(self, time_limit: float | None = None) -> None:
        self.time_limit = time_limit
        """Seconds allowed, None for no limit."""
        self.deadline = math.inf if time_limit is None else time.monotonic() + time_limit
        self.decoded = 0
        """Bytes of decoded stream data so far."""
        self.objects = 0
        """Cross-reference entries read so far."""
        self.stage = "reading the document"
        """What was being done, for the message when the time runs out."""

    def check(self) -> None:
        """Raise :class:`TimeLimitError` once the deadline has passed."""
        if time.monotonic() > self.deadline:
            raise TimeLimitError(self.stage)

    def decoded_cap(self, per_stream: int) -> int:
        """The most bytes the next stream may decode to."""
        return max(0, min(per_stream, MAX_DECODED - self.decoded))

    def spend_decoded(self, size: int) -> None:
        self.decoded += size
        if self.decoded > MAX_DECODED:
            raise PdfLimitError(f"the document's streams expand beyond {MAX_DECODED >> 20} MiB "
                                "in all (size limit)")

    def spend_objects(self, count: int) -> None:
        self.objects += count
        if self.objects > MAX_OBJECTS:
            raise PdfLimitError(f"more than {MAX_OBJECTS:,} objects in the cross-reference "
                                "sections (object limit)")

    def exceeded_message(self, exc: DocumentLimitError) -> str:
        """Words for a result: which limit, and what was being done."""
        if isinstance(exc, MemoryLimitError):
            return (f"verification stopped: more than {MAX_FOREIGN_GROWTH >> 20} MiB of "
                    f"memory used while {self.stage} (memory limit)")
        limit = f"{self.time_limit:g} s " if self.time_limit is not None else ""
        return f"verification stopped: the {limit}time limit ran out while {self.stage}"

    @contextlib.contextmanager
    def foreign(self) -> Iterator[None]:
        """Run code that cannot call :meth:`check` (pyHanko's), stopped at the deadline
        or when the process grows by :data:`MAX_FOREIGN_GROWTH` meanwhile."""
        self.check()
        start = _resident()
        # Stopped a little early: unwinding what foreign code built (millions of
        # cross-reference entries take a second to free) must fit in the limit too.
        margin = min(_UNWIND, 0.2 * self.time_limit) if self.time_limit is not None else 0.0
        alarm = _Alarm(threading.get_ident(), self.deadline - margin,
                       None if start is None else start + MAX_FOREIGN_GROWTH)
        try:
            yield
        finally:
            alarm.cancel()


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _resident() -> int | None:
    """This process's resident memory in bytes (Linux), None where unknown."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def _set_async_exc(ident: int, exc: type[BaseException] | None) -> None:
    import ctypes

    # None clears a pending exception (C API: PyThreadState_SetAsyncExc with NULL).
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(exc) if exc is not None else None)


_UNWIND = 2.0
"""Seconds before the deadline at which foreign code is stopped (at most a fifth of
the time limit)."""
_POLL = 0.05
"""Seconds between two looks at the clock and the memory during foreign code."""


class _Alarm:
    """Raises a :class:`DocumentLimitError` in thread ``ident`` at ``deadline``, or
    once resident memory passes ``memory_cap``, unless cancelled first.

    Firing and cancelling take one lock, and cancelling clears an exception that fired
    but was not delivered yet, so it is only ever raised inside the guarded block (or
    in its ``finally``). Python delivers it between two bytecodes; C code that runs
    long is bounded by the size caps instead.
    """

    def __init__(self, ident: int, deadline: float, memory_cap: int | None) -> None:
        self._ident = ident
        self._deadline = deadline
        self._memory_cap = memory_cap
        self._lock = threading.Lock()
        self._armed = True
        self._fired = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        if deadline < math.inf or memory_cap is not None:
            self._thread = threading.Thread(target=self._watch, name="signsvc-budget",
                                            daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(max(0.0, min(_POLL, self._deadline - time.monotonic()))):
            if time.monotonic() >= self._deadline:
                self._fire(TimeLimitError)
                return
            if self._memory_cap is not None and (_resident() or 0) > self._memory_cap:
                self._fire(MemoryLimitError)
                return

    def _fire(self, exc: type[DocumentLimitError]) -> None:
        with self._lock:
            if self._armed:
                self._fired = True
                _set_async_exc(self._ident, exc)

    def cancel(self) -> None:
        with self._lock:
            self._armed = False
            if self._fired:
                _set_async_exc(self._ident, None)
        self._done.set()
