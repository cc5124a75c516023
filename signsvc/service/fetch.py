"""Documents fetched and uploaded without SSRF (SERVICE-DESIGN §3.3).

The page names the URLs (``FileName``, ``FileUploadHandler``); the service must not
become its way into the intranet or onto another site. So a URL must be absolute,
http(s), without userinfo or fragment, and its origin (host spelled canonically:
:func:`~signsvc.service.origins.canonical_host`) must be the calling origin or one of
the file servers the admin lists for it; http only when the caller itself is http.
Its host is resolved once; the address must be of the same class as the calling
origin's (a loopback page gets loopback addresses, an intranet page intranet ones, a
public page public ones; never unspecified, multicast or reserved ones), and the
connection goes to that very address (a second lookup could answer otherwise: DNS
rebinding), the ``Host`` header and TLS server name kept. No redirect is followed
(a redirect is an error); bodies are streamed under size caps, 60 s timeouts, and a
document must start with ``%PDF-``. ``SessionId`` goes as a cookie and ``JWTToken``
as ``Authorization: Bearer``, to these URLs only; neither is ever logged.

Example::

    >>> policy = UrlPolicy("https://eoffice.gov.vn")  # doctest: +SKIP
    >>> target = policy.check("https://eoffice.gov.vn/vb/1.pdf", "FileName")  # doctest: +SKIP
    >>> data = download(target, Credentials(None, None), max_bytes=50 << 20)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from signsvc._i18n import _
from signsvc.service.origins import DEFAULT_PORTS, canonical_host, split_origin
from signsvc.service.replies import Refusal, Status

__all__ = ["TIMEOUT", "UPLOAD_FIELD", "Credentials", "DocumentError", "Resolver", "Target",
           "UrlPolicy", "address_class", "document_name", "download", "system_resolver",
           "upload"]

TIMEOUT = 60.0
"""Seconds for each network operation (connect, each read, each write)."""
UPLOAD_FIELD = "file"
"""The multipart field the signed PDF is posted in (its filename: the document's
name). VGCA's own field name is not public (SERVICE-DESIGN §3.3)."""
_REPLY_CAP = 2048
"""Bytes of the upload's response kept as ``FileServer``."""

Resolver = Callable[[str, int], list[str]]
"""(host, port) -> addresses, in preference order."""


class DocumentError(Exception):
    """A document could not be fetched, or the signed one not uploaded.

    Attributes:
        url: the URL concerned.
        reason: why, in words for the user (already translated).
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


def system_resolver(host: str, port: int) -> list[str]:
    """The system's answer (``getaddrinfo``), each address once, in its order."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    out: list[str] = []
    for *_ignored, address in answers:
        text = str(address[0])
        if text not in out:
            out.append(text)
    return out


def address_class(address: str) -> str | None:
    """``loopback``, ``private`` (RFC 1918, ULA, link-local) or ``public``; None for
    addresses nobody should fetch from (unspecified, multicast, reserved, ...)."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return None
    if ip.is_private or ip.is_link_local:
        return "private"
    return "public" if ip.is_global else None


@dataclass(frozen=True)
class Target:
    """A URL that passed the policy, with the one address it will be fetched from."""

    url: str
    """As the page gave it."""
    origin: str
    """Its origin, canonical."""
    host: str
    """Canonical host (IPv6 in brackets)."""
    port: int
    """Explicit port."""
    path: str
    """Path and query, as given (at least ``/``)."""
    address: str
    """The address connected to (resolved once)."""

    @property
    def scheme(self) -> str:
        return self.origin.partition("://")[0]

    def pinned_url(self) -> str:
        """The URL with the host replaced by the pinned address."""
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{address}:{self.port}{self.path}"

    def host_header(self) -> str:
        default = DEFAULT_PORTS[self.scheme]
        return self.host if self.port == default else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Credentials:
    """What the page gave to authenticate the service to its own server."""

    session_id: str | None = field(repr=False)
    jwt: str | None = field(repr=False)
    cookie_name: str = "ASP.NET_SessionId"

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.session_id:
            headers["Cookie"] = f"{self.cookie_name}={self.session_id}"
        if self.jwt:
            headers["Authorization"] = f"Bearer {self.jwt}"
        return headers


def _refuse(what: str, reason: str) -> Refusal:
    return Refusal(403, Status.REFUSED, _("{what}: {reason}").format(what=what, reason=reason),
                   decision="refused-url")


class UrlPolicy:
    """Which URLs a request from ``caller`` may use (see the module), each host
    resolved at most once per request."""

    def __init__(self, caller: str, file_origins: Iterable[str] = (), *,
                 resolver: Resolver = system_resolver) -> None:
        self.caller = caller
        self.allowed = frozenset({caller, *file_origins})
        self._resolver = resolver
        self._answers: dict[tuple[str, int], list[str]] = {}
        scheme, host, port = split_origin(caller)
        self._caller_scheme = scheme
        self._caller_host = (host, port)

    def _resolve(self, host: str, port: int) -> list[str]:
        key = (host, port)
        if key not in self._answers:
            bare = host.strip("[]")
            try:
                ipaddress.ip_address(bare)
                self._answers[key] = [bare]
            except ValueError:
                self._answers[key] = self._resolver(host, port)
        return self._answers[key]

    def _caller_class(self) -> str | None:
        answers = self._resolve(*self._caller_host)
        return address_class(answers[0]) if answers else None

    def check(self, url: str, what: str) -> Target:
        """The URL as a :class:`Target`. Raises: Refusal (403), naming ``what``."""
        if any(c.isspace() or ord(c) < 32 or c == "\\" for c in url):
            raise _refuse(what, _("the URL holds spaces, control characters or "
                                  "backslashes"))
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise _refuse(what, _("not a URL")) from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise _refuse(what, _("only http and https URLs are fetched"))
        if scheme == "http" and self._caller_scheme != "http":
            raise _refuse(what, _("an https page's documents must be on https"))
        if "@" in parts.netloc or parts.username is not None:
            raise _refuse(what, _("a URL with a user name or password is refused"))
        if "#" in url:
            raise _refuse(what, _("a URL with a fragment is refused"))
        netloc_host = parts.netloc.rpartition(":")[0] if parts.port is not None else \
            parts.netloc
        host = canonical_host(netloc_host)
        if host is None:
            raise _refuse(what, _("not a host name"))
        port = port or DEFAULT_PORTS[scheme]
        origin = f"{scheme}://{host}" + ("" if port == DEFAULT_PORTS[scheme] else f":{port}")
        if origin not in self.allowed:
            raise _refuse(what, _("{origin} is not the calling site ({caller})").format(
                origin=origin, caller=self.caller))
        answers = self._resolve(host, port)
        if not answers:
            raise _refuse(what, _("the host name {host} does not resolve").format(host=host))
        wanted = self._caller_class()
        found = address_class(answers[0])
        if found is None or found != wanted:
            raise _refuse(what, _("{host} resolves to {address}, not a {kind} address like "
                                  "the calling site's").format(
                                      host=host, address=answers[0], kind=wanted or "-"))
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return Target(url=url, origin=origin, host=host, port=port, path=path,
                      address=answers[0])


def document_name(target: Target) -> str:
    """The document's file name: the URL's last path segment, decoded; never a path
    (separators and control characters become ``_``)."""
    segment = unquote(target.path.split("?")[0].rstrip("/").rpartition("/")[2])
    name = "".join("_" if c in "/\\" or ord(c) < 32 else c for c in segment).strip(". ")
    return name[:200] or "document.pdf"


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every fetch and upload: the system's trusted CAs, host names
    checked. Building it loads the CA bundle (about 20 ms), which per document was
    most of what the service added to signing."""
    return ssl.create_default_context()


