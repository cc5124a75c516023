"""Asking the official before a batch is signed: one confirmation per batch, in the
service's own window (SERVICE-DESIGN §3.4), on the terminal, or by a local script.

Example (a script confirmer: ``true`` approves, ``false`` denies)::

    >>> from signsvc.service.consent import ConsentFile, ConsentRequest, make_confirmer
    >>> doc = ConsentFile(name="cv-12.pdf", url="https://eoffice.example.vn/f/cv-12.pdf",
    ...                   size=18_204, pages=2, sha256="ab" * 32)
    >>> request = ConsentRequest(
    ...     origin="https://eoffice.example.vn", call="SignApproved", role="Ký duyệt",
    ...     certificate="CN=Nguyễn Văn A, O=UBND tỉnh X", certificate_serial="1a2b",
    ...     stamp_text="", files=(doc,), pin_needed=False)
    >>> make_confirmer("script:true").confirm(request)
    ConsentAnswer(approved=True, reason='')
    >>> make_confirmer("script:false").confirm(request)
    ConsentAnswer(approved=False, reason='denied')
    >>> make_confirmer("script:false").pair("https://eoffice.example.vn")
    False

The page never decides anything here: the service builds the request from what it
fetched and checked, and only an explicit yes approves. Every failure of a confirmer
(no display, no terminal, a crash, no answer within :data:`DEFAULT_TIMEOUT`) denies.
"""

from __future__ import annotations

import json
import logging
import shlex

from drivers._text import text
from signsvc.service._consentbase import (
    DEFAULT_TIMEOUT,
    DENIED,
    ERROR,
    NO_DISPLAY,
    NO_TERMINAL,
    TIMEOUT,
    Confirmer,
    ConsentAnswer,
    ConsentFile,
    ConsentRequest,
    GuardedConfirmer,
    run_child,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "DENIED",
    "ERROR",
    "NO_DISPLAY",
    "NO_TERMINAL",
    "TIMEOUT",
    "Confirmer",
    "ConsentAnswer",
    "ConsentFile",
    "ConsentRequest",
    "ScriptConfirmer",
    "make_confirmer",
]

_LOG = logging.getLogger("signsvc.service.consent")


class ScriptConfirmer(GuardedConfirmer):
    """A local command decides, for unattended desks and tests (``--confirm script:CMD``).

    ``CMD`` is split like a shell would (:func:`shlex.split`) but run without one.
    It reads one JSON object on its standard input, :meth:`ConsentRequest.to_json`
    for a batch or ``{"kind": "pair", "origin": ...}`` for pairing; exit status 0
    approves, anything else denies, and so does no exit within the timeout (the
    command and everything it started are killed). A script never supplies a PIN:
    the service's own PIN source does (``--pin-env``), never the request.
    """

    def __init__(self, command: str) -> None:
        """Raises:
            ValueError: ``command`` is empty or not splittable (an open quote).
        """
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ValueError(text("--confirm script:{command}: {reason}",
                                  command=command, reason=str(exc))) from exc
        if not argv:
            raise ValueError(text("--confirm script: needs a command after the colon"))
        self.argv: tuple[str, ...] = tuple(argv)
        """The command and its arguments."""

    def _confirm(self, request: ConsentRequest, timeout: float) -> ConsentAnswer:
        verdict = self._ask(request.to_json(), timeout)
        return ConsentAnswer(True) if verdict == "" else ConsentAnswer(False, reason=verdict)

    def _pair(self, origin: str, timeout: float) -> bool:
        return self._ask({"kind": "pair", "origin": origin}, timeout) == ""

    def _ask(self, question: dict[str, object], timeout: float) -> str:
        """"" when the command approved, else the reason it did not."""
        try:
            done = run_child(list(self.argv), json.dumps(question).encode(), timeout)
        except OSError as exc:  # not found, not executable: a setup error, said plainly
            _LOG.error("--confirm script: cannot run %s: %s", self.argv[0], exc)
            return ERROR
        if done.returncode is None:
            return TIMEOUT
        return "" if done.returncode == 0 else DENIED


def make_confirmer(spec: str) -> Confirmer:
    """The confirmer ``--confirm`` names: ``"tk"`` (the service's window, the
    default), ``"tty"`` (the terminal the service runs on), ``"script:CMD"``.

    Raises:
        ValueError: any other spec (the message names it and the choices).
    """
    if spec == "tk":
        from signsvc.service._tkconsent import TkConfirmer

        return TkConfirmer()
    if spec == "tty":
        from signsvc.service._ttyconsent import TtyConfirmer

        return TtyConfirmer()
    if spec.startswith("script:"):
        return ScriptConfirmer(spec.removeprefix("script:"))
    raise ValueError(text("unknown confirmation {spec!r}: use tk, tty or script:COMMAND",
                          spec=spec))
