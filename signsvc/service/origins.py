"""Origins and hosts in one canonical spelling, so that comparing them is ``==``.

A web origin is ``scheme://host[:port]`` (RFC 6454 §6.2), what browsers send in the
``Origin`` header. The allowlist is matched exactly, never by suffix or pattern
(``https://eoffice.gov.vn.evil.com`` is not ``https://eoffice.gov.vn``). Hosts are
spelled as the WHATWG URL standard serialises them (§3.5 host serializing): lower
case, IDNA (punycode) for other scripts, IPv4 written any other way (``2130706433``,
``0x7f.1``, ``127.1``) as its dotted address, IPv6 compressed in brackets. So a URL on
``http://2130706433/`` counts as ``http://127.0.0.1``, its real address, and
``[::ffff:127.0.0.1]`` stays an IPv6 address that is not ``127.0.0.1``.

Example::

    >>> normalise_origin("HTTPS://EOffice.gov.vn:443", lenient=True)
    'https://eoffice.gov.vn'
    >>> normalise_origin("https://eoffice.gov.vn/") is None  # a header has no path
    True
    >>> canonical_host("0x7f.1")
    '127.0.0.1'
"""

from __future__ import annotations

import ipaddress
import re
import socket

__all__ = ["DEFAULT_PORTS", "canonical_host", "normalise_origin", "split_origin"]

DEFAULT_PORTS = {"http": 80, "https": 443}
"""The ports an origin leaves out (RFC 6454 §4: the scheme's default)."""

_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_NUMERIC = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_ORIGIN = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(\[[^\]/]*\]|[^:/\[\]]*)(?::([0-9]*))?$")


def canonical_host(host: str) -> str | None:
    """``host`` as the WHATWG URL standard serialises it, or None when it is not a
    host (empty, a zone id, bad characters, a number that is no IPv4 address)."""
    if host.startswith("["):
        if not host.endswith("]") or "%" in host:
            return None
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            return None
    if not host or any(c.isspace() or c in "\\/@%?#" for c in host):
        return None
    try:
        ascii_host = host.lower() if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    ascii_host = ascii_host.lower()
    labels = ascii_host.split(".")
    if _NUMERIC.match(labels[-1]):
        # WHATWG URL §3.5: a host ending in a number is an IPv4 address, in any of the
        # forms inet_aton(3) reads (decimal, 0x hex, leading-0 octal, 1 to 4 parts).
        try:
            return socket.inet_ntoa(socket.inet_aton(ascii_host))
        except OSError:
            return None
    if not all(_LABEL.match(label) for label in labels):
        return None
    return ascii_host


def split_origin(origin: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a normalised origin, the port made explicit."""
    scheme, _, rest = origin.partition("://")
    if rest.startswith("["):
        host, _, port = rest.partition("]")
        return scheme, host + "]", int(port[1:]) if port else DEFAULT_PORTS[scheme]
    host, _, port = rest.partition(":")
    return scheme, host, int(port) if port else DEFAULT_PORTS[scheme]


def normalise_origin(text: str, *, lenient: bool = False) -> str | None:
    """The canonical ``scheme://host[:port]`` of an origin, or None.

    Strict (an ``Origin`` header): it must already be canonical, as a browser
    serialises it, and ``null`` or any path is refused. ``lenient`` (a
    configuration file): case, a default port, a Unicode host name and one trailing
    ``/`` are normalised.
    """
    candidate = text.strip() if lenient else text
    if lenient and candidate.endswith("/"):
        candidate = candidate[:-1]
    match = _ORIGIN.match(candidate)
    if match is None:
        return None
    scheme, host, port_text = match.group(1).lower(), match.group(2), match.group(3)
    if scheme not in DEFAULT_PORTS:
        return None
    host_name = canonical_host(host)
    if host_name is None:
        return None
    origin = f"{scheme}://{host_name}"
    if port_text is not None:
        if not port_text or not 0 < int(port_text) < 65536:
            return None
        port = int(port_text)
        if port != DEFAULT_PORTS[scheme]:
            origin += f":{port}"
    if not lenient and origin != text:
        return None
    return origin
