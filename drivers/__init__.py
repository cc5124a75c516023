"""The USB-token driver layer: PKCS#11 modules, tokens, keys and PINs.

Example::

    >>> import drivers
    >>> for candidate in drivers.discover_modules():  # doctest: +SKIP
    ...     module = drivers.load_module(candidate.path)
    ...     for token in module.tokens():
    ...         print(token.label, token.serial)

``drivers`` knows no PDF and never imports ``signsvc`` (tests/support/layout.py checks
both); the pyHanko adapter for its keys is :mod:`signsvc.sign._pyhanko_signer`.
"""

from drivers._types import ProtectedAuth
from drivers.discovery import ModuleCandidate, VendorProfile, discover_modules, vendor_profiles
from drivers.errors import (
    AmbiguousSelectionError,
    ConfigFileError,
    KeyNotFoundError,
    LoginCancelledError,
    LoginRequiredError,
    MechanismUnsupportedError,
    ModuleLoadError,
    ModuleLoadReason,
    PinIncorrectError,
    PinLockedError,
    TokenError,
    TokenNotFoundError,
    TokenOperationError,
    TokenRemovedError,
)
from drivers.events import SlotEvent, wait_for_token, watch
from drivers.keys import KeySigner, TokenKey
from drivers.module import (
    LoadedCandidate,
    Pkcs11Module,
    TokenFlags,
    TokenInfo,
    load_discovered,
    load_module,
)
from drivers.session import PROTECTED_AUTH, CertificateEntry, KeyEntry, TokenSession
from drivers.softkey import Pkcs12Key

__all__ = [
    "PROTECTED_AUTH",
    "AmbiguousSelectionError",
    "CertificateEntry",
    "ConfigFileError",
    "KeyEntry",
    "KeyNotFoundError",
    "KeySigner",
    "LoadedCandidate",
    "LoginCancelledError",
    "LoginRequiredError",
    "MechanismUnsupportedError",
    "ModuleCandidate",
    "ModuleLoadError",
    "ModuleLoadReason",
    "PinIncorrectError",
    "PinLockedError",
    "Pkcs11Module",
    "Pkcs12Key",
    "ProtectedAuth",
    "SlotEvent",
    "TokenError",
    "TokenFlags",
    "TokenInfo",
    "TokenKey",
    "TokenNotFoundError",
    "TokenOperationError",
    "TokenRemovedError",
    "TokenSession",
    "VendorProfile",
    "discover_modules",
    "load_discovered",
    "load_module",
    "vendor_profiles",
    "wait_for_token",
    "watch",
]
