"""Batches whose SoftHSM2 sessions die under them (``C_CloseAllSessions`` on the slot,
which also logs the token out): the batch waits, logs in again with a PIN asked for
again (or kept, when the caller opted in) and completes; without waiting it stops and
``resume`` completes it. Every output is checked with pyHanko (tests/support/faults.py).

The same faults on a card that really leaves its reader: test_token_faults.py.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import signsvc
from certs_test.softhsm import SoftHSM
from drivers import TokenKey, TokenRemovedError
from signsvc.sign.reconnect import ReconnectingKey, TokenEvent
from tests.support.faults import PinCounter, assert_outputs_sound, documents
from tests.support.tokens import ALWAYS_AUTH, ANH


def close_all_sessions(key: TokenKey) -> None:
    session = key.session
    close_all = session.module.functions._function("C_CloseAllSessions", ctypes.c_ulong)
    with session.module.lock:
        assert close_all(session.info.slot_id) == 0


@pytest.fixture
def hsm_key(hsm: SoftHSM, pin: str) -> Iterator[TokenKey]:
    with signsvc.tokens.open_token_key([hsm.module], label=ANH, cert_id=b"\x01",
                                       pin=lambda _: pin) as key:
        yield key


@pytest.mark.parametrize(("jobs", "executor"), [(1, "thread"), (2, "thread"), (2, "process")])
def test_batch_recovers_after_its_sessions_die(tmp_path: Path, hsm_key: TokenKey, pin: str,
                                               jobs: int, executor: str) -> None:
    docs = documents(tmp_path / "in", 20)
    asked = PinCounter(pin)
    events: list[TokenEvent] = []
    seen: list[signsvc.SignResult] = []
    current = [hsm_key]

    def progress(result: signsvc.SignResult) -> None:
        seen.append(result)
        if len(seen) == 7:
            close_all_sessions(current[0])

    results = signsvc.sign_batch(docs, tmp_path / "out", hsm_key, jobs=jobs,
                                 executor=executor,  # type: ignore[arg-type]
                                 progress=progress, token_timeout=30, pin=asked,
                                 on_token_event=events.append)
    assert len(results) == 20 and {r.status for r in results} == {"signed"}
    assert sorted(r.input for r in results) == docs
    # Asked for the PIN once more, after the token was seen again; told the user.
    assert asked.asked == [ANH]
    assert [e.kind for e in events] == ["token-removed", "token-inserted"]
    removed = events[0]
    assert (removed.token, removed.serial) == (ANH, hsm_key.session.info.serial)
    assert removed.waiting_seconds == 30
    assert removed.document in docs and "CKR_SESSION_HANDLE_INVALID" in (removed.error or "")
    assert_outputs_sound(tmp_path / "out", [d.name for d in docs], ANH)


def test_keep_pin_logs_in_again_without_asking(tmp_path: Path, hsm_key: TokenKey,
                                               pin: str) -> None:
    docs = documents(tmp_path / "in", 6)
    asked = PinCounter(pin)
    done: list[signsvc.SignResult] = []

    def progress(result: signsvc.SignResult) -> None:
        done.append(result)
        if len(done) == 2:
            close_all_sessions(hsm_key)

    results = signsvc.sign_batch(docs, tmp_path / "out", hsm_key, progress=progress,
                                 token_timeout=30, pin=asked, keep_pin=True)
    assert [r.status for r in results] == ["signed"] * 6
    assert asked.asked == []
    assert_outputs_sound(tmp_path / "out", [d.name for d in docs])


def test_without_waiting_the_batch_stops_and_resume_completes(tmp_path: Path,
                                                              hsm_key: TokenKey,
                                                              pin: str) -> None:
    docs = documents(tmp_path / "in", 20)
    out = tmp_path / "out"
    done: list[signsvc.SignResult] = []

    def progress(result: signsvc.SignResult) -> None:
        done.append(result)
        if len(done) == 5:
            close_all_sessions(hsm_key)

    first = signsvc.sign_batch(docs, out, hsm_key, progress=progress)
    assert [r.status for r in first] == ["signed"] * 5 + ["failed"] * 15
    assert isinstance(first[5].exception, TokenRemovedError)
    assert all("not attempted" in (r.error or "") for r in first[6:])
    assert_outputs_sound(out, [d.name for d in docs[:5]])
    with signsvc.tokens.open_token_key([hsm_key.session.module.path], label=ANH,
                                       cert_id=b"\x01", pin=lambda _: pin) as key:
        second = signsvc.sign_batch(docs, out, key, resume=True)
    assert [r.status for r in second] == ["skipped"] * 5 + ["signed"] * 15
    assert_outputs_sound(out, [d.name for d in docs])


class DiesAgain(ReconnectingKey):
    """A token whose every session dies again right after a recovery."""

    def __init__(self, key: TokenKey, **options: Any) -> None:
        super().__init__(key, **options)
        self.first_session = key.session

    def sign(self, data: bytes, *, hash_algorithm: str = "sha256", pss: bool = False) -> bytes:
        if self.key.session is not self.first_session:
            close_all_sessions(self.key)
        return super().sign(data, hash_algorithm=hash_algorithm, pss=pss)


def test_a_retried_document_that_fails_again_stops_the_batch(tmp_path: Path,
                                                             hsm_key: TokenKey,
                                                             pin: str) -> None:
    """A token that breaks again right after a recovery is not waited for forever: the
    document is retried once, then the batch stops and resume finishes it later."""
    docs = documents(tmp_path / "in", 4)
    asked = PinCounter(pin)
    events: list[TokenEvent] = []
    with DiesAgain(hsm_key, pin=asked) as key:
        done: list[signsvc.SignResult] = []

        def progress(result: signsvc.SignResult) -> None:
            done.append(result)
            if len(done) == 1:
                close_all_sessions(hsm_key)

        results = signsvc.sign_batch(docs, tmp_path / "out", key, progress=progress,
                                     token_timeout=30, on_token_event=events.append)
    assert [r.status for r in results] == ["signed", "failed", "failed", "failed"]
    assert isinstance(results[1].exception, TokenRemovedError)
    assert results[1].input == docs[1]
    assert all("not attempted" in (r.error or "") for r in results[2:])
    assert [e.kind for e in events] == ["token-removed", "token-inserted"]
    assert asked.asked == [ANH]
    assert_outputs_sound(tmp_path / "out", [docs[0].name])


def test_always_authenticate_batch_on_softhsm_survives_removal(tmp_path: Path, hsm: SoftHSM,
                                                                pin: str) -> None:
    docs = documents(tmp_path / "in", 5)
    asked = PinCounter(pin)
    with signsvc.tokens.open_token_key([hsm.module], label=ALWAYS_AUTH, cert_id=b"\x09",
                                       pin=lambda _: pin) as key:
        assert key.always_authenticate
        done: list[signsvc.SignResult] = []

        def progress(result: signsvc.SignResult) -> None:
            done.append(result)
            if len(done) == 2:
                close_all_sessions(key)

        results = signsvc.sign_batch(docs, tmp_path / "out", key, progress=progress,
                                     token_timeout=30, pin=asked)
    assert [r.status for r in results] == ["signed"] * 5
    assert asked.asked == [ALWAYS_AUTH]
    assert_outputs_sound(tmp_path / "out", [d.name for d in docs])


def test_recovery_needs_a_way_to_log_in_again(tmp_path: Path, hsm_key: TokenKey) -> None:
    docs = documents(tmp_path / "in", 1)
    with pytest.raises(ValueError, match="pin= or keep_pin=True"):
        signsvc.sign_batch(docs, tmp_path / "out", hsm_key, token_timeout=5)




def test_the_login_after_a_reinsertion_is_journaled(tmp_path: Path, hsm_key: TokenKey,
                                                    pin: str) -> None:
    """Each PIN given is a row of the journal's logins: here the one asked again after
    the sessions died (the first login was the caller's, before the batch)."""
    from signsvc.sign.journal import AuditJournal

    docs = documents(tmp_path / "in", 4)
    seen: list[signsvc.SignResult] = []

    def progress(result: signsvc.SignResult) -> None:
        seen.append(result)
        if len(seen) == 1:
            close_all_sessions(hsm_key)

    with AuditJournal.open(tmp_path / "j.sqlite3") as journal:
        results = signsvc.sign_batch(docs, tmp_path / "out", hsm_key, progress=progress,
                                     token_timeout=30, pin=PinCounter(pin), journal=journal)
        logins = journal.logins()
        batches = {e.batch for e in journal.entries()}
    assert {r.status for r in results} == {"signed"}
    assert [(e.result, e.token, e.serial) for e in logins] == [
        ("accepted", ANH, hsm_key.session.info.serial)]
    assert logins[0].batch in batches


def test_the_certificate_is_checked_before_the_pin_is_asked(hsm: SoftHSM) -> None:
    """open_token_key(check=...) reads the certificate from the token's public objects
    and calls the check before asking for the PIN: a refusal spends no PIN."""
    asked: list[str] = []
    checked: list[tuple[str, list[str]]] = []

    def check(certificate: Any, others: Any) -> None:
        checked.append((certificate.subject.rfc4514_string(),
                        [c.subject.rfc4514_string() for c in others]))
        raise signsvc.SignsvcError("refused")

    def pin(info: Any) -> str:
        asked.append(info.label)
        return "123456"

    with pytest.raises(signsvc.SignsvcError, match="refused"), \
            signsvc.tokens.open_token_key([hsm.module], label=ANH, cert_id=b"\x01", pin=pin,
                                          check=check):
        pass
    assert asked == []
    assert checked and checked[0][0].startswith("CN=Nguyễn Thị Lấp Lánh Ánh,")
    assert any("CA phục vụ các cơ quan Nhà nước G2" in s for s in checked[0][1])


def test_several_key_pairs_without_a_cert_id_are_refused_before_the_pin(hsm: SoftHSM) -> None:
    asked: list[str] = []
    with pytest.raises(signsvc.tokens.drivers.AmbiguousSelectionError) as caught, \
            signsvc.tokens.open_token_key([hsm.module], label=ANH,
                                          pin=lambda info: asked.append(info.label) or "1",
                                          check=lambda c, o: None):
        pass
    assert asked == []
    assert "CKA_ID 01" in str(caught.value) and "CKA_ID 02" in str(caught.value)
