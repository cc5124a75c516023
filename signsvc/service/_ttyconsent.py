"""Consent on the terminal the service runs on (``--confirm tty``): kiosks and
debugging.

It talks to ``/dev/tty``, the controlling terminal, never to standard input, which
may be a pipe or a file that would "answer" for the official. Type-ahead is
discarded before each question, so keys pressed before the question was printed
approve nothing; the PIN is read with echo off.
"""

from __future__ import annotations

import os
import select
import termios
import time

from signsvc._i18n import _, ngettext
from signsvc.service._consentbase import (
    DENIED,
    NO_TERMINAL,
    TIMEOUT,
    ConsentAnswer,
    ConsentRequest,
    GuardedConfirmer,
    pair_question,
    shown_pages,
    shown_size,
    summary_lines,
)

__all__ = ["TtyConfirmer"]


class _NoAnswerError(Exception):
    """The deadline passed before a whole line was typed."""


class _Terminal:
    """The controlling terminal, opened for one question; its modes restored after."""

    def __init__(self, device: str) -> None:
        # O_NOCTTY: a service without a terminal must not acquire one by asking.
        self.fd = os.open(device, os.O_RDWR | os.O_NOCTTY)
        try:
            # In the background of a shell, reading would stop the whole service
            # (SIGTTIN, POSIX job control): that terminal is not ours to ask on.
            if os.tcgetpgrp(self.fd) != os.getpgrp():
                raise OSError("the service is not in the terminal's foreground")
            self.saved = termios.tcgetattr(self.fd)
        except BaseException:
            os.close(self.fd)
            raise

    def close(self) -> None:
        try:
            termios.tcsetattr(self.fd, termios.TCSANOW, self.saved)
        finally:
            os.close(self.fd)

    def say(self, message: str) -> None:
        data = message.encode("utf-8", "replace")
        while data:
            data = data[os.write(self.fd, data):]

    def ask(self, prompt: str, deadline: float, *, echo: bool = True) -> str:
        """One line typed after ``prompt`` ("" on end of input).

        Raises:
            _NoAnswerError: ``deadline`` (time.monotonic) passed first.
        """
        mode = termios.tcgetattr(self.fd)
        lflag = mode[3] | termios.ICANON  # whole lines, editable with Backspace
        mode[3] = (lflag | termios.ECHO) if echo else (lflag & ~termios.ECHO)
        termios.tcsetattr(self.fd, termios.TCSANOW, mode)
        termios.tcflush(self.fd, termios.TCIFLUSH)  # type-ahead answers nothing
        self.say(prompt)
        line = b""
        try:
            while not line.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
                    raise _NoAnswerError
                chunk = os.read(self.fd, 1024)
                if not chunk:
                    break
                line += chunk
        finally:
            if not echo:
                self.say("\n")  # the Enter the official typed was not echoed either
            termios.tcsetattr(self.fd, termios.TCSANOW, self.saved)
        return line.decode("utf-8", "replace").rstrip("\r\n")


class TtyConfirmer(GuardedConfirmer):
    """Ask on the controlling terminal; no terminal (a desktop session, a systemd
    unit) denies with ``"no-terminal"``."""

    def __init__(self, device: str = "/dev/tty") -> None:
        self.device = device
        """The terminal to ask on."""

    def _confirm(self, request: ConsentRequest, timeout: float) -> ConsentAnswer:
        deadline = time.monotonic() + timeout
        try:
            terminal = _Terminal(self.device)
        except OSError:
            return ConsentAnswer(False, reason=NO_TERMINAL)
        try:
            terminal.say(_summary(request))
            count = len(request.files)
            question = ngettext("Sign {count} document?", "Sign {count} documents?",
                                count).format(count=count)
            if not _is_yes(terminal.ask(_prompt(question), deadline)):
                terminal.say(_("Denied.") + "\n")
                return ConsentAnswer(False, reason=DENIED)
            pin = None
            if request.pin_needed:
                pin = terminal.ask(_("PIN: "), deadline, echo=False)
                if not pin:  # no empty login attempt: it would cost a PIN try
                    terminal.say(_("No PIN: denied.") + "\n")
                    return ConsentAnswer(False, reason=DENIED)
            return ConsentAnswer(True, pin=pin)
        except _NoAnswerError:
            terminal.say("\n" + _("No answer in time: denied.") + "\n")
            return ConsentAnswer(False, reason=TIMEOUT)
        finally:
            terminal.close()

    def _pair(self, origin: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        try:
            terminal = _Terminal(self.device)
        except OSError:
            return False
        try:
            return _is_yes(terminal.ask(_prompt(pair_question(origin)), deadline))
        except _NoAnswerError:
            terminal.say("\n" + _("No answer in time: denied.") + "\n")
            return False
        finally:
            terminal.close()


def _prompt(question: str) -> str:
    return question + " " + _("[y/N]") + " "


def _is_yes(line: str) -> bool:
    # Translators: the words that mean yes at a [y/N] prompt, separated by "|".
    return line.strip().lower() in _("y|yes").split("|")


def _summary(request: ConsentRequest) -> str:
    lines = ["", "signsvc: " + _("Signature request from") + " " + request.origin]
    lines += [f"  {label}: {value}" for label, value in summary_lines(request)[1:]]
    for number, f in enumerate(request.files, 1):
        pages = _("{pages} pages").format(pages=shown_pages(f.pages))
        lines.append(f"  {number}. {f.name} — {shown_size(f.size)}, {pages}, "
                     f"SHA-256 {f.sha256}")
    return "\n".join(lines) + "\n"
