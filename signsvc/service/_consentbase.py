"""What every way of asking the official shares: the request and answer, the
:class:`Confirmer` protocol, the rule that a failing confirmer denies, and the batch
summary as shown (window and terminal say the same things).

Public names are re-exported by :mod:`signsvc.service.consent`; the confirmers'
own modules import them from here, so that ``consent`` may load them without an
import cycle.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from signsvc._i18n import _

__all__ = [
    "DEFAULT_TIMEOUT",
    "DENIED",
    "ERROR",
    "NO_DISPLAY",
    "NO_TERMINAL",
    "TIMEOUT",
    "ChildResult",
    "Confirmer",
    "ConsentAnswer",
    "ConsentFile",
    "ConsentRequest",
    "GuardedConfirmer",
    "pair_question",
    "run_child",
    "shown_pages",
    "shown_size",
    "summary_lines",
]

DEFAULT_TIMEOUT = 120.0
"""Seconds the official has to answer; no answer by then is a deny
(SERVICE-DESIGN §3.4: a request nobody looks at must not wait for a passer-by)."""

DENIED = "denied"
"""The official said no (or closed the window)."""
TIMEOUT = "timeout"
"""Nobody answered in time."""
NO_DISPLAY = "no-display"
"""No graphical session to show the window in."""
NO_TERMINAL = "no-terminal"
"""No controlling terminal to ask on."""
ERROR = "error"
"""The confirmer itself failed (crashed window, missing command, ...)."""

_LOG = logging.getLogger("signsvc.service.consent")
_T = TypeVar("_T")


@dataclass(frozen=True)
class ConsentFile:
    """One document of a batch, as the official is shown it."""

    name: str
    """The document's file name (last path segment of its URL, decoded)."""
    url: str
    """Where it was fetched from."""
    size: int
    """Bytes."""
    pages: int | None
    """Page count; None if it could not be counted."""
    sha256: str
    """SHA-256 of the fetched bytes, hex."""


