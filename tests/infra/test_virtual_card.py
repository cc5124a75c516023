"""The virtual PIV card through the real stack: python-pkcs11 -> OpenSC -> pcscd -> vpcd.

Each test gets a fresh card (``virtual_card`` fixture: PIN 123456, 3 tries, counters
at 0). Signing and PIN handling go through :mod:`drivers`, as signsvc uses them;
fault injection is checked at the PKCS#11 level (python-pkcs11's exception classes),
which is what the emulator promises, independently of how :mod:`drivers` maps them.
The last tests drive the applet directly, without pcscd.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pkcs11.exceptions as p11e
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pkcs11.mechanisms import Mechanism

import drivers
from drivers import _ckapi
from tests.support.paths import PKI
from tests.support.virtual_card import PcscStack, VirtualCard, running_card
from tests.support.virtual_card._piv import CardProfile, PivApplet, StateStore, pad_pin

RSA_ID, EC_ID = b"\x01", b"\x02"
"""CKA_IDs OpenSC's PIV emulation gives the 9A and 9C objects (pkcs15-piv.c)."""
SERIAL = "8e6f708192a3b4c5"
"""Last 16 hex digits of the card's CHUID GUID 5e1c5e01a2b34c5d8e6f708192a3b4c5."""
LABEL = "Nguyễn Thị Lấp Lánh Ánh"
"""CN of certs_test/official-rsa2048, the 9A certificate."""

# A fresh process asks OpenSC which slots hold a token: C_GetSlotList(tokenPresent).
_LIST_SERIALS = (
    "import json, sys, pkcs11\n"
    "lib = pkcs11.lib(sys.argv[1])\n"
    "print(json.dumps([s.get_token().serial.rstrip(b'\\0 ').decode()\n"
    "                  for s in lib.get_slots(token_present=True)]))\n"
)


def _serials_in_fresh_process(card: VirtualCard) -> list[str]:
    done = subprocess.run([sys.executable, "-c", _LIST_SERIALS, card.module_path],
                          env=card.env, capture_output=True, text=True, timeout=60,
                          check=True)
    serials: list[str] = json.loads(done.stdout)
    return serials


def _module(card: VirtualCard) -> drivers.Pkcs11Module:
    return drivers.load_module(card.module_path)


def _verify_rsa(card: VirtualCard, signature: bytes, data: bytes) -> None:
    public = card.rsa_cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


def _verify_ec(card: VirtualCard, signature: bytes, data: bytes) -> None:
    public = card.ec_cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, data, ec.ECDSA(hashes.SHA256()))


# -- through the stack ------------------------------------------------------------------


def test_token_is_listed_with_both_certificates(virtual_card: VirtualCard) -> None:
    card = virtual_card
    assert (card.label, card.serial) == (LABEL, SERIAL)
    tokens = _module(card).tokens()
    assert [(t.label, t.serial, t.manufacturer) for t in tokens] == [
        (LABEL, SERIAL, "piv_II")]
    assert tokens[0].flags.login_required and not tokens[0].flags.pin_locked
    with _module(card).open(serial=card.serial) as session:
        before = {e.id: e for e in session.certificates()}
        session.login(card.pin)
        after = {e.id: e for e in session.certificates()}
    assert set(before) == set(after) == {RSA_ID, EC_ID}
    assert before[RSA_ID].certificate == card.rsa_cert
    assert before[EC_ID].certificate == card.ec_cert
    # Before login the pairs show through their public-key objects, after it through
    # the private keys; only 9C ("PIN Always") is CKA_ALWAYS_AUTHENTICATE.
    assert before[RSA_ID].key_match == before[EC_ID].key_match == "public-key-object"
    rsa_key, ec_key = after[RSA_ID].key, after[EC_ID].key
    assert rsa_key is not None and ec_key is not None
    assert (rsa_key.private, rsa_key.key_type, rsa_key.key_size,
            rsa_key.always_authenticate) == (True, "RSA", 2048, False)
    assert (ec_key.private, ec_key.key_type, ec_key.key_size,
            ec_key.always_authenticate) == (True, "EC", 256, True)


