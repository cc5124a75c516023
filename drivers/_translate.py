"""The one place where PKCS#11 failures become :mod:`drivers.errors` classes.

Two sources feed it: python-pkcs11 exceptions (which carry no numeric code, only a
class) and raw ``CK_RV`` values from the calls :mod:`drivers._ckapi` makes itself.
Both go through :func:`translate`, so the mapping exists once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pkcs11.exceptions as p11e

from drivers._text import text
from drivers._types import PinFlags as PinFlags
from drivers.errors import (
    LoginCancelledError,
    LoginRequiredError,
    MechanismUnsupportedError,
    PinIncorrectError,
    PinLockedError,
    TokenError,
    TokenNotFoundError,
    TokenOperationError,
    TokenRemovedError,
)

# PKCS#11 v2.40 §5.1 (pkcs11t.h) return values signsvc acts on.
CKR_NAMES: dict[int, str] = {
    0x000: "CKR_OK",
    0x001: "CKR_CANCEL",
    0x005: "CKR_GENERAL_ERROR",
    0x006: "CKR_FUNCTION_FAILED",
    0x007: "CKR_ARGUMENTS_BAD",
    0x008: "CKR_NO_EVENT",
    0x030: "CKR_DEVICE_ERROR",
    0x031: "CKR_DEVICE_MEMORY",
    0x032: "CKR_DEVICE_REMOVED",
    0x050: "CKR_FUNCTION_CANCELED",
    0x054: "CKR_FUNCTION_NOT_SUPPORTED",
    0x070: "CKR_MECHANISM_INVALID",
    0x071: "CKR_MECHANISM_PARAM_INVALID",
    0x0A0: "CKR_PIN_INCORRECT",
    0x0A1: "CKR_PIN_INVALID",
    0x0A2: "CKR_PIN_LEN_RANGE",
    0x0A3: "CKR_PIN_EXPIRED",
    0x0A4: "CKR_PIN_LOCKED",
    0x0B0: "CKR_SESSION_CLOSED",
    0x0B3: "CKR_SESSION_HANDLE_INVALID",
    0x0E0: "CKR_TOKEN_NOT_PRESENT",
    0x0E1: "CKR_TOKEN_NOT_RECOGNIZED",
    0x100: "CKR_USER_ALREADY_LOGGED_IN",
    0x101: "CKR_USER_NOT_LOGGED_IN",
    0x102: "CKR_USER_PIN_NOT_INITIALIZED",
    0x103: "CKR_USER_TYPE_INVALID",
    0x104: "CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
    0x190: "CKR_CRYPTOKI_NOT_INITIALIZED",
}
CKR_OK = 0x000
CKR_NO_EVENT = 0x008
CKR_FUNCTION_NOT_SUPPORTED = 0x054
CKR_USER_ALREADY_LOGGED_IN = 0x100

_PIN_REJECTED = {"CKR_PIN_INCORRECT", "CKR_PIN_INVALID", "CKR_PIN_LEN_RANGE", "CKR_PIN_EXPIRED"}
# PKCS#11 v3.0 §5.1.3/§5.1.4: what a module returns once its token is pulled out.
# CKR_DEVICE_ERROR is here too: for a USB token the reader and the card are one
# device, and OpenSC reports a failed transmission to a vanished reader that way.
_REMOVED = {
    "CKR_DEVICE_REMOVED",
    "CKR_DEVICE_ERROR",
    "CKR_TOKEN_NOT_PRESENT",
    "CKR_TOKEN_NOT_RECOGNIZED",
    "CKR_SESSION_HANDLE_INVALID",
    "CKR_SESSION_CLOSED",
}
# Measured with OpenSC: a card pulled out *during* C_Sign answers CKR_GENERAL_ERROR for
# ~0.2 s until pcscd reports the removal. During a signature it is treated as a
# removal, so the document fails cleanly and the batch waits for the token; a card
# that really is broken fails its one retry and stops the batch.
_REMOVED_WHILE_SIGNING = {"CKR_GENERAL_ERROR"}
_MECHANISM = {"CKR_MECHANISM_INVALID", "CKR_MECHANISM_PARAM_INVALID"}

# python-pkcs11 exception class -> the CKR name it stands for.
_CLASS_CODES: dict[type[Exception], str] = {
    p11e.GeneralError: "CKR_GENERAL_ERROR",
    p11e.FunctionFailed: "CKR_FUNCTION_FAILED",
    p11e.ArgumentsBad: "CKR_ARGUMENTS_BAD",
    p11e.DeviceError: "CKR_DEVICE_ERROR",
    p11e.DeviceMemory: "CKR_DEVICE_MEMORY",
    p11e.DeviceRemoved: "CKR_DEVICE_REMOVED",
    p11e.FunctionCancelled: "CKR_FUNCTION_CANCELED",
    p11e.FunctionNotSupported: "CKR_FUNCTION_NOT_SUPPORTED",
    p11e.MechanismInvalid: "CKR_MECHANISM_INVALID",
    p11e.MechanismParamInvalid: "CKR_MECHANISM_PARAM_INVALID",
    p11e.PinIncorrect: "CKR_PIN_INCORRECT",
    p11e.PinInvalid: "CKR_PIN_INVALID",
    p11e.PinLenRange: "CKR_PIN_LEN_RANGE",
    p11e.PinExpired: "CKR_PIN_EXPIRED",
    p11e.PinLocked: "CKR_PIN_LOCKED",
    p11e.SessionClosed: "CKR_SESSION_CLOSED",
    p11e.SessionHandleInvalid: "CKR_SESSION_HANDLE_INVALID",
    p11e.TokenNotPresent: "CKR_TOKEN_NOT_PRESENT",
    p11e.TokenNotRecognised: "CKR_TOKEN_NOT_RECOGNIZED",
    p11e.UserAlreadyLoggedIn: "CKR_USER_ALREADY_LOGGED_IN",
    p11e.UserNotLoggedIn: "CKR_USER_NOT_LOGGED_IN",
    p11e.UserPinNotInitialized: "CKR_USER_PIN_NOT_INITIALIZED",
    p11e.AnotherUserAlreadyLoggedIn: "CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
    p11e.DataInvalid: "CKR_DATA_INVALID",
    p11e.DataLenRange: "CKR_DATA_LEN_RANGE",
    p11e.KeyHandleInvalid: "CKR_KEY_HANDLE_INVALID",
    p11e.ObjectHandleInvalid: "CKR_OBJECT_HANDLE_INVALID",
    p11e.SlotIDInvalid: "CKR_SLOT_ID_INVALID",
}

def code_name(source: int | BaseException) -> str:
    """The ``CKR_*`` name of a raw return value or a python-pkcs11 exception."""
    if isinstance(source, int):
        return CKR_NAMES.get(source, f"CKR_{source:#010x}")
    for cls in type(source).__mro__:
        if cls in _CLASS_CODES:
            return _CLASS_CODES[cls]
    if isinstance(source, p11e.NoSuchToken):
        return "NO_SUCH_TOKEN"
    return type(source).__name__


def translate(
    source: int | BaseException,
    *,
    operation: str,
    token: str | None = None,
    pin_flags: Callable[[], PinFlags] | None = None,
    signing: bool = False,
) -> TokenError:
    """Map one PKCS#11 failure to the :mod:`drivers.errors` class that names it.

    Args:
        source: a raw ``CK_RV`` or a python-pkcs11 exception.
        operation: what was being done, for the message.
        token: the token label, for the message and the error's ``token``.
        pin_flags: reads the token's PIN flags again; called only for a refused PIN,
            so the error can say whether this was the final try.
        signing: the failure came from ``C_SignInit``/``C_Sign``, where a general
            error means the token was pulled out mid-operation.
    """
    name = code_name(source)
    if name in _PIN_REJECTED:
        final_try, count_low = pin_flags() if pin_flags else (None, None)
        detail = {
            "CKR_PIN_INCORRECT": text("the PIN is incorrect"),
            "CKR_PIN_INVALID": text("the PIN has characters the token does not accept"),
            "CKR_PIN_LEN_RANGE": text("the PIN is too long or too short for this token"),
            "CKR_PIN_EXPIRED": text("the PIN has expired and must be changed"),
        }[name]
        if final_try:
            detail = text("{detail}; the next wrong PIN will LOCK the token", detail=detail)
        elif count_low:
            detail = text("{detail}; few tries are left before the token locks",
                          detail=detail)
        return PinIncorrectError(
            text("{detail} (token {token!r})", detail=detail, token=token), token=token,
            final_try=final_try, count_low=count_low)
    if name == "CKR_PIN_LOCKED":
        return PinLockedError(
            text("the user PIN of token {token!r} is locked; ask the CA or your security "
                 "officer to unlock it", token=token),
            token=token,
        )
    if name in _REMOVED or (signing and name in _REMOVED_WHILE_SIGNING):
        return TokenRemovedError(text("token {token!r} was removed during {operation} "
                                      "({code})", token=token, operation=operation,
                                      code=name),
                                 token=token, code=name)
    if name in _MECHANISM:
        return MechanismUnsupportedError(operation, token=token)
    if name == "CKR_USER_NOT_LOGGED_IN":
        return LoginRequiredError(text("{operation} needs a login to token {token!r}",
                                       operation=operation, token=token), token=token)
    if name in {"CKR_FUNCTION_CANCELED", "CKR_CANCEL"}:
        return LoginCancelledError(text("PIN entry cancelled on token {token!r}",
                                        token=token), token=token)
    if name == "NO_SUCH_TOKEN":
        return TokenNotFoundError(f"label {token!r}")
    return TokenOperationError(operation, name, token=token)


@contextmanager
def translated(operation: str, *, token: str | None = None) -> Iterator[None]:
    """Run a block of python-pkcs11 calls, translating its exceptions once."""
    try:
        yield
    except p11e.PKCS11Error as exc:
        raise translate(exc, operation=operation, token=token) from exc
