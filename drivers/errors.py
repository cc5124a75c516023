"""Errors of the token driver layer: one root, :class:`TokenError`.

Every python-pkcs11 exception and every raw ``CKR_*`` code is translated into one of
these classes exactly once, in :mod:`drivers._translate`; nothing above ``drivers``
ever sees a ``pkcs11.exceptions`` class. Each error carries its data as attributes so
callers never parse messages::

    try:
        session.login(pin)
    except PinIncorrectError as exc:
        if exc.final_try:
            warn("one more wrong PIN locks the token")
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from drivers._text import text

__all__ = [
    "AmbiguousSelectionError",
    "ConfigFileError",
    "KeyNotFoundError",
    "LoginCancelledError",
    "LoginRequiredError",
    "MechanismUnsupportedError",
    "ModuleLoadError",
    "ModuleLoadReason",
    "PinIncorrectError",
    "PinLockedError",
    "TokenError",
    "TokenNotFoundError",
    "TokenOperationError",
    "TokenRemovedError",
]


class TokenError(Exception):
    """Root of every error raised by :mod:`drivers`.

    Attributes:
        token: label of the token (or path of a key file) concerned, when known.
    """

    def __init__(self, message: str, *, token: str | None = None) -> None:
        super().__init__(message)
        self.token = token


class ModuleLoadReason(enum.Enum):
    """Why a PKCS#11 module could not be loaded."""

    NOT_FOUND = "not-found"
    """No file at the path."""
    NOT_A_LIBRARY = "not-a-library"
    """The file exists but is not a shared library for this machine (not ELF, wrong class)."""
    MISSING_DEPENDENCY = "missing-dependency"
    """The module links against a library that is not installed (e.g. libpcsclite)."""
    NOT_PKCS11 = "not-pkcs11"
    """A shared library without ``C_GetFunctionList``: not a PKCS#11 module."""
    INIT_FAILED = "init-failed"
    """``C_GetFunctionList`` or ``C_Initialize`` failed."""
    WRONG_ARCHITECTURE = "wrong-architecture"
    """A library built for another machine: 32-bit where Python is 64-bit, another
    processor, or another operating system (a Windows DLL, a macOS dylib)."""


_LOAD_WORDS = {
    ModuleLoadReason.NOT_FOUND: text("no such file"),
    ModuleLoadReason.NOT_A_LIBRARY: text("not a shared library for this machine"),
    ModuleLoadReason.MISSING_DEPENDENCY: text("a library it needs is not installed"),
    ModuleLoadReason.NOT_PKCS11: text("not a PKCS#11 module (no C_GetFunctionList)"),
    ModuleLoadReason.INIT_FAILED: text("the module failed to initialise"),
    ModuleLoadReason.WRONG_ARCHITECTURE: text("built for another kind of computer"),
}
"""What each reason means, in the words of the error message."""

_LOAD_HINTS = {
    ModuleLoadReason.NOT_FOUND:
        text("Check the path; 'signsvc tokens' lists the modules found on this computer."),
    ModuleLoadReason.NOT_A_LIBRARY:
        text("The file is damaged or is not a token driver; reinstall the token's driver "
             "from the CA."),
    ModuleLoadReason.MISSING_DEPENDENCY:
        text("Install the missing library named above (on Debian or Ubuntu, 'apt-file "
             "search NAME' tells which package has it), or reinstall the token's driver."),
    ModuleLoadReason.NOT_PKCS11:
        text("This library is not the token's PKCS#11 module; give the module the CA's "
             "driver installs (for example libcastle.so.1.0.0 for an ePass2003 token)."),
    ModuleLoadReason.INIT_FAILED:
        text("The module loaded but refused to start; check that the smart-card service "
             "(pcscd) runs and that the token's driver is installed completely."),
    ModuleLoadReason.WRONG_ARCHITECTURE:
        text("Install the token driver built for this computer and system (ask the CA for "
             "it; most officials' PCs need the 64-bit driver), since a program cannot load a "
             "driver built for another processor, word size or operating system."),
}
"""What the user can do about each reason: one complete sentence each (kept together
so they can be translated in one place)."""