def test_rsa_9a_signs_after_one_login(virtual_card: VirtualCard) -> None:
    card = virtual_card
    with _module(card).open(serial=card.serial) as session:
        session.login(card.pin)
        key = session.key(cert_id=RSA_ID)
        assert key.certificate == card.rsa_cert
        signatures = [key.sign(f"văn bản {i}".encode()) for i in range(3)]
    for i, signature in enumerate(signatures):
        _verify_rsa(card, signature, f"văn bản {i}".encode())
    # 9A is "PIN" (not "PIN Always"): one VERIFY for the session, one command each.
    assert (card.verify_count, card.sign_count) == (1, 3)


def test_ec_9c_signs_with_a_context_specific_login_each_time(
        virtual_card: VirtualCard) -> None:
    card = virtual_card
    with _module(card).open(serial=card.serial) as session:
        session.login(card.pin)
        key = session.key(cert_id=EC_ID)
        assert key.always_authenticate
        first, second = key.sign(b"quyet dinh 1"), key.sign(b"quyet dinh 2")
    _verify_ec(card, first, b"quyet dinh 1")
    _verify_ec(card, second, b"quyet dinh 2")
    # drivers' session does C_Login(CKU_CONTEXT_SPECIFIC) before each signature, and
    # OpenSC turns each into a VERIFY right before the GENERAL AUTHENTICATE.
    assert (card.verify_count, card.sign_count) == (1 + 2, 2)


def test_9c_is_refused_without_a_fresh_verify(virtual_card: VirtualCard) -> None:
    card = virtual_card
    digest = hashlib.sha256(b"x").digest()
    with _module(card).open(serial=card.serial) as session:
        session.login(card.pin)
        key = session.key(cert_id=EC_ID)
        with pytest.raises(p11e.UserNotLoggedIn):
            key.handle.sign(digest, mechanism=Mechanism.ECDSA)  # no context login
        assert card.sign_count == 0  # the card refused it (69 82), OpenSC asked twice
        # OpenSC logs the whole session out after CKR_USER_NOT_LOGGED_IN from C_Sign
        # (a context-specific C_Login then fails with CKR_OPERATION_NOT_INITIALIZED).
        assert not session.logged_in
        with pytest.raises(p11e.OperationNotInitialized):
            key.handle.sign(digest, mechanism=Mechanism.ECDSA, pin=card.pin)
        session.login(card.pin)
        _verify_ec(card, key.sign(b"x"), b"x")
    assert (card.verify_count, card.sign_count) == (3, 1)


def test_one_verify_per_login(virtual_card: VirtualCard) -> None:
    card = virtual_card
    module = _module(card)
    with module.open(serial=card.serial) as first:
        assert card.verify_count == 0  # OpenSC asked the PIN status: not a try
        first.login(card.pin)
        assert card.verify_count == 1
        with module.open(serial=card.serial) as second:
            second.login(card.pin)  # already logged in: no C_Login at all
            second.key(cert_id=RSA_ID).sign(b"a")
        module.tokens()
        first.key(cert_id=RSA_ID).sign(b"b")
    assert (card.verify_count, card.sign_count, card.tries_left) == (1, 2, 3)


def test_wrong_pins_lock_the_card_and_the_lock_survives_replug(
        virtual_card: VirtualCard) -> None:
    card = virtual_card
    module = _module(card)
    with module.open(serial=card.serial) as session:
        with pytest.raises(drivers.PinIncorrectError) as first:
            session.login("000000")
        assert first.value.final_try is None  # OpenSC sets no COUNT_LOW after one
        assert card.tries_left == 2
        with pytest.raises(drivers.PinIncorrectError) as second:
            session.login("111111")
        assert second.value.final_try is True
        assert module.find_token(serial=card.serial).flags.pin_final_try
        with pytest.raises(drivers.PinLockedError):
            session.login("222222")
        assert card.tries_left == 0
        assert module.find_token(serial=card.serial).flags.pin_locked
        assert card.verify_count == 3
        # The right PIN is refused by the card itself, not only by drivers' check of
        # the LOCKED flag: a raw C_Login reaches the card and gets 69 83.
        rv = module.functions.login(session._handle, _ckapi.CKU_USER, card.pin.encode())
        assert rv == 0xA4  # CKR_PIN_LOCKED
        assert card.verify_count == 4

    card.unplug()
    card.plug()
    assert card.tries_left == 0
    assert module.find_token(serial=card.serial).flags.pin_locked
    with module.open(serial=card.serial) as session, pytest.raises(drivers.PinLockedError):
        session.login(card.pin)