def _client(timeout: float) -> Any:
    import httpx

    return httpx.Client(follow_redirects=False, trust_env=False, verify=_tls(),
                        timeout=httpx.Timeout(timeout))


def _headers(target: Target, credentials: Credentials) -> dict[str, str]:
    # identity: a compressed body would be inflated before the size cap sees it.
    return {"Host": target.host_header(), "Accept-Encoding": "identity",
            **credentials.headers()}


def _extensions(target: Target) -> dict[str, str]:
    # TLS server name and certificate check on the host name, not the address.
    return {"sni_hostname": target.host.strip("[]")} if target.scheme == "https" else {}


def download(target: Target, credentials: Credentials, *, max_bytes: int,
             timeout: float = TIMEOUT) -> bytes:
    """The document at ``target``, at most ``max_bytes``.

    Raises:
        DocumentError: refused, unreachable, not 200 (a redirect included), too large,
            or not a PDF.
    """
    import httpx

    data = bytearray()
    try:
        with _client(timeout) as client, client.stream(
                "GET", target.pinned_url(), headers=_headers(target, credentials),
                extensions=_extensions(target)) as response:
            if response.is_redirect:
                raise DocumentError(target.url, _("the server answered with a redirect, "
                                                  "which is not followed"))
            if response.status_code != 200:
                raise DocumentError(target.url, _("the server answered HTTP {code}").format(
                    code=response.status_code))
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise DocumentError(target.url, _("larger than {limit} bytes").format(
                        limit=max_bytes))
    except httpx.HTTPError as exc:
        raise DocumentError(target.url, _("cannot be fetched: {error}").format(
            error=type(exc).__name__)) from exc
    if not data.startswith(b"%PDF-"):
        raise DocumentError(target.url, _("not a PDF (it does not start with %PDF-)"))
    return bytes(data)


def upload(target: Target, credentials: Credentials, name: str, data: bytes, *,
           timeout: float = TIMEOUT) -> str:
    """Post the signed document to ``target`` (multipart, field :data:`UPLOAD_FIELD`);
    the response body, trimmed, at most 2 KiB (VGCA's ``FileServer``).

    Raises:
        DocumentError: refused, unreachable, or not a 2xx answer (a redirect included).
    """
    import httpx

    body = bytearray()
    try:
        with _client(timeout) as client, client.stream(
                "POST", target.pinned_url(),
                files={UPLOAD_FIELD: (name, data, "application/pdf")},
                headers=_headers(target, credentials),
                extensions=_extensions(target)) as response:
            if not 200 <= response.status_code < 300:
                raise DocumentError(target.url, _("the upload was refused: HTTP "
                                                  "{code}").format(code=response.status_code))
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= _REPLY_CAP:
                    break
    except httpx.HTTPError as exc:
        raise DocumentError(target.url, _("the upload failed: {error}").format(
            error=type(exc).__name__)) from exc
    return bytes(body[:_REPLY_CAP]).decode("utf-8", "replace").strip()