_OLD_OPENSSL = text("an OpenSSL older than this system's, so the driver was built for an "
                    "older system")
_MISSING_PACKAGES = {
    "libpcsclite.so.1": ("libpcsclite1", None),
    "libssl.so.1.1": ("libssl1.1", _OLD_OPENSSL),
    "libcrypto.so.1.1": ("libssl1.1", _OLD_OPENSSL),
    "libssl.so.1.0.0": ("libssl1.0.0", _OLD_OPENSSL),
    "libcrypto.so.1.0.0": ("libssl1.0.0", _OLD_OPENSSL),
    "libusb-1.0.so.0": ("libusb-1.0-0", None),
    "libstdc++.so.6": ("libstdc++6", None),
}
"""Libraries vendor token modules commonly need, and the Debian package that has them."""


class ModuleLoadError(TokenError):
    """A PKCS#11 module could not be loaded.

    Attributes:
        path: the path as given (before resolving symlinks).
        reason: the :class:`ModuleLoadReason`.
        detail: the loader's own words (dlopen's message), or what the file is (e.g.
            "a 32-bit x86 library; this program is 64-bit x86-64"), for the log.
        missing: for a missing dependency, the file name of the library not found.
        hint: what the user can do about it, one sentence.
    """

    def __init__(self, path: Path | str, reason: ModuleLoadReason, detail: str = "", *,
                 missing: str | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.detail = detail
        self.missing = missing
        self.hint = _LOAD_HINTS[reason]
        if missing is not None and missing in _MISSING_PACKAGES:
            package, note = _MISSING_PACKAGES[missing]
            self.hint = text("Install the package that has {missing} (on Debian or "
                             "Ubuntu: {package}), or ask the CA for a newer driver.",
                             missing=missing, package=package)
            if note:
                self.hint += text(" It is {note}.", note=note)
        message = text("cannot load PKCS#11 module {path}: {why}", path=self.path,
                       why=_LOAD_WORDS[reason])
        if detail and reason is not ModuleLoadReason.NOT_FOUND:
            message += text(" ({detail})", detail=detail)
        super().__init__(message)

    @property
    def summary(self) -> str:
        """``"<path>: <reason> (<detail>)"``, short, for lists of modules."""
        words = _LOAD_WORDS[self.reason]
        return f"{self.path}: {words}" + (
            f" ({self.detail})" if self.detail and self.reason is not
            ModuleLoadReason.NOT_FOUND else "")


class ConfigFileError(TokenError):
    """The signsvc config file that names the PKCS#11 modules cannot be used.

    A token error (exit 3 on the command line): like a module that fails to load, it
    stops signsvc from reaching the token the user configured.

    Attributes:
        path: the config file.
        reason: what is wrong with it, in words.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class TokenNotFoundError(TokenError):
    """No token matches the selection.

    Attributes:
        wanted: what was looked for (e.g. ``"label='VGCA'"``).
        available: labels of the tokens that are present.
        label: the label looked for, when the selection had one.
        unloadable: modules found on this machine that could not be loaded, each as
            ``"<path>: <reason>"``; the token may be behind one of them.
    """

    def __init__(self, wanted: str, available: Sequence[str] = (), *,
                 label: str | None = None, unloadable: Sequence[str] = ()) -> None:
        self.wanted = wanted
        self.available = tuple(available)
        self.label = label
        self.unloadable = tuple(unloadable)
        present = (", ".join(repr(a) for a in self.available) if self.available
                   else text("none"))
        message = text("no token with {wanted}; tokens present: {present}", wanted=wanted,
                       present=present)
        near = [a for a in self.available if label is not None and _loose(a) == _loose(label)]
        if near:
            message += text(". {near!r} differs from the label given only in letter case "
                            "or spaces; type the label exactly as listed", near=near[0])
        if self.unloadable:
            message += text(". Modules found but not loadable: {modules}",
                            modules="; ".join(self.unloadable))
        super().__init__(message)


def _loose(text: str) -> str:
    """``text`` without the differences people do not see: compatibility forms, letter
    case, repeated or surrounding spaces (UAX #15 NFKC, then case folding)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


class AmbiguousSelectionError(TokenError):
    """The selection matches more than one token or key; the caller must narrow it.

    Attributes:
        what: ``"token"`` or ``"key"``.
        candidates: descriptions of each match, to show the user.
    """

    def __init__(self, what: str, candidates: Sequence[str], *, token: str | None = None):
        self.what = what
        self.candidates = tuple(candidates)
        super().__init__(
            f"{len(self.candidates)} {what}s match; choose one of: "
            + "; ".join(self.candidates),
            token=token,
        )


class TokenRemovedError(TokenError):
    """The token was removed (or its session invalidated) during the operation.

    The session is dead for good (PKCS#11 v3.0 §5.6: sessions do not survive their
    token); after re-insertion a fresh session and a new login are needed, see
    :func:`drivers.wait_for_token` and :meth:`drivers.TokenKey.reopen`.

    Attributes:
        code: the PKCS#11 return-value name that showed it, e.g.
            ``"CKR_DEVICE_REMOVED"``; None when it was seen otherwise.
    """

    def __init__(self, message: str, *, token: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message, token=token)
        self.code = code


class PinIncorrectError(TokenError):
    """The token refused the PIN (``CKR_PIN_INCORRECT`` and relatives).

    The PIN is never retried automatically: each attempt costs one of the token's
    tries, and many VN tokens (ePass2003, ProxKey) never warn before the last one.

    Attributes:
        final_try: True when the token now reports ``CKF_USER_PIN_FINAL_TRY``; None
            when it reports nothing (many tokens never do, SoftHSM included).
        count_low: True when the token reports ``CKF_USER_PIN_COUNT_LOW``.
    """

    def __init__(
        self,
        message: str,
        *,
        token: str | None = None,
        final_try: bool | None = None,
        count_low: bool | None = None,
    ) -> None:
        super().__init__(message, token=token)
        self.final_try = final_try
        self.count_low = count_low


class PinLockedError(TokenError):
    """The user PIN is locked (``CKR_PIN_LOCKED``); only the SO / the CA can unlock it."""


class LoginRequiredError(TokenError):
    """The operation needs a logged-in session (``CKR_USER_NOT_LOGGED_IN``)."""


class LoginCancelledError(TokenError):
    """The user cancelled PIN entry on the reader's PIN pad (``CKR_FUNCTION_CANCELED``)."""


class KeyNotFoundError(TokenError):
    """No private key or certificate matches.

    Attributes:
        wanted: what was looked for, e.g. ``"private key for CKA_ID 01ab"``.
    """

    def __init__(self, wanted: str, *, token: str | None = None) -> None:
        self.wanted = wanted
        where = f" on token {token!r}" if token else ""
        super().__init__(f"no {wanted}{where}", token=token)


class MechanismUnsupportedError(TokenError):
    """The token offers no mechanism for the requested signature.

    Attributes:
        wanted: the signature asked for, e.g. ``"RSA-PSS with sha256"``.
        available: the mechanism names the token lists.
    """

    def __init__(self, wanted: str, available: Sequence[str] = (), *, token: str | None = None):
        self.wanted = wanted
        self.available = tuple(available)
        listed = ", ".join(self.available) or "none listed"
        super().__init__(f"the token cannot sign {wanted} (mechanisms: {listed})", token=token)


class TokenOperationError(TokenError):
    """Any other PKCS#11 failure.

    Attributes:
        operation: what was being done (``"sign"``, ``"open session"``...).
        code: the PKCS#11 return-value name, e.g. ``"CKR_DEVICE_ERROR"``.
    """

    def __init__(self, operation: str, code: str, *, token: str | None = None) -> None:
        self.operation = operation
        self.code = code
        where = f" on token {token!r}" if token else ""
        super().__init__(f"{operation} failed{where}: {code}", token=token)
