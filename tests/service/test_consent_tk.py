"""The real consent window (Tk, in its own process) on a private Xvfb display,
answered with xdotool as an official would: the PIN typed, then a button clicked with
the mouse, or reached with Tab and pressed with Space (SERVICE-DESIGN §3.6 item 5)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from signsvc.service.consent import ConsentAnswer, ConsentFile, ConsentRequest, make_confirmer
from tests.service._xvfb import Xvfb
from tests.support.tools import need

ORIGIN = "https://eoffice.example.vn"
TITLE = f"signsvc — {ORIGIN}"
_T = TypeVar("_T")
_ANSWER_LIMIT = 60.0
"""Seconds a test waits for the window's answer before failing (a safety net)."""


def batch(count: int = 3, *, pin_needed: bool = True) -> ConsentRequest:
    files = tuple(ConsentFile(name=f"cv-{n}.pdf", url=f"{ORIGIN}/files/cv-{n}.pdf",
                              size=1000 * n, pages=n if n % 2 else None,
                              sha256=f"{n:02x}" * 32) for n in range(1, count + 1))
    return ConsentRequest(origin=ORIGIN, call="SignApproved", role="Ký duyệt",
                          certificate="CN=Nguyễn Văn A, O=UBND tỉnh X",
                          certificate_serial="1a2b3c", stamp_text="Số 12/UBND",
                          files=files, pin_needed=pin_needed)


@pytest.fixture
def x(monkeypatch: pytest.MonkeyPatch) -> Iterator[Xvfb]:
    """A private X server, the service's $DISPLAY while the test runs."""
    with Xvfb() as server:
        monkeypatch.setenv("DISPLAY", server.display)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        yield server


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    """The service's worker thread: it blocks in the confirmer while the test clicks."""
    with ThreadPoolExecutor(1) as workers:
        yield workers


def asked(pool: ThreadPoolExecutor, call: Callable[[], _T]) -> Future[_T]:
    return pool.submit(call)


def focused_window(x: Xvfb) -> str:
    """The consent window, found by its title and given the keyboard."""
    window = x.find_window("signsvc")
    x.xdotool("windowfocus", "--sync", window)
    return window


