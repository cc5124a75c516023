"""Ctrl-C held back across a few steps that must happen together.

A signed document's journal row, its output's final name and the line that reports it
belong together: Ctrl-C between two of them would leave a signature the journal does
not know, or a row for a file that never appeared. Inside :func:`held_interrupts`, a
SIGINT is remembered and raised as :class:`KeyboardInterrupt` when the block ends; the
block itself takes milliseconds (an SQLite commit and a rename).

Only the main thread receives Python's SIGINT handler, so elsewhere this does nothing
(the main thread's own handler decides). A power cut or SIGKILL cannot be held back:
the journal's recovery (:meth:`signsvc.sign.journal.AuditJournal.recover`) covers those.

Example::

    >>> with held_interrupts():
    ...     journal_row_committed = True
    ...     output_renamed = True
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

__all__ = ["HeldInterrupts", "held_interrupts"]


class HeldInterrupts:
    """Ctrl-C held back while the block runs (a context manager).

    With ``raise_on_exit`` (:func:`held_interrupts`), a Ctrl-C that came is raised as
    :class:`KeyboardInterrupt` when the block ends; without, it is only remembered
    (:attr:`received`), for the caller to raise a little later with :meth:`reraise`,
    after it has handed over what the block made (a generator yielding its result).
    """

    def __init__(self, *, raise_on_exit: bool = True) -> None:
        self.raise_on_exit = raise_on_exit
        self.received = False
        self._previous: object = None
        self._active = False

    def __enter__(self) -> HeldInterrupts:
        if threading.current_thread() is not threading.main_thread():
            return self
        previous = signal.getsignal(signal.SIGINT)
        if previous is not signal.default_int_handler:
            # Ignored, or someone else's handler (an application embedding signsvc):
            # leave it alone.
            return self
        self._previous = previous
        signal.signal(signal.SIGINT, self._remember)
        self._active = True
        return self

    def _remember(self, signum: int, frame: FrameType | None) -> None:
        self.received = True

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._active:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            self._active = False
        if self.raise_on_exit and exc_type is None:
            self.reraise()

    def reraise(self) -> None:
        """Raise the Ctrl-C that came while the block ran, if one did."""
        if self.received:
            self.received = False
            raise KeyboardInterrupt


def held_interrupts() -> HeldInterrupts:
    """Run the block to its end even if Ctrl-C comes; raise it afterwards."""
    return HeldInterrupts(raise_on_exit=True)
