"""What signing asks of the network, with every failure named: the URL and the cause
(connection refused, no answer in time, HTTP status, a response that is not what the
protocol says, a refusal in the server's own words).

- The time-stamping authority (B-T and up): pyHanko reports every failure as "Error
  while contacting timestamp service", the cause hidden in ``__cause__``.
- OCSP responders and CRL distribution points (B-LT, B-LTA): pyHanko says "The
  signer's certificate could not be validated"; the fetches that failed are only in
  its debug log, which :class:`FetchFailures` reads while one signature is made.

An official, or the help desk on the phone, needs to know whether the network, the
address or the service is at fault.

Example::

    >>> stamper = NamedTimeStamper("http://127.0.0.1:9/tsa", timeout=5)  # doctest: +SKIP
    >>> # a failed request raises signsvc.errors.TimestampError:
    >>> # "the time-stamping authority http://127.0.0.1:9/tsa failed: connection refused"
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography import x509
from pyhanko.sign.timestamps import HTTPTimeStamper

from signsvc.errors import RevocationFetchError, SigningError, TimestampError

__all__ = ["FetchFailures", "NamedTimeStamper", "failure_cause", "signing_error"]

_TSA_REPLY = "application/timestamp-reply"
"""RFC 3161 §3.4: the content type of a time-stamp response over HTTP."""


class NamedTimeStamper(HTTPTimeStamper):  # type: ignore[misc,unused-ignore]  # no stubs
    """pyHanko's HTTP time-stamp client, raising :class:`TimestampError` (URL + cause)."""

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> Any:
        try:
            return await super().async_timestamp(message_digest, md_algorithm)
        except TimestampError:
            raise
        except Exception as exc:  # every failure of one request: named, not guessed
            raise TimestampError(str(self.url), failure_cause(exc, self.timeout)) from exc


def failure_cause(exc: BaseException, timeout: float | None = None, *,
                  expected: str = "an RFC 3161 time-stamp response") -> str:
    """What went wrong with one request, in words for the user; ``expected`` names
    what a good answer would have been."""
    import aiohttp

    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 8:
        chain.append(chain[-1].__cause__)
    for error in chain:
        if isinstance(error, aiohttp.ContentTypeError):
            got = error.headers.get("Content-Type") if error.headers else None
            return (f"it answered with content type {got or 'none'}, not {expected}: "
                    "no such service at this address")
        if isinstance(error, aiohttp.ClientResponseError):
            words = f"it answered HTTP {error.status} {error.message}".rstrip()
            if error.status == 401:
                words += " (it needs a user and password: --tsa-user, --tsa-password-env)"
            return words
        if isinstance(error, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
            limit = f" within {timeout:g} s" if timeout else ""
            return f"it did not answer{limit}"
        if isinstance(error, aiohttp.InvalidURL):
            return "the address is not a valid URL"
        if isinstance(error, aiohttp.ClientConnectorError):
            os_error = error.os_error
            if getattr(os_error, "errno", None) == errno.ECONNREFUSED:
                return (f"connection refused by {error.host}:{error.port} (no service "
                        "listens there)")
            return f"cannot connect to {error.host}:{error.port} ({os_error.strerror or os_error})"
        if isinstance(error, aiohttp.ServerDisconnectedError):
            return "it closed the connection without answering"
        if isinstance(error, aiohttp.ClientError):
            return f"the HTTP request failed ({type(error).__name__}: {error})"
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError

    if isinstance(exc, TimestampRequestError) and exc.__cause__ is None:
        return str(exc)  # a refusal or a bad nonce: pyHanko's words are precise
    last = chain[-1]
    return f"its answer is not {expected} ({type(last).__name__}: {last})"


_FETCH_LOGGER = "pyhanko_certvalidator.fetchers.common_utils"
"""Where pyhanko_certvalidator logs each fetch job (a logger's filters see only the
records made on that very logger, not its children's)."""
_FAILED_JOB = re.compile(r"New fetch job with tag '(?P<tag>[^']*)' threw an exception")


class FetchFailures(logging.Filter):
    """The OCSP and CRL fetches that failed while the block ran, with their causes.

    pyhanko_certvalidator logs each failed fetch at DEBUG level from inside the
    ``except`` block that caught it, so the exception itself is at hand
    (``sys.exc_info()``) when the record is made. This filter collects those and lets
    through only the records the application would have seen anyway (the logger's
    level is lowered to DEBUG for the block only).

    Example::

        with FetchFailures() as failures:
            ...                                  # sign at B-LT
        failures.found   # [("http://127.0.0.1:18480/crl/ca.crl", "it answered HTTP 500 ...")]
    """

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._logger = logging.getLogger(_FETCH_LOGGER)
        self._level = logging.NOTSET

    def __enter__(self) -> FetchFailures:
        self._level = self._logger.level
        self._shown = self._logger.getEffectiveLevel()
        self._logger.addFilter(self)
        self._logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.setLevel(self._level)
        self._logger.removeFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        match = _FAILED_JOB.match(record.getMessage())
        if match is not None:
            error = sys.exc_info()[1]
            url = match.group("tag")
            if url.startswith(("http://", "https://")) and error is not None:
                self.found.append((url, failure_cause(
                    error, expected="a CRL or an OCSP response")))
        return record.levelno >= self._shown


def signing_error(exc: Exception, failed_fetches: list[tuple[str, str]],
                  certificates: Iterable[x509.Certificate], input: Path) -> SigningError:
    """pyHanko's SigningError in words: the OCSP/CRL fetches that failed, with their
    URLs and causes, when revocation data was what was missing (B-LT, B-LTA)."""
    from pyhanko_certvalidator.errors import InsufficientRevinfoError

    if failed_fetches:
        urls = tuple(dict.fromkeys(url for url, _ in failed_fetches))
        causes = "; ".join(dict.fromkeys(f"{url}: {cause}" for url, cause in failed_fetches))
        return RevocationFetchError(urls, causes, path=input)
    chain: list[BaseException] = [exc]
    while (nxt := chain[-1].__cause__ or chain[-1].__context__) is not None and len(chain) < 8:
        chain.append(nxt)
    missing = next((e for e in chain if isinstance(e, InsufficientRevinfoError)), None)
    if missing is not None:
        return RevocationFetchError(_revocation_urls(certificates), str(missing), path=input)
    return SigningError(_pyhanko_reason(exc), path=input)


def _revocation_urls(certificates: Iterable[x509.Certificate]) -> tuple[str, ...]:
    """The OCSP (AIA) and CRL (CDP) URLs the certificates name (RFC 5280 §4.2.2.1,
    §4.2.1.13), in order, once each."""
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

    urls: list[str] = []
    for cert in certificates:
        for oid in (ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
                    ExtensionOID.CRL_DISTRIBUTION_POINTS):
            try:
                value: Any = cert.extensions.get_extension_for_oid(oid).value
            except x509.ExtensionNotFound:
                continue
            if oid == ExtensionOID.AUTHORITY_INFORMATION_ACCESS:
                names = [d.access_location for d in value
                         if d.access_method == AuthorityInformationAccessOID.OCSP]
            else:
                names = [n for point in value for n in (point.full_name or [])]
            urls += [n.value for n in names if isinstance(n, x509.UniformResourceIdentifier)]
    return tuple(dict.fromkeys(urls))


def _pyhanko_reason(exc: Exception) -> str:
    text = str(exc)
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text
