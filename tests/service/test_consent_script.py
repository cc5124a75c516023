"""``--confirm script:CMD``: a real local command reads the batch as JSON and decides
by its exit status; plus the parts every confirmer shares (the answer's repr, the
request's JSON form, a failing confirmer denies, the ``--confirm`` choices)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from signsvc.service._consentbase import GuardedConfirmer
from signsvc.service.consent import (
    ConsentAnswer,
    ConsentFile,
    ConsentRequest,
    ScriptConfirmer,
    make_confirmer,
)

ORIGIN = "https://eoffice.example.vn"
_LIMIT = 60.0
"""Timeout for scripts that answer (a safety net)."""


def batch(*, pin_needed: bool = False) -> ConsentRequest:
    files = (ConsentFile(name="cv 12.pdf", url=f"{ORIGIN}/f/cv%2012.pdf", size=18_204,
                         pages=2, sha256="ab" * 32),
             ConsentFile(name="pl.pdf", url=f"{ORIGIN}/f/pl.pdf", size=512, pages=None,
                         sha256="cd" * 32))
    return ConsentRequest(origin=ORIGIN, call="SignIssued", role="Ban hành",
                          certificate="CN=UBND tỉnh X, O=UBND", certificate_serial="0f1e",
                          stamp_text="Số 12/QĐ-UBND ngày 01/02/2025", files=files,
                          pin_needed=pin_needed)


def python_script(tmp_path: Path, body: str) -> str:
    """A ``script:`` spec running ``body`` with this Python (the path has a space, so
    the spec's quoting is exercised too)."""
    folder = tmp_path / "desk scripts"
    folder.mkdir(exist_ok=True)
    script = folder / "decide.py"
    script.write_text("import json, sys\nq = json.load(sys.stdin)\n" + body)
    return f"script:{sys.executable} '{script}'"


def test_a_script_that_checks_the_batch_approves_it(tmp_path: Path) -> None:
    spec = python_script(tmp_path, (
        "ok = (q['kind'] == 'sign' and q['files'][0]['sha256'] == 'ab' * 32\n"
        "      and q['files'][1]['pages'] is None and q['origin'] == sys.argv[1])\n"
        "sys.exit(0 if ok else 1)\n"))
    approving = make_confirmer(f"{spec} {ORIGIN}")
    # The PIN never comes from a script, even when the batch needs one.
    assert approving.confirm(batch(pin_needed=True), timeout=_LIMIT) == ConsentAnswer(True)
    refusing = make_confirmer(f"{spec} https://other.example")
    assert refusing.confirm(batch(), timeout=_LIMIT) == ConsentAnswer(False, reason="denied")


def test_the_script_reads_exactly_the_contracts_json(tmp_path: Path) -> None:
    seen = tmp_path / "seen.json"
    spec = python_script(tmp_path, f"open({str(seen)!r}, 'w').write(json.dumps(q))\n")
    assert make_confirmer(spec).confirm(batch(), timeout=_LIMIT).approved
    assert json.loads(seen.read_text()) == {
        "kind": "sign", "origin": ORIGIN, "call": "SignIssued", "role": "Ban hành",
        "certificate": "CN=UBND tỉnh X, O=UBND", "certificate_serial": "0f1e",
        "stamp_text": "Số 12/QĐ-UBND ngày 01/02/2025",
        "files": [{"name": "cv 12.pdf", "url": f"{ORIGIN}/f/cv%2012.pdf", "size": 18_204,
                   "pages": 2, "sha256": "ab" * 32},
                  {"name": "pl.pdf", "url": f"{ORIGIN}/f/pl.pdf", "size": 512,
                   "pages": None, "sha256": "cd" * 32}],
        "pin_needed": False}
    assert make_confirmer(spec).pair(ORIGIN, timeout=_LIMIT) is True
    assert json.loads(seen.read_text()) == {"kind": "pair", "origin": ORIGIN}


@pytest.mark.parametrize(("exit_status", "paired"), [(0, True), (1, False), (77, False)])
def test_pairing_follows_the_exit_status(tmp_path: Path, exit_status: int,
                                         paired: bool) -> None:
    spec = python_script(tmp_path, f"sys.exit({exit_status} if q['kind'] == 'pair' else 0)\n")
    assert make_confirmer(spec).pair(ORIGIN, timeout=_LIMIT) is paired


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is dead, waiting for its new parent to reap it


def _dies(pid: int, within: float = 10.0) -> bool:
    """Whether ``pid`` is dead (or a zombie) within ``within`` seconds."""
    import time

    deadline = time.monotonic() + within
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_script_past_the_timeout_is_killed_with_what_it_started(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = tmp_path / "slow.sh"
    script.write_text(f'sleep 300 &\necho "$$ $!" > "{pids}"\nwait\n')
    confirmer = ScriptConfirmer(f"sh {script}")
    assert confirmer.confirm(batch(), timeout=3.0) == ConsentAnswer(False, reason="timeout")
    shell, sleeper = (int(p) for p in pids.read_text().split())
    # SIGKILL is delivered, not awaited: give the kernel a moment to end both.
    assert _dies(shell)
    assert _dies(sleeper)  # the whole process group went, not only the shell


def test_a_missing_command_denies_with_error(tmp_path: Path) -> None:
    confirmer = make_confirmer(f"script:{tmp_path}/no-such-command --flag")
    assert confirmer.confirm(batch(), timeout=_LIMIT) == ConsentAnswer(False, reason="error")
    assert confirmer.pair(ORIGIN, timeout=_LIMIT) is False
    not_executable = tmp_path / "plain.txt"
    not_executable.write_text("exit 0\n")
    assert make_confirmer(f"script:{not_executable}").confirm(
        batch(), timeout=_LIMIT) == ConsentAnswer(False, reason="error")


@pytest.mark.parametrize(("spec", "words"), [
    ("gtk", "unknown confirmation 'gtk'"),
    ("", "unknown confirmation ''"),
    ("TK", "unknown confirmation 'TK'"),
    ("script:", "needs a command"),
    ("script:   ", "needs a command"),
    ("script:ok 'unclosed", "No closing quotation"),
])
def test_a_wrong_confirm_spec_is_refused_by_name(spec: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        make_confirmer(spec)


def test_the_named_confirmers() -> None:
    assert type(make_confirmer("tk")).__name__ == "TkConfirmer"
    assert type(make_confirmer("tty")).__name__ == "TtyConfirmer"
    script = make_confirmer("script:notify-desk --batch 'a b'")
    assert isinstance(script, ScriptConfirmer)
    assert script.argv == ("notify-desk", "--batch", "a b")


def test_the_pin_is_never_in_an_answers_repr() -> None:
    answer = ConsentAnswer(True, pin="135792")
    assert "135792" not in repr(answer) and "135792" not in str(answer)
    assert answer.pin == "135792"


def test_the_request_round_trips_and_wrong_json_is_refused() -> None:
    request = batch(pin_needed=True)
    assert ConsentRequest.from_json(json.loads(json.dumps(request.to_json()))) == request
    for field, wrong in (("pin_needed", 1), ("origin", None)):
        with pytest.raises(ValueError, match="not a consent request"):
            ConsentRequest.from_json({**request.to_json(), field: wrong})
    bad_size = request.to_json()
    bad_size["files"][0]["size"] = True  # a bool is an int to Python, not a size
    with pytest.raises(ValueError, match="expected int, got bool"):
        ConsentRequest.from_json(bad_size)
    missing = request.to_json()
    del missing["files"][1]["sha256"]
    with pytest.raises(ValueError, match="sha256"):
        ConsentRequest.from_json(missing)


class _Broken(GuardedConfirmer):
    """A confirmer whose every question fails, as a crashed UI toolkit would."""

    def _confirm(self, request: ConsentRequest, timeout: float) -> ConsentAnswer:
        raise RuntimeError("the toolkit crashed")

    def _pair(self, origin: str, timeout: float) -> bool:
        raise RuntimeError("the toolkit crashed")


def test_a_failing_confirmer_denies_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    assert _Broken().confirm(batch(), timeout=_LIMIT) == ConsentAnswer(False, reason="error")
    assert _Broken().pair(ORIGIN, timeout=_LIMIT) is False
    assert "the batch is denied" in caplog.text and "toolkit crashed" in caplog.text
