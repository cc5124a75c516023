"""Types shared by the driver modules, in a module that imports no other driver module.

:mod:`drivers.module` opens :mod:`drivers.session` sessions, which hand out
:mod:`drivers.keys` keys; a key reaches back to its session only through
:class:`KeySession`, declared here, so the imports between them run one way.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol, TypeVar

from pkcs11.constants import TokenFlag
from pkcs11.mechanisms import Mechanism

__all__ = [
    "PROTECTED_AUTH",
    "KeySession",
    "PinFlags",
    "TokenFlags",
    "TokenInfo",
    "same_text",
    "selection_text",
]


class ProtectedAuth:
    """The type of :data:`PROTECTED_AUTH`: "the PIN is typed on the reader's PIN pad"
    (PKCS#11 v2.40 §5.6, ``CKF_PROTECTED_AUTHENTICATION_PATH``)."""

    def __repr__(self) -> str:
        return "PROTECTED_AUTH"


PROTECTED_AUTH: Final = ProtectedAuth()
"""Pass as the PIN to log in through the reader's PIN pad (protected authentication path)."""

PinFlags = tuple[bool | None, bool | None]
"""``(final_try, count_low)`` read from the token right after a refused PIN."""


@dataclass(frozen=True)
class TokenFlags:
    """The ``CK_TOKEN_INFO`` flags an official's tool must heed (PKCS#11 v2.40 §5.5)."""

    login_required: bool
    """``CKF_LOGIN_REQUIRED``: signing needs the user PIN."""
    protected_auth_path: bool
    """``CKF_PROTECTED_AUTHENTICATION_PATH``: the PIN is entered on a PIN pad."""
    pin_count_low: bool
    """``CKF_USER_PIN_COUNT_LOW``: a wrong PIN was entered since the last success."""
    pin_final_try: bool
    """``CKF_USER_PIN_FINAL_TRY``: one more wrong PIN locks the token."""
    pin_locked: bool
    """``CKF_USER_PIN_LOCKED``: the user PIN is locked."""

    @classmethod
    def from_bits(cls, bits: int) -> TokenFlags:
        return cls(
            login_required=bool(bits & TokenFlag.LOGIN_REQUIRED),
            protected_auth_path=bool(bits & TokenFlag.PROTECTED_AUTHENTICATION_PATH),
            pin_count_low=bool(bits & TokenFlag.USER_PIN_COUNT_LOW),
            pin_final_try=bool(bits & TokenFlag.USER_PIN_FINAL_TRY),
            pin_locked=bool(bits & TokenFlag.USER_PIN_LOCKED),
        )


@dataclass(frozen=True)
class TokenInfo:
    """A token present in a slot of a loaded module."""

    module: Path
    """Resolved path of the module that sees it."""
    slot_id: int
    """PKCS#11 slot ID (random on SoftHSM: select tokens by label or serial)."""
    slot_description: str
    """The reader's description."""
    label: str
    """Token label, UTF-8 (may carry Vietnamese diacritics)."""
    serial: str
    """Token serial number, as the token reports it."""
    manufacturer: str
    """``manufacturerID``."""
    model: str
    """Token model."""
    flags: TokenFlags
    """Login and PIN-state flags at the time of reading."""

    def describe(self) -> str:
        return f"{self.label!r} (serial {self.serial}, slot {self.slot_id})"

    def matches(self, label: str | None = None, serial: str | None = None) -> bool:
        """True when the token has this label and serial (None matches anything).

        Labels are compared after NFC normalisation (Unicode UAX #15): "Ánh" typed
        on a keyboard that sends decomposed letters (A + U+0301, as macOS and some
        Vietnamese input methods do) is the same label as the precomposed "Ánh" a CA
        wrote on the token, although the two strings differ code point by code point.
        """
        return (label is None or same_text(self.label, label)) and (
            serial is None or self.serial.strip() == serial.strip())


def same_text(a: str, b: str) -> bool:
    """``a`` and ``b`` are the same text as people type it: equal after NFC
    normalisation (precomposed and decomposed Vietnamese letters are one letter)."""
    return unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b)


def selection_text(label: str | None, serial: str | None) -> str:
    """Words for a token selection, for "no token with ..." messages."""
    parts = [f"label {label!r}" if label is not None else "",
             f"serial {serial!r}" if serial is not None else ""]
    return " and ".join(p for p in parts if p) or "any label"


_KeyT = TypeVar("_KeyT")


class KeySession(Protocol[_KeyT]):
    """What a key on a token needs from the session it lives in.

    :class:`drivers.session.TokenSession` implements it, and
    :class:`drivers.keys.TokenKey` holds its session as ``KeySession[TokenKey]``: the
    parameter is the type of key :meth:`reopen_key` returns, so that this module need
    not import :mod:`drivers.keys`.
    """

    @property
    def info(self) -> TokenInfo:
        """The token the session is open on."""
        ...

    @property
    def lock(self) -> threading.RLock:
        """The module's lock: hold it for every call into the module."""
        ...

    def mechanisms(self) -> frozenset[Mechanism]:
        """The mechanisms the token lists."""
        ...

    def context_pin(self) -> str:
        """The PIN for the context-specific login of a ``CKA_ALWAYS_AUTHENTICATE`` key."""
        ...

    def pin_flags(self) -> PinFlags:
        """The token's PIN flags now, for the error about a refused PIN."""
        ...

    def reopen_key(self, key: _KeyT, pin: str | ProtectedAuth | None = None) -> _KeyT:
        """``key`` (one of this session's) again, in a fresh session on the same token."""
        ...

    def close(self) -> None:
        """Close the session and forget its PIN."""
        ...
