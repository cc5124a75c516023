"""The USB-token driver layer: PKCS#11 modules, tokens, keys and PINs.

Example::

    >>> import drivers
    >>> for candidate in drivers.discover_modules():  # doctest: +SKIP
    ...     module = drivers.load_module(candidate.path)
    ...     for token in module.tokens():
    ...         print(token.label, token.serial)

``drivers`` knows no PDF and never imports ``signsvc`` (tests/support/layout.py checks
both); the pyHanko adapter for its keys is :mod:`signsvc.sign._pyhanko_signer`.
Every name below is loaded when first used (PEP 562), so importing one small module
of the layer (:mod:`drivers._text`, which :mod:`signsvc._i18n` uses) does not load
python-pkcs11.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOME = {
    "drivers._types": ("ProtectedAuth",),
    "drivers.discovery": ("ModuleCandidate", "VendorProfile", "discover_modules",
                          "vendor_profiles"),
    "drivers.errors": ("AmbiguousSelectionError", "ConfigFileError", "KeyNotFoundError",
                       "LoginCancelledError", "LoginRequiredError",
                       "MechanismUnsupportedError", "ModuleLoadError", "ModuleLoadReason",
                       "PinIncorrectError", "PinLockedError", "TokenError",
                       "TokenNotFoundError", "TokenOperationError", "TokenRemovedError"),
    "drivers.events": ("SlotEvent", "wait_for_token", "watch"),
    "drivers.keys": ("KeySigner", "TokenKey"),
    "drivers.module": ("LoadedCandidate", "Pkcs11Module", "TokenFlags", "TokenInfo",
                       "load_discovered", "load_module"),
    "drivers.session": ("PROTECTED_AUTH", "CertificateEntry", "KeyEntry", "TokenSession"),
    "drivers.softkey": ("Pkcs12Key",),
}
"""Where each public name is defined; nothing is imported before it is used."""
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'drivers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
