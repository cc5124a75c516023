"""Slot events, waiting for a token, and reopening a key, on real SoftHSM2 tokens.

SoftHSM never loses a token and has no slot events (``C_WaitForSlotEvent`` with
CKF_DONT_BLOCK answers CKR_NO_EVENT forever), so here the watch must stay silent and a
"removal" is what it does to sessions: ``C_CloseAllSessions`` on the slot, which also
logs the token out. Real insertion and removal: tests/sign/test_token_faults.py (virtual
PIV card on pcscd).
"""

from __future__ import annotations

import ctypes
import threading

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import drivers
from certs_test.softhsm import SoftHSM
from drivers import (
    LoginRequiredError,
    PinIncorrectError,
    TokenKey,
    TokenNotFoundError,
    TokenRemovedError,
)
from drivers._translate import CKR_NO_EVENT
from tests.support.tokens import ALWAYS_AUTH, ANH, ORG


def close_all_sessions(key: TokenKey) -> None:
    """What pulling the token out does to its sessions (and its login state)."""
    session = key.session
    close_all = session.module.functions._function("C_CloseAllSessions", ctypes.c_ulong)
    with session.module.lock:
        assert close_all(session.info.slot_id) == 0


def logged_in_key(hsm: SoftHSM, pin: str, label: str = ANH, cert_id: str = "01") -> TokenKey:
    session = drivers.load_module(hsm.module).open(label=label)
    session.login(pin)
    return session.key(bytes.fromhex(cert_id))


def verifies(key: TokenKey, signature: bytes, data: bytes) -> bool:
    public = key.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    return True


def test_softhsm_has_no_slot_events_only_its_tokens(hsm: SoftHSM) -> None:
    module = drivers.load_module(hsm.module)
    rv, _ = module.functions.wait_for_slot_event()
    assert rv == CKR_NO_EVENT
    events = list(drivers.watch(module, timeout=0.6, poll_interval=0.1, include_present=True))
    assert {e.kind for e in events} == {"present"}
    assert sorted((e.slot_id, e.serial) for e in events) == sorted(
        (t.slot_id, t.serial) for t in module.tokens())
    by_label = {e.label: e for e in events}
    assert by_label[ANH].token is not None and by_label[ANH].token.label == ANH
    assert all(e.module == hsm.module.resolve() for e in events)
    # Without include_present a watch on an unchanging module yields nothing at all.
    assert list(drivers.watch(module, timeout=0.3, poll_interval=0.1)) == []


def test_a_paused_watch_leaves_the_module_free(hsm: SoftHSM, pin: str) -> None:
    """Between ticks (and while its consumer works on an event) a watch holds no lock,
    so a batch can keep signing on the module it watches."""
    module = drivers.load_module(hsm.module)
    watching = drivers.watch(module, include_present=True)
    try:
        assert next(watching).kind == "present"  # the generator is suspended now
        free: list[bool] = []

        def probe() -> None:
            free.append(module.lock.acquire(blocking=False))
            if free[-1]:
                module.lock.release()

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
        assert free == [True]
        key = logged_in_key(hsm, pin)
        assert verifies(key, key.sign(b"x"), b"x")
        key.session.close()
    finally:
        watching.close()


def test_wait_for_token_returns_a_present_token_that_answers(hsm: SoftHSM) -> None:
    module = drivers.load_module(hsm.module)
    info = module.find_token(label=ORG)
    found = drivers.wait_for_token(module, serial=info.serial, label=ORG, timeout=30)
    assert (found.slot_id, found.serial, found.label) == (info.slot_id, info.serial, ORG)


def test_wait_for_token_gives_up_after_the_timeout(hsm: SoftHSM) -> None:
    module = drivers.load_module(hsm.module)
    with pytest.raises(TokenNotFoundError) as caught:
        drivers.wait_for_token(module, serial="no-such-serial", timeout=0.3,
                               poll_interval=0.1)
    assert "serial 'no-such-serial'" in str(caught.value)
    assert "within 0.3 s" in str(caught.value)
    assert ANH in caught.value.available


def test_closed_sessions_are_a_removal_and_reopen_logs_in_again(hsm: SoftHSM,
                                                                pin: str) -> None:
    key = logged_in_key(hsm, pin)
    assert verifies(key, key.sign(b"before"), b"before")
    close_all_sessions(key)
    with pytest.raises(TokenRemovedError) as caught:
        key.sign(b"during")
    assert caught.value.code == "CKR_SESSION_HANDLE_INVALID"
    fresh = key.reopen(pin)
    try:
        assert fresh.session is not key.session
        assert fresh.session.logged_in
        assert (fresh.certificate, fresh.id) == (key.certificate, key.id)
        assert verifies(fresh, fresh.sign(b"after"), b"after")
    finally:
        fresh.session.close()


def test_reopen_never_keeps_a_refused_pin(hsm: SoftHSM, pin: str) -> None:
    """A wrong PIN given after re-insertion fails once; the PIN kept from the
    accepted login is the only one that can be reused (keep-pin)."""
    key = logged_in_key(hsm, pin, label=ORG, cert_id="05")
    close_all_sessions(key)
    with pytest.raises(PinIncorrectError):
        key.reopen("000000")
    fresh = key.reopen(None)  # the PIN this key's session was logged in with
    try:
        assert fresh.session.logged_in
        assert fresh.sign(b"data")
    finally:
        fresh.session.close()
    # The old session is closed now and its kept PIN forgotten with it.
    close_all_sessions(fresh)
    with pytest.raises(LoginRequiredError):
        key.reopen(None)


def test_reopened_always_authenticate_key_logs_in_per_signature(hsm: SoftHSM,
                                                                pin: str) -> None:
    key = logged_in_key(hsm, pin, label=ALWAYS_AUTH, cert_id="09")
    assert key.always_authenticate
    close_all_sessions(key)
    fresh = key.reopen(pin)
    try:
        assert fresh.always_authenticate
        for data in (b"one", b"two"):
            assert verifies(fresh, fresh.sign(data), data)
    finally:
        fresh.session.close()


def test_reopen_key_takes_only_a_key_of_that_session(hsm: SoftHSM, pin: str) -> None:
    key = logged_in_key(hsm, pin)
    other = logged_in_key(hsm, pin, label=ORG, cert_id="05")
    try:
        with pytest.raises(ValueError):
            other.session.reopen_key(key, pin)
        # Refused before anything was touched: both sessions still work.
        assert verifies(key, key.sign(b"still"), b"still")
        assert other.sign(b"still")
    finally:
        key.session.close()
        other.session.close()


def test_session_methods_a_key_uses(hsm: SoftHSM, pin: str) -> None:
    key = logged_in_key(hsm, pin)
    session = key.session
    try:
        assert isinstance(session, drivers.TokenSession)
        assert session.lock is session.module.lock
        assert session.context_pin() == pin
        final_try, count_low = session.pin_flags()  # read from the token now
        assert final_try is None  # SoftHSM never sets FINAL_TRY: "unknown"
        assert isinstance(count_low, bool)
    finally:
        session.close()
    with pytest.raises(LoginRequiredError, match="CKA_ALWAYS_AUTHENTICATE"):
        session.context_pin()  # the PIN is forgotten when the session closes
