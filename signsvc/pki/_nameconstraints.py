"""Name constraints (RFC 5280 §4.2.1.10, §6.1.3 (b)-(c), §6.1.4 (g)).

Instead of computing intersections of permitted subtrees (which RFC 5280 describes but
does not require literally), the state keeps each CA's permitted set separately and a
name must fall inside one subtree of *every* set that constrains its type: the same
result, with no subtree algebra. Excluded subtrees are a plain union.

Supported forms: directoryName, rfc822Name, dNSName, uniformResourceIdentifier,
iPAddress. A constraint of any other form, when the certificate carries a name of that
form, fails closed (RFC 5280 §4.2.1.10: "If a name constraints extension that is marked
as critical imposes constraints on a particular name form, and an instance of that name
form appears ... the application MUST either process the constraint or reject").
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography import x509

from signsvc.pki._x509 import CertInfo, NameKey, name_key

__all__ = ["NameConstraintState"]

_SUPPORTED = (
    x509.DirectoryName,
    x509.RFC822Name,
    x509.DNSName,
    x509.UniformResourceIdentifier,
    x509.IPAddress,
)


def _type_of(name: x509.GeneralName) -> type:
    return type(name)


def _dn_within(subject: NameKey, base: NameKey) -> bool:
    return len(subject) >= len(base) and subject[: len(base)] == base


def _host_within(host: str, base: str) -> bool:
    # dNSName: "example.com" covers itself and every subdomain (RFC 5280 §4.2.1.10).
    # A leading "." (URI and rfc822 host forms) covers subdomains only.
    host = host.lower().rstrip(".")
    base = base.lower().rstrip(".")
    if not base:
        return True
    if base.startswith("."):
        return host.endswith(base)
    return host == base or host.endswith("." + base)


def _mail_within(mail: str, base: str) -> bool:
    # rfc822Name constraints: a full mailbox, a host ("example.com": that host only), or a
    # domain (".example.com": any host below it) — RFC 5280 §4.2.1.10.
    if "@" in base:
        return mail.lower() == base.lower()
    host = mail.rpartition("@")[2].lower()
    base = base.lower()
    if base.startswith("."):
        return host.endswith(base)
    return host == base


def _uri_within(uri: str, base: str) -> bool:
    host = urlsplit(uri).hostname
    if not host:
        return False  # RFC 5280 §4.2.1.10: a URI without an authority cannot be matched
    base = base.lower()
    if base.startswith("."):
        return host.lower().endswith(base)
    return host.lower() == base


def _within(name: x509.GeneralName, base: x509.GeneralName, dn: NameKey | None) -> bool:
    if isinstance(base, x509.DirectoryName):
        return dn is not None and _dn_within(dn, name_key(base.value))
    if isinstance(base, x509.RFC822Name):
        return _mail_within(str(name.value), base.value)
    if isinstance(base, x509.DNSName):
        return _host_within(str(name.value), base.value)
    if isinstance(base, x509.UniformResourceIdentifier):
        return _uri_within(str(name.value), base.value)
    if isinstance(base, x509.IPAddress):
        addr = name.value
        net = base.value
        if isinstance(addr, ipaddress.IPv4Address | ipaddress.IPv6Address) and isinstance(
            net, ipaddress.IPv4Network | ipaddress.IPv6Network
        ):
            return addr.version == net.version and addr in net
        return False
    return False


@dataclass
class NameConstraintState:
    """permitted_subtrees / excluded_subtrees of RFC 5280 §6.1.2 (b)-(c)."""

    permitted: list[dict[type, list[x509.GeneralName]]] = field(default_factory=list)
    """One entry per constraining CA: name form → its permitted subtrees."""
    excluded: dict[type, list[x509.GeneralName]] = field(default_factory=dict)
    """Union of excluded subtrees, by name form."""

    def add(self, constraints: x509.NameConstraints) -> None:
        """RFC 5280 §6.1.4 (g): fold in one CA's nameConstraints."""
        if constraints.permitted_subtrees:
            by_type: dict[type, list[x509.GeneralName]] = {}
            for base in constraints.permitted_subtrees:
                by_type.setdefault(_type_of(base), []).append(base)
            self.permitted.append(by_type)
        for base in constraints.excluded_subtrees or ():
            self.excluded.setdefault(_type_of(base), []).append(base)

    @property
    def empty(self) -> bool:
        """No constraint has been seen yet (the common case: skip all work)."""
        return not self.permitted and not self.excluded

    def check(self, info: CertInfo) -> str | None:
        """RFC 5280 §6.1.3 (b)-(c): None if ``info``'s names are allowed, else why not."""
        names: list[tuple[x509.GeneralName, NameKey | None]] = []
        if info.subject_key:
            names.append((x509.DirectoryName(info.cert.subject), info.subject_key))
        san = info.san or ()
        names.extend(
            (n, name_key(n.value) if isinstance(n, x509.DirectoryName) else None) for n in san
        )
        if not any(isinstance(n, x509.RFC822Name) for n in san):
            # RFC 5280 §4.2.1.10: without an rfc822Name in subjectAltName, e-mail
            # addresses in the subject DN are checked against rfc822Name constraints.
            names.extend((x509.RFC822Name(m), None) for m in info.emails_in_dn)
        for name, dn in names:
            kind = _type_of(name)
            for base in self.excluded.get(kind, ()):
                if kind not in _SUPPORTED or _within(name, base, dn):
                    return f"name {_show(name)} is in an excluded subtree ({_show(base)})"
            for level in self.permitted:
                bases = level.get(kind)
                if bases is None:
                    continue
                if kind not in _SUPPORTED or not any(_within(name, b, dn) for b in bases):
                    return f"name {_show(name)} is not in the permitted subtrees"
        return None


def _show(name: x509.GeneralName) -> str:
    if isinstance(name, x509.DirectoryName):
        return name.value.rfc4514_string()
    return f"{type(name).__name__}:{name.value}"