def test_unplug_empties_the_slot_and_replug_brings_the_same_token(
        virtual_card: VirtualCard) -> None:
    card = virtual_card
    module = _module(card)
    session = module.open(serial=card.serial)
    session.login(card.pin)
    key = session.key(cert_id=RSA_ID)
    key.sign(b"before")

    start = time.monotonic()
    card.unplug()
    assert time.monotonic() - start < 5
    assert not card.present
    assert module.tokens() == []
    assert _serials_in_fresh_process(card) == []
    with pytest.raises(drivers.TokenRemovedError):
        key.sign(b"while out")
    with pytest.raises(drivers.TokenNotFoundError):
        module.open(serial=card.serial)

    start = time.monotonic()
    card.plug()
    assert time.monotonic() - start < 5
    assert card.present
    assert [t.serial for t in module.tokens()] == [SERIAL]
    assert _serials_in_fresh_process(card) == [SERIAL]
    with pytest.raises(drivers.TokenRemovedError):
        key.sign(b"old session")  # sessions do not survive a removal
    session.close()
    with module.open(serial=card.serial) as fresh:
        fresh.login(card.pin)  # the card lost its security status with its power
        _verify_rsa(card, fresh.key(cert_id=RSA_ID).sign(b"after"), b"after")
    assert (card.verify_count, card.sign_count) == (2, 2)


def test_slow_card_delays_each_signature(virtual_card: VirtualCard) -> None:
    card = virtual_card
    card.set_delay(0.4)
    with _module(card).open(serial=card.serial) as session:
        session.login(card.pin)
        key = session.key(cert_id=RSA_ID)
        start = time.monotonic()
        signature = key.sign(b"slow")
        elapsed = time.monotonic() - start
        card.set_delay(0)
        start = time.monotonic()
        key.sign(b"fast")
        fast = time.monotonic() - start
    _verify_rsa(card, signature, b"slow")
    assert 0.4 <= elapsed < 10
    assert fast < 0.4


def test_unplug_during_a_slow_signature_fails_it_at_once(virtual_card: VirtualCard) -> None:
    card = virtual_card
    with _module(card).open(serial=card.serial) as session:
        session.login(card.pin)
        key = session.key(cert_id=RSA_ID)
        card.set_delay(5)
        outcome: list[BaseException | bytes] = []

        def sign() -> None:
            try:
                outcome.append(key.sign(b"never"))
            except drivers.TokenError as exc:
                outcome.append(exc)

        start = time.monotonic()
        worker = threading.Thread(target=sign)
        worker.start()  # python-pkcs11 releases the GIL inside C_Sign
        time.sleep(0.3)
        card.unplug()
        worker.join(timeout=30)
        elapsed = time.monotonic() - start
    assert len(outcome) == 1 and isinstance(outcome[0], drivers.TokenRemovedError)
    assert elapsed < 4  # the card never answered; removal ended the wait
    assert card.sign_count == 0


def test_fail_next_answers_the_next_signature_with_the_status_word(
        virtual_card: VirtualCard) -> None:
    card = virtual_card
    with _module(card).open(serial=card.serial) as session:
        session.login(card.pin)
        rsa_key = session.key(cert_id=RSA_ID).handle
        ec_key = session.key(cert_id=EC_ID).handle

        def sign_rsa(data: bytes) -> bytes:
            return bytes(rsa_key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS))

        card.fail_next(0x6F00)
        with pytest.raises(p11e.GeneralError):
            sign_rsa(b"x")
        # One C_Sign used the one injected failure (OpenSC's retry included).
        _verify_rsa(card, sign_rsa(b"x"), b"x")
        assert card.sign_count == 1

        card.fail_next(0x6F00, count=2)
        for _ in range(2):
            with pytest.raises(p11e.GeneralError):
                sign_rsa(b"y")
        sign_rsa(b"y")

        card.fail_next(0x6F00)
        with pytest.raises(p11e.GeneralError):
            ec_key.sign(hashlib.sha256(b"z").digest(), mechanism=Mechanism.ECDSA,
                        pin=card.pin)
        assert card.sign_count == 2

        card.fail_next(0x6982)
        with pytest.raises(p11e.UserNotLoggedIn):
            sign_rsa(b"w")
    assert card.sign_count == 2


