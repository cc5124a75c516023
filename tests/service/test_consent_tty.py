"""Consent on a terminal: a real pseudo-terminal as the confirming process's
controlling terminal, typed into as an official would; and a process with no
terminal at all."""

from __future__ import annotations

import fcntl
import gettext
import json
import os
import pty
import select
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from signsvc._i18n import DOMAIN, LOCALE_DIR
from signsvc.service.consent import ConsentFile, ConsentRequest
from tests.support.paths import ROOT

_LIMIT = 60.0
"""Seconds to wait for the confirming process's output (a safety net)."""

_VI = gettext.translation(DOMAIN, LOCALE_DIR, languages=["vi"], fallback=True)
YES = _VI.gettext("y|yes").split("|")[0]
"""What an official types for yes in Vietnamese ("c", có)."""
NO = "k"
"""... and for no (không)."""
PROMPT = _VI.gettext("[y/N]").encode()
PIN_PROMPT = _VI.gettext("PIN: ").encode()

# The service's side: ask on the terminal (in Vietnamese), write the answer to a file.
_CONFIRMING = """
import json, sys
from signsvc._i18n import set_language
from signsvc.service.consent import ConsentRequest, make_confirmer
set_language("vi")
request, out, kind, timeout = sys.argv[1:]
confirmer = make_confirmer("tty")
if kind == "pair":
    result = {"paired": confirmer.pair("https://eoffice.example.vn", timeout=float(timeout))}
else:
    a = confirmer.confirm(ConsentRequest.from_json(json.loads(request)), timeout=float(timeout))
    result = {"approved": a.approved, "pin": a.pin, "reason": a.reason}
open(out, "w").write(json.dumps(result))
"""


def batch(*, pin_needed: bool = True) -> ConsentRequest:
    doc = ConsentFile(name="cv-12.pdf", url="https://eoffice.example.vn/f/cv-12.pdf",
                      size=18_204, pages=2, sha256="ab" * 32)
    return ConsentRequest(origin="https://eoffice.example.vn", call="SignIssued",
                          role="Ban hành", certificate="CN=UBND tỉnh X",
                          certificate_serial="0f", stamp_text="Số 12/QĐ-UBND",
                          files=(doc,), pin_needed=pin_needed)


@dataclass
class Session:
    """The confirming process on a pseudo-terminal; the test holds the keyboard."""

    process: subprocess.Popen[bytes]
    master: int
    result: Path
    seen: bytes = b""

    def wait_for(self, needle: bytes) -> None:
        deadline = time.monotonic() + _LIMIT
        while needle not in self.seen:
            assert time.monotonic() < deadline, self.seen.decode(errors="replace")
            if select.select([self.master], [], [], 1.0)[0]:
                self.seen += os.read(self.master, 4096)

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def finish(self) -> dict[str, object]:
        self.process.wait(timeout=_LIMIT)
        while True:  # the rest of what it printed, up to the terminal's hang-up
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: the last process on the terminal is gone
                break
            if not chunk:
                break
            self.seen += chunk
        assert self.process.returncode == 0
        answer: dict[str, object] = json.loads(self.result.read_text())
        return answer


class Start(Protocol):
    """The ``start`` fixture: run the confirming process on a new pseudo-terminal."""

    def __call__(self, kind: str = "sign", *, request: ConsentRequest | None = None,
                 timeout: float = _LIMIT, typed_ahead: str = "") -> Session: ...


def _own_terminal() -> None:
    # In the child: a session of its own whose controlling terminal is the pty
    # (its stdin), as a service started from a terminal has.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    started: list[Session] = []

    def run(kind: str = "sign", *, request: ConsentRequest | None = None,
            timeout: float = _LIMIT, typed_ahead: str = "") -> Session:
        master, slave = pty.openpty()
        if typed_ahead:
            os.write(master, typed_ahead.encode())
        out = tmp_path / f"answer-{len(started)}.json"
        process = subprocess.Popen(
            [sys.executable, "-c", _CONFIRMING, json.dumps((request or batch()).to_json()),
             str(out), kind, str(timeout)],
            stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, preexec_fn=_own_terminal)
        os.close(slave)
        session = Session(process, master, out)
        started.append(session)
        return session

    yield run
    for session in started:
        if session.process.poll() is None:
            session.process.kill()
            session.process.wait()
        os.close(session.master)


def test_yes_and_the_pin_approve_and_the_pin_is_not_echoed(start: Start) -> None:
    session = start()
    session.wait_for(PROMPT)
    # The summary came first: the origin, the stamp text, the file and its hash.
    for shown in ("https://eoffice.example.vn", "Số 12/QĐ-UBND", "cv-12.pdf", "ab" * 32):
        assert shown.encode() in session.seen
    session.type(YES)
    session.wait_for(PIN_PROMPT)
    session.type("4321-x")
    assert session.finish() == {"approved": True, "pin": "4321-x", "reason": ""}
    assert b"4321" not in session.seen


def test_no_denies(start: Start) -> None:
    session = start()
    session.wait_for(PROMPT)
    session.type(NO)
    assert session.finish() == {"approved": False, "pin": None, "reason": "denied"}
    assert PIN_PROMPT not in session.seen


def test_keys_typed_before_the_question_answer_nothing(start: Start) -> None:
    session = start(typed_ahead=f"{YES}\n")
    session.wait_for(PROMPT)
    session.type(NO)
    assert session.finish() == {"approved": False, "pin": None, "reason": "denied"}


def test_without_a_pin_to_ask_yes_approves(start: Start) -> None:
    session = start(request=batch(pin_needed=False))
    session.wait_for(PROMPT)
    session.type(YES)
    assert session.finish() == {"approved": True, "pin": None, "reason": ""}
    assert PIN_PROMPT not in session.seen


def test_no_answer_in_time_denies(start: Start) -> None:
    session = start(timeout=1.0)
    assert session.finish() == {"approved": False, "pin": None, "reason": "timeout"}


@pytest.mark.parametrize(("answer", "paired"), [(YES, True), (NO, False), ("", False)])
def test_pairing_on_the_terminal(start: Start, answer: str, paired: bool) -> None:
    session = start("pair")
    session.wait_for(PROMPT)
    assert b"https://eoffice.example.vn" in session.seen
    session.type(answer)
    assert session.finish() == {"paired": paired}


@pytest.mark.parametrize("kind", ["sign", "pair"])
def test_no_terminal_denies(tmp_path: Path, kind: str) -> None:
    out = tmp_path / "answer.json"
    subprocess.run([sys.executable, "-c", _CONFIRMING, json.dumps(batch().to_json()),
                    str(out), kind, str(_LIMIT)],
                   stdin=subprocess.DEVNULL, cwd=ROOT, start_new_session=True, check=True,
                   timeout=_LIMIT)
    expected = ({"paired": False} if kind == "pair"
                else {"approved": False, "pin": None, "reason": "no-terminal"})
    assert json.loads(out.read_text()) == expected
