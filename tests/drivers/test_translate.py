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
        (p11e.DeviceError(), errors.TokenOperationError, "CKR_DEVICE_ERROR"),
        (0x0030, errors.TokenOperationError, "CKR_DEVICE_ERROR"),
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