def test_remove_after_drops_the_card_during_the_next_signature(
        virtual_card: VirtualCard) -> None:
    card = virtual_card
    module = _module(card)
    with module.open(serial=card.serial) as session:
        session.login(card.pin)
        key = session.key(cert_id=RSA_ID)
        card.remove_after(2)
        key.sign(b"1")
        key.sign(b"2")
        with pytest.raises(drivers.TokenRemovedError):
            key.sign(b"3")
        assert card.sign_count == 2
        assert not card.present
    card.unplug()  # already out: waits until pcscd has noticed
    assert module.tokens() == []
    card.plug()
    with module.open(serial=card.serial) as session:
        session.login(card.pin)
        session.key(cert_id=RSA_ID).sign(b"3 again")  # the fault was used up
    assert card.sign_count == 3


def test_lock_survives_a_restart_of_the_emulator(pcsc: PcscStack, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with running_card(pcsc) as card:
        module = _module(card)
        with module.open(serial=card.serial) as session:
            for pin in ("000000", "111111", "222222"):
                with pytest.raises((drivers.PinIncorrectError, drivers.PinLockedError)):
                    session.login(pin)
        state.write_bytes(card.state_file.read_bytes())
    assert json.loads(state.read_text())["tries_left"] == 0
    with running_card(pcsc, state_file=state) as card:
        assert card.tries_left == 0
        assert _module(card).find_token(serial=card.serial).flags.pin_locked


# -- the applet alone (no PC/SC) ------------------------------------------------------


@pytest.fixture
def applet() -> PivApplet:
    return PivApplet(CardProfile.from_pki(PKI), StateStore(None))


def _send(applet: PivApplet, hexstring: str) -> tuple[bytes, int]:
    response = applet.transmit(bytes.fromhex(hexstring.replace(" ", "")))
    return response[:-2], int.from_bytes(response[-2:], "big")


def test_applet_pin_status_query_costs_no_try_and_blocked_refuses_the_right_pin(
        applet: PivApplet) -> None:
    assert _send(applet, "00 20 00 80") == (b"", 0x63C3)
    wrong = "00 20 00 80 08" + pad_pin("654321").hex()
    assert [_send(applet, wrong)[1] for _ in range(3)] == [0x63C2, 0x63C1, 0x6983]
    assert _send(applet, "00 20 00 80 08" + pad_pin("123456").hex()) == (b"", 0x6983)
    assert _send(applet, "00 20 00 80") == (b"", 0x6983)
    assert (applet.store.state.tries_left, applet.store.state.verify_count) == (0, 4)


def test_applet_pin_always_lasts_one_command_and_chaining_rebuilds_the_rsa_command(
        applet: PivApplet) -> None:
    verify = "00 20 00 80 08" + pad_pin("123456").hex()
    digest = hashlib.sha256(b"m").digest().hex()
    sign_9c = "00 87 11 9C 26 7C 24 82 00 81 20" + digest + "00"
    assert _send(applet, verify)[1] == 0x9000
    assert _send(applet, "00 20 00 80")[1] == 0x9000  # any command uses it up...
    assert _send(applet, sign_9c)[1] == 0x6982
    assert _send(applet, verify)[1] == 0x9000
    body, sw = _send(applet, sign_9c)
    assert sw == 0x9000 and body[:1] == b"\x7c"

    # RSA: 266 bytes of command in two chained APDUs, 264 of answer via 61 08.
    block = b"\x00\x01" + b"\xff" * 202 + b"\x00" + bytes(51)
    command = bytes.fromhex("7C 82 01 06 82 00 81 82 01 00") + block
    assert _send(applet, "10 87 07 9A FF" + command[:255].hex())[1] == 0x9000
    head, sw = _send(applet, f"00 87 07 9A {len(command) - 255:02X}" + command[255:].hex()
                     + "00")
    assert (len(head), sw) == (256, 0x6108)
    tail, sw = _send(applet, "00 C0 00 00 08")
    assert (len(tail), sw) == (8, 0x9000)
    signature = (head + tail)[8:]
    public = applet.profile.rsa_cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    recovered = pow(int.from_bytes(signature, "big"), public.public_numbers().e,
                    public.public_numbers().n)
    assert recovered.to_bytes(256, "big") == block
