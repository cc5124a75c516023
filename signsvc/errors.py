"""Errors of the signsvc library: one root, :class:`SignsvcError`.

Token and module failures keep their own root, :class:`drivers.errors.TokenError`;
signsvc never wraps them, so a caller catches ``TokenError`` for "the token said no"
and ``SignsvcError`` for everything signsvc itself decides.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from signsvc._i18n import _

__all__ = [
    "AppearanceError",
    "BadInputError",
    "CertificateProblem",
    "CertificateUnusableError",
    "OutputError",
    "PinSourceError",
    "RevocationFetchError",
    "SigningError",
    "SignsvcError",
    "TimestampError",
    "TrustError",
    "ValidationSetupError",
]


class SignsvcError(Exception):
    """Root of every error signsvc raises itself."""


class BadInputError(SignsvcError):
    """An input the caller supplied cannot be used.

    Attributes:
        path: the file concerned, when there is one.
        reason: what is wrong with it, in words for the user.
    """

    def __init__(self, reason: str, *, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class PinSourceError(SignsvcError):
    """No PIN could be obtained (empty variable, nothing on stdin, no terminal)."""


class SigningError(SignsvcError):
    """A document could not be signed for a reason other than its input or the token
    (the time-stamping authority refused, revocation data could not be fetched, ...).

    Attributes:
        path: the input document, when there is one.
        reason: what went wrong, in words for the user.
    """

    def __init__(self, reason: str, *, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class TimestampError(SigningError):
    """The time-stamping authority (RFC 3161) could not give a time-stamp.

    Attributes:
        url: the TSA's URL.
        cause: what went wrong, in words (connection refused, HTTP 500, a response
            that is not a time-stamp response, ...).
    """

    def __init__(self, url: str, cause: str, *,
                 path: str | os.PathLike[str] | None = None) -> None:
        self.url = url
        self.cause = cause
        super().__init__(_("the time-stamping authority {url} failed: {cause}").format(
            url=url, cause=cause), path=path)


class RevocationFetchError(SigningError):
    """Revocation data (OCSP, CRL) for a B-LT/B-LTA signature could not be fetched.

    Attributes:
        urls: the OCSP and CRL URLs of the certificates concerned, as tried.
        cause: what went wrong, in words.
    """

    def __init__(self, urls: tuple[str, ...], cause: str, *,
                 path: str | os.PathLike[str] | None = None) -> None:
        self.urls = urls
        self.cause = cause
        missing = [url for url in urls if url not in cause]
        tried = _(" (addresses: {urls})").format(urls=", ".join(missing)) if missing else ""
        super().__init__(_("cannot collect the revocation data (OCSP, CRL) the signature "
                           "needs: {cause}{tried}").format(cause=cause, tried=tried),
                         path=path)


class CertificateProblem(StrEnum):
    """Why a signing certificate is refused before anything is signed."""

    EXPIRED = "expired"
    """Its validity ended before the signing time (RFC 5280 §4.1.2.5)."""
    NOT_YET_VALID = "not-yet-valid"
    """Its validity starts after the signing time."""
    KEY_USAGE = "key-usage"
    """Its key usage allows neither digitalSignature nor nonRepudiation
    (RFC 5280 §4.2.1.3)."""
    UNTRUSTED = "untrusted"
    """No valid chain to the trust anchors given."""


class CertificateUnusableError(SignsvcError):
    """The signer's certificate cannot make a signature anyone should rely on.

    Raised before the PIN is asked and before any document is signed; ``force``
    (``--force``) signs anyway, and the journal says so.

    Attributes:
        certificate: the signer's certificate (``cryptography.x509.Certificate``).
        problems: each :class:`CertificateProblem` found.
        reason: the problems in words for the user.
    """

    def __init__(self, reason: str, *, certificate: object,
                 problems: tuple[CertificateProblem, ...]) -> None:
        self.certificate = certificate
        self.problems = problems
        self.reason = reason
        super().__init__(reason)


class OutputError(SignsvcError):
    """The signed output could not be written (exists, read-only directory, disk full).

    Attributes:
        path: the output that was not written.
        reason: why, in words for the user.
    """

    def __init__(self, reason: str, *, path: Path | str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ValidationSetupError(SignsvcError):
    """Chain validation could not run: an option or an input object is unusable.

    A *verdict* (revoked, expired, no path) is never raised; it is a
    :class:`signsvc.pki.chain.ChainResult`. This error means the question itself was malformed.

    Attributes:
        argument: the keyword argument at fault (``"at"``, ``"revocation"``...).
        reason: what is wrong with it, in words for the user.
    """

    def __init__(self, reason: str, *, argument: str | None = None) -> None:
        self.argument = argument
        self.reason = reason
        super().__init__(f"{argument}: {reason}" if argument else reason)


class TrustError(SignsvcError):
    """A trust anchor could not be loaded, added, found or removed.

    Attributes:
        reason: what went wrong, in words for the user.
        path: the file or directory concerned, when there is one.
        fingerprint: SHA-256 fingerprint (upper-case hex) of the certificate concerned.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | os.PathLike[str] | None = None,
        fingerprint: str | None = None,
    ) -> None:
        self.reason = reason
        self.path = Path(path) if path is not None else None
        self.fingerprint = fingerprint
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{reason}")


class AppearanceError(SignsvcError):
    """A visible signature or page text cannot be drawn as asked (font not installed,
    characters the font has no glyph for, image unusable, position off the page).

    Attributes:
        reason: what is wrong, in words for the user.
        path: the file concerned (the font, the image or the document), when there is one.
        characters: the characters the font cannot draw, when that is the reason.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | os.PathLike[str] | None = None,
        characters: tuple[str, ...] = (),
    ) -> None:
        self.reason = reason
        self.path = Path(path) if path is not None else None
        self.characters = characters
        super().__init__(f"{self.path}: {reason}" if self.path else reason)
