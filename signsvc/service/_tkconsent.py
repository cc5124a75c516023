"""The service's own consent window (``--confirm tk``, the default).

The window runs in a child process (:mod:`signsvc.service._tkwindow`), so a hung
or crashed Tk never takes the service with it, and the timeout is a kill rather
than a hope that Tk's event loop returns. The question goes in on the child's
standard input, the answer (and the PIN) comes back on its standard output.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from signsvc._i18n import language
from signsvc.service._consentbase import (
    DENIED,
    ERROR,
    NO_DISPLAY,
    TIMEOUT,
    ConsentAnswer,
    ConsentRequest,
    GuardedConfirmer,
    run_child,
)

__all__ = ["TkConfirmer"]

_WINDOW_MODULE = "signsvc.service._tkwindow"
# `python -m` run from the folder holding this very signsvc package: the window is
# the same code as the service, installed or run from a checkout.
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


class TkConfirmer(GuardedConfirmer):
    """Ask in a Tk window on the official's display (X11, or Wayland through
    XWayland). No display: denied at once, no process started."""

    def _confirm(self, request: ConsentRequest, timeout: float) -> ConsentAnswer:
        answer = self._ask(request.to_json(), timeout)
        if answer["approved"] is True:
            pin = answer.get("pin")
            if request.pin_needed and not (isinstance(pin, str) and pin):
                return ConsentAnswer(False, reason=ERROR)  # the window broke its word
            return ConsentAnswer(True, pin=pin if request.pin_needed else None)
        reason = answer.get("reason")
        return ConsentAnswer(False, reason=reason if reason in (
            DENIED, TIMEOUT, NO_DISPLAY) else ERROR)

    def _pair(self, origin: str, timeout: float) -> bool:
        return self._ask({"kind": "pair", "origin": origin}, timeout)["approved"] is True

    def _ask(self, question: dict[str, Any], timeout: float) -> dict[str, Any]:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return {"approved": False, "reason": NO_DISPLAY}
        env = dict(os.environ, SIGNSVC_LANG=language())
        done = run_child([sys.executable, "-m", _WINDOW_MODULE],
                         json.dumps(question).encode(), timeout, capture=True, env=env,
                         cwd=_PACKAGE_PARENT)
        if done.returncode is None:
            return {"approved": False, "reason": TIMEOUT}
        try:
            answer = json.loads(done.stdout) if done.returncode == 0 else None
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("approved"), bool):
            return {"approved": False, "reason": ERROR}
        return answer