def window_processes() -> list[int]:
    """Our children still running the consent window."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"signsvc.service._tkwindow" in cmdline:
            found.append(int(entry.name))
    return found


def test_the_official_types_the_pin_and_signs_a_batch_of_fifty(
        x: Xvfb, pool: ThreadPoolExecutor) -> None:
    request = batch(50)
    answer = asked(pool, lambda: make_confirmer("tk").confirm(request, timeout=_ANSWER_LIMIT))
    window = focused_window(x)
    assert x.xdotool("getwindowname", window).stdout.strip() == TITLE
    x.xdotool("type", "--delay", "20", "24 68;x")  # spaces and punctuation reach the PIN
    x.xdotool("key", "Tab", "space")  # Tab: from the PIN field to "Sign"
    got = answer.result(timeout=_ANSWER_LIMIT)
    assert got == ConsentAnswer(True, pin="24 68;x")
    assert "24 68" not in repr(got)
    assert window_processes() == []


def buttons(x: Xvfb, window: str) -> tuple[str, str]:
    """The X windows of the "Sign" and "Deny" buttons (Tk gives each widget an X window
    of its own): the two equal-sized ones at the bottom of the window, left to right,
    as ``xwininfo -tree`` shows them."""
    import re
    import subprocess

    need("xwininfo")
    tree = subprocess.run(["xwininfo", "-tree", "-id", window],
                          env=dict(os.environ, DISPLAY=x.display), capture_output=True,
                          text=True, check=True, timeout=30).stdout
    found = [(int(m[5]), int(m[4]), m[1], (m[2], m[3])) for m in re.finditer(
        r"(0x[0-9a-f]+) .*?(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)", tree)]
    bottom = max(y for y, _, _, (w, _h) in found if int(w) < 200)
    row = sorted((left, wid) for y, left, wid, (w, _h) in found if y == bottom and int(w) < 200)
    assert len(row) == 2, tree
    return row[0][1], row[1][1]


def click(x: Xvfb, button: str) -> None:
    """Move the pointer onto ``button`` and press the left mouse button there."""
    x.xdotool("mousemove", "--sync", "--window", button, "10", "10", "click", "1")


def test_the_official_clicks_sign_with_the_mouse(x: Xvfb, pool: ThreadPoolExecutor) -> None:
    answer = asked(pool, lambda: make_confirmer("tk").confirm(batch(), timeout=_ANSWER_LIMIT))
    window = focused_window(x)
    x.xdotool("type", "--delay", "20", "135790")
    sign, _deny = buttons(x, window)
    click(x, sign)
    assert answer.result(timeout=_ANSWER_LIMIT) == ConsentAnswer(True, pin="135790")
    assert window_processes() == []


def test_the_official_clicks_deny_with_the_mouse(x: Xvfb, pool: ThreadPoolExecutor) -> None:
    answer = asked(pool, lambda: make_confirmer("tk").confirm(batch(), timeout=_ANSWER_LIMIT))
    window = focused_window(x)
    x.xdotool("type", "135790")
    _sign, deny = buttons(x, window)
    click(x, deny)
    assert answer.result(timeout=_ANSWER_LIMIT) == ConsentAnswer(False, reason="denied")


def test_enter_approves_nothing_and_deny_denies(x: Xvfb, pool: ThreadPoolExecutor) -> None:
    answer = asked(pool, lambda: make_confirmer("tk").confirm(batch(), timeout=_ANSWER_LIMIT))
    focused_window(x)
    x.xdotool("type", "123456")
    # Enter in the PIN field, Enter on "Sign": neither approves; then "Deny".
    x.xdotool("key", "Return", "Tab", "Return", "Tab", "space")
    assert answer.result(timeout=_ANSWER_LIMIT) == ConsentAnswer(False, reason="denied")


def test_an_empty_pin_does_not_approve(x: Xvfb, pool: ThreadPoolExecutor) -> None:
    answer = asked(pool, lambda: make_confirmer("tk").confirm(batch(), timeout=_ANSWER_LIMIT))
    focused_window(x)
    x.xdotool("key", "Tab", "space")  # "Sign" with no PIN: the focus goes back to the field
    x.xdotool("type", "9999")
    x.xdotool("key", "Tab", "space")
    assert answer.result(timeout=_ANSWER_LIMIT) == ConsentAnswer(True, pin="9999")


def test_without_a_pin_to_ask_deny_has_the_focus(x: Xvfb, pool: ThreadPoolExecutor) -> None:
    request = batch(2, pin_needed=False)
    answer = asked(pool, lambda: make_confirmer("tk").confirm(request, timeout=_ANSWER_LIMIT))
    focused_window(x)
    x.xdotool("key", "shift+Tab", "space")  # from "Deny" back to "Sign"
    assert answer.result(timeout=_ANSWER_LIMIT) == ConsentAnswer(True, pin=None)


def test_escape_denies(x: Xvfb, pool: ThreadPoolExecutor) -> None:
    answer = asked(pool, lambda: make_confirmer("tk").confirm(batch(), timeout=_ANSWER_LIMIT))
    focused_window(x)
    x.xdotool("type", "123456")
    x.xdotool("key", "Escape")
    assert answer.result(timeout=_ANSWER_LIMIT) == ConsentAnswer(False, reason="denied")


def test_no_answer_in_time_kills_the_window_and_denies(x: Xvfb) -> None:
    confirmer = make_confirmer("tk")
    answer = confirmer.confirm(batch(), timeout=2.0)  # nobody touches the window
    assert answer == ConsentAnswer(False, reason="timeout")
    assert window_processes() == []  # killed and reaped, not left behind
    # The killed client's window left with its connection.
    assert TITLE not in x.window_names("signsvc")


@pytest.mark.parametrize(("keys", "paired"), [(("shift+Tab", "space"), True),
                                              (("space",), False)])
def test_pairing_asks_allow_or_deny(x: Xvfb, pool: ThreadPoolExecutor,
                                    keys: tuple[str, ...], paired: bool) -> None:
    answer = asked(pool, lambda: make_confirmer("tk").pair(ORIGIN, timeout=_ANSWER_LIMIT))
    window = focused_window(x)
    assert x.xdotool("getwindowname", window).stdout.strip() == TITLE
    x.xdotool("key", *keys)  # the focus starts on "Deny"; Shift+Tab reaches "Allow"
    assert answer.result(timeout=_ANSWER_LIMIT) is paired


def test_no_display_denies_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    confirmer = make_confirmer("tk")
    assert confirmer.confirm(batch(), timeout=_ANSWER_LIMIT) == ConsentAnswer(
        False, reason="no-display")
    assert confirmer.pair(ORIGIN, timeout=_ANSWER_LIMIT) is False


def test_a_display_whose_server_is_gone_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    # $DISPLAY set, nobody behind it (the session ended): the window process starts,
    # Tk cannot connect, and the answer is still a clean "no-display".
    with Xvfb() as gone:
        display = gone.display
    monkeypatch.setenv("DISPLAY", display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert make_confirmer("tk").confirm(batch(), timeout=_ANSWER_LIMIT) == ConsentAnswer(
        False, reason="no-display")