@dataclass(frozen=True)
class ConsentRequest:
    """One batch to approve: who asks, with which certificate, for what."""

    origin: str
    """The calling Origin, exactly as the gate accepted it."""
    call: str
    """The VGCA call: ``SignApproved``, ``SignIssued``, ``SignAppendix``, ``SignCopy``."""
    role: str
    """The role as shown, already translated (e.g. "Ký duyệt")."""
    certificate: str
    """The signer certificate's subject, human-readable (CN, O, ...)."""
    certificate_serial: str
    """The signer certificate's serial number, hex."""
    stamp_text: str
    """The text that will be stamped (issuance number and date, copy form...); "" if none."""
    files: tuple[ConsentFile, ...]
    """The documents, in the order they will be signed."""
    pin_needed: bool
    """True: the confirmer must ask the PIN; False: the token's PIN pad or the
    service's own PIN source (``--pin-env``) supplies it."""

    def to_json(self) -> dict[str, Any]:
        """The request as the script and window processes read it:
        ``{"kind": "sign", "origin", "call", "role", "certificate",
        "certificate_serial", "stamp_text", "files": [{"name", "url", "size",
        "pages", "sha256"}], "pin_needed"}``."""
        return {
            "kind": "sign", "origin": self.origin, "call": self.call, "role": self.role,
            "certificate": self.certificate, "certificate_serial": self.certificate_serial,
            "stamp_text": self.stamp_text,
            "files": [{"name": f.name, "url": f.url, "size": f.size, "pages": f.pages,
                       "sha256": f.sha256} for f in self.files],
            "pin_needed": self.pin_needed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConsentRequest:
        """The request back from :meth:`to_json`'s form.

        Raises:
            ValueError: a field is missing or of the wrong type.
        """
        try:
            files = tuple(
                ConsentFile(name=_typed(f["name"], str), url=_typed(f["url"], str),
                            size=_typed(f["size"], int),
                            pages=None if f["pages"] is None else _typed(f["pages"], int),
                            sha256=_typed(f["sha256"], str))
                for f in data["files"])
            return cls(origin=_typed(data["origin"], str), call=_typed(data["call"], str),
                       role=_typed(data["role"], str),
                       certificate=_typed(data["certificate"], str),
                       certificate_serial=_typed(data["certificate_serial"], str),
                       stamp_text=_typed(data["stamp_text"], str), files=files,
                       pin_needed=_typed(data["pin_needed"], bool))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a consent request: {exc!r}") from exc


def _typed(value: object, kind: type[_T]) -> _T:
    # bool is an int in Python; a size of True is still a wrong request.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class ConsentAnswer:
    """The official's decision on one batch."""

    approved: bool
    """True only on an explicit yes."""
    pin: str | None = field(default=None, repr=False)
    """The PIN typed with the approval, when the request needed one; else None.
    Kept out of the repr, so a logged answer never shows it."""
    reason: str = ""
    """Why not, when not approved: ``"denied"``, ``"timeout"``, ``"no-display"``,
    ``"no-terminal"``, ``"error"``."""


class Confirmer(Protocol):
    """A way to ask the official. Both calls block; the service calls them from one
    worker thread, one at a time."""

    def confirm(self, request: ConsentRequest, *,
                timeout: float = DEFAULT_TIMEOUT) -> ConsentAnswer:
        """Approve or deny one batch (with the PIN when ``request.pin_needed``)."""
        ...

    def pair(self, origin: str, *, timeout: float = DEFAULT_TIMEOUT) -> bool:
        """"Allow ``origin`` to request signatures?": True only on an explicit yes."""
        ...


class GuardedConfirmer(ABC):
    """A confirmer whose failures deny: any exception becomes
    ``ConsentAnswer(False, reason="error")`` (or False for pairing), logged, never
    raised into the service (the contract with the service core)."""

    def confirm(self, request: ConsentRequest, *,
                timeout: float = DEFAULT_TIMEOUT) -> ConsentAnswer:
        """Approve or deny one batch; see :class:`Confirmer`."""
        try:
            answer = self._confirm(request, timeout)
        except Exception:
            # The traceback names no PIN: the PIN only ever sits in local variables,
            # which a logged traceback does not print.
            _LOG.exception("%s failed; the batch is denied", type(self).__name__)
            return ConsentAnswer(False, reason=ERROR)
        if not answer.approved and answer.reason != DENIED:
            _LOG.warning("%s: the batch from %s is denied (%s)", type(self).__name__,
                         request.origin, answer.reason)
        return answer

    def pair(self, origin: str, *, timeout: float = DEFAULT_TIMEOUT) -> bool:
        """Pair ``origin`` or not; see :class:`Confirmer`."""
        try:
            return self._pair(origin, timeout) is True
        except Exception:
            _LOG.exception("%s failed; %s is not paired", type(self).__name__, origin)
            return False

    @abstractmethod
    def _confirm(self, request: ConsentRequest, timeout: float) -> ConsentAnswer: ...

    @abstractmethod
    def _pair(self, origin: str, timeout: float) -> bool: ...


@dataclass(frozen=True)
class ChildResult:
    """How a confirmer's child process ended."""

    returncode: int | None
    """Its exit status; None when it was killed at the timeout."""
    stdout: bytes
    """What it wrote on its standard output (b"" unless captured)."""


def run_child(argv: list[str], stdin: bytes, timeout: float, *, capture: bool = False,
              env: dict[str, str] | None = None, cwd: str | None = None) -> ChildResult:
    """Run ``argv`` with ``stdin`` on its standard input and wait at most ``timeout``
    seconds; then kill it with everything it started.

    The child gets a session of its own: the kill reaches its whole process group (a
    shell script's ``sleep`` too), and a Ctrl-C on the service's terminal is not its
    answer. Its standard error is the service's (the journal shows why a script or
    the window failed); the standard output is captured or discarded.

    Raises:
        OSError: the command cannot be started (not found, not executable).
    """
    process = subprocess.Popen(
        argv, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        env=env, cwd=cwd, start_new_session=True)
    try:
        out, _err = process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return ChildResult(None, b"")
    except BaseException:  # the service stops while asking: leave no window behind
        _kill_group(process)
        raise
    return ChildResult(process.returncode, out or b"")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # already gone, group and all
        pass
    # wait(), not communicate(): a grandchild that left the group could hold the
    # pipe open forever; the child itself is dead and reaped either way.
    process.wait()
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()


def shown_size(size: int) -> str:
    """A file size as people read it: ``812 B``, ``14.2 KB``, ``3.1 MB`` (1 KB = 1024 B)."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def shown_pages(pages: int | None) -> str:
    """A page count, or "?" when it could not be counted."""
    return "?" if pages is None else str(pages)


def pair_question(origin: str) -> str:
    """The pairing question, in the language in use."""
    return _("Allow {origin} to request digital signatures?").format(origin=origin)


def summary_lines(request: ConsentRequest) -> list[tuple[str, str]]:
    """(label, value) pairs of a batch, in the order shown: origin, certificate,
    serial, role, stamp text (when any)."""
    lines = [(_("Requested by"), request.origin),
             (_("Certificate"), request.certificate),
             (_("Serial number"), request.certificate_serial),
             (_("Role"), request.role)]
    if request.stamp_text:
        lines.append((_("Text to stamp"), request.stamp_text))
    return lines
