"""The one mapping from PKCS#11 failures to drivers.errors, for both of its sources."""

from __future__ import annotations

import pkcs11.exceptions as p11e
import pytest

from drivers import errors
from drivers._translate import code_name, translate, translated


@pytest.mark.parametrize(
    ("source", "expected", "code"),
    [
        (p11e.PinIncorrect(), errors.PinIncorrectError, "CKR_PIN_INCORRECT"),
        (0x0A0, errors.PinIncorrectError, "CKR_PIN_INCORRECT"),
        (p11e.PinLenRange(), errors.PinIncorrectError, "CKR_PIN_LEN_RANGE"),
        (p11e.PinLocked(), errors.PinLockedError, "CKR_PIN_LOCKED"),
        (0x0A4, errors.PinLockedError, "CKR_PIN_LOCKED"),
        (p11e.DeviceRemoved(), errors.TokenRemovedError, "CKR_DEVICE_REMOVED"),
        (p11e.TokenNotPresent(), errors.TokenRemovedError, "CKR_TOKEN_NOT_PRESENT"),
        (0x0B3, errors.TokenRemovedError, "CKR_SESSION_HANDLE_INVALID"),
        (p11e.MechanismInvalid(), errors.MechanismUnsupportedError, "CKR_MECHANISM_INVALID"),
        (p11e.UserNotLoggedIn(), errors.LoginRequiredError, "CKR_USER_NOT_LOGGED_IN"),
        (p11e.FunctionCancelled(), errors.LoginCancelledError, "CKR_FUNCTION_CANCELED"),
        # A USB token is reader and card in one: a transmission to it that fails is
        # what pulling it out looks like (OpenSC's SC_ERROR_TRANSMIT_FAILED).
        (p11e.DeviceError(), errors.TokenRemovedError, "CKR_DEVICE_ERROR"),
        (0x0030, errors.TokenRemovedError, "CKR_DEVICE_ERROR"),
        (p11e.GeneralError(), errors.TokenOperationError, "CKR_GENERAL_ERROR"),
        (p11e.FunctionFailed(), errors.TokenOperationError, "CKR_FUNCTION_FAILED"),
    ],
)
def test_each_source_maps_to_one_class(source: int | Exception, expected: type,
                                       code: str) -> None:
    assert code_name(source) == code
    exc = translate(source, operation="sign", token="VGCA")
    assert type(exc) is expected
    assert exc.token == "VGCA"


def test_unknown_code_keeps_its_number() -> None:
    exc = translate(0x80000123, operation="sign", token="t")
    assert isinstance(exc, errors.TokenOperationError)
    assert exc.code == "CKR_0x80000123"
    assert str(exc) == "sign failed on token 't': CKR_0x80000123"


def test_pin_flags_are_read_only_for_a_refused_pin() -> None:
    calls: list[int] = []

    def flags() -> tuple[bool | None, bool | None]:
        calls.append(1)
        return True, True

    final = translate(0x0A0, operation="login", token="t", pin_flags=flags)
    assert isinstance(final, errors.PinIncorrectError)
    assert final.final_try is True
    assert "next wrong PIN will LOCK the token" in str(final)
    translate(0x030, operation="login", token="t", pin_flags=flags)
    assert calls == [1]


def test_translated_block_chains_the_original() -> None:
    original = p11e.DeviceRemoved()
    with pytest.raises(errors.TokenRemovedError) as info, translated("sign", token="t"):
        raise original
    assert info.value.__cause__ is original


def test_general_error_during_a_signature_is_a_removal() -> None:
    """OpenSC answers CKR_GENERAL_ERROR for ~0.2 s after a card is pulled out during
    C_Sign; only there does it mean the token went away."""
    during = translate(p11e.GeneralError(), operation="sign", token="t", signing=True)
    assert type(during) is errors.TokenRemovedError
    assert during.code == "CKR_GENERAL_ERROR"
    assert "removed during sign" in str(during)
    elsewhere = translate(p11e.GeneralError(), operation="list objects", token="t")
    assert type(elsewhere) is errors.TokenOperationError
    # Other failures keep their meaning during a signature too.
    assert type(translate(p11e.DataInvalid(), operation="sign", signing=True)) \
        is errors.TokenOperationError


def test_removal_errors_carry_the_code() -> None:
    removed = translate(0x032, operation="sign", token="t")
    assert isinstance(removed, errors.TokenRemovedError)
    assert (removed.code, removed.token) == ("CKR_DEVICE_REMOVED", "t")
