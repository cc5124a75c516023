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

__all__ = ["MAX_NAME_CHECKS", "NameConstraintState", "valid_host"]

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


_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
MAX_NAME_CHECKS = 1 << 16
"""Most (name, subtree) comparisons one certificate may cost (names times subtrees).
Real certificates need a few dozen; more is refused as a denial of service."""


def valid_host(host: str, *, wildcard: bool = False) -> bool:
    """A DNS name in preferred name syntax (RFC 5280 §4.2.1.6, RFC 1034 §3.5, digits
    first allowed by RFC 1123 §2.1), not an IPv4 address written as one, with an
    optional wildcard label ``*`` as the whole leftmost label when ``wildcard``."""
    if not host or len(host) > 253 or _is_ip(host):
        return False
    labels = host.lower().split(".")
    if wildcard and labels[0] == "*" and len(labels) > 1:
        labels = labels[1:]
    return all(
        0 < len(label) <= 63 and not label.startswith("-") and not label.endswith("-")
        and set(label) <= _LABEL_CHARS
        for label in labels
    )


def _host_within(host: str, base: str) -> bool:
    # dNSName: "example.com" covers itself and every subdomain (RFC 5280 §4.2.1.10).
    # A leading "." (URI and rfc822 host forms) covers subdomains only.
    host = host.lower()
    base = base.lower()
    if not base:
        return True
    if base.startswith("."):
        return host.endswith(base)
    return host == base or host.endswith("." + base)


def _wildcard_overlaps(rest: str, base: str) -> bool:
    """Could a name matched by ``*.rest`` (one label, then ``rest``) fall inside ``base``?"""
    base = base.lower()
    if _host_within(rest, base.lstrip(".")):
        return True  # every name it matches is inside
    # "bad.rest": the wildcard matches that very host ("x.bad.rest" it cannot match).
    head, _, tail = base.partition(".")
    return bool(head) and tail == rest


def _dns_problem(name: str, bases: list[x509.GeneralName]) -> str | None:
    if not valid_host(name, wildcard=True):
        return f"dNSName {name!r} is not a valid host name"
    for base in bases:
        # A dNSName constraint is a host name: "example.vn" covers it and its
        # subdomains. A leading period is not dNSName syntax (it is the URI and
        # rfc822Name form), so it is refused rather than guessed at.
        text = str(base.value)
        if text and not valid_host(text):
            return f"dNSName constraint {text!r} is not a valid host name"
    return None


def _valid_mailbox(mail: str) -> bool:
    local, at, host = mail.rpartition("@")
    return bool(at and local and "@" not in local and not local.startswith(".")
                and not local.endswith(".") and ".." not in local
                and all(33 <= ord(c) < 127 for c in local) and valid_host(host))


def _mail_problem(name: str, bases: list[x509.GeneralName]) -> str | None:
    if not _valid_mailbox(name):
        return f"rfc822Name {name!r} is not a valid mailbox"
    for base in bases:
        text = str(base.value)
        ok = _valid_mailbox(text) if "@" in text else valid_host(text.removeprefix("."))
        if not ok:
            return f"rfc822Name constraint {text!r} is malformed"
    return None


def _mail_within(mail: str, base: str) -> bool:
    # rfc822Name constraints: a full mailbox, a host ("example.com": that host only), or a
    # domain (".example.com": any host below it) — RFC 5280 §4.2.1.10. The local part
    # is case-sensitive (RFC 5321 §2.4), the host is not.
    if "@" in base:
        local, _, host = mail.rpartition("@")
        b_local, _, b_host = base.rpartition("@")
        return local == b_local and host.lower() == b_host.lower()
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

    def check(self, info: CertInfo) -> tuple[str, str] | None:
        """RFC 5280 §6.1.3 (b)-(c): None if ``info``'s names are allowed, else the rule
        id and why not."""
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
        cost = len(names) * (
            sum(len(v) for v in self.excluded.values())
            + sum(len(v) for level in self.permitted for v in level.values())
        )
        if cost > MAX_NAME_CHECKS:
            return ("name-constraints-budget",
                    f"{len(names)} names against the path's name constraints would take "
                    f"{cost:,} comparisons (at most {MAX_NAME_CHECKS:,}): refused rather "
                    "than risk a denial of service")
        for name, dn in names:
            kind = _type_of(name)
            excluded = self.excluded.get(kind, [])
            constraining = [lv[kind] for lv in self.permitted if kind in lv]
            if not excluded and not constraining:
                continue
            if kind not in _SUPPORTED:
                # §4.2.1.10: a constrained form we cannot process must be rejected.
                return ("name-constraints",
                        f"name {_show(name)} is of a form whose constraints signsvc "
                        "cannot process")
            problem = _syntax_problem(name, [*excluded, *(b for lv in constraining for b in lv)])
            if problem is not None:
                return ("name-constraints", f"cannot be checked: {problem}")
            for base in excluded:
                if _excluded(name, base, dn):
                    return ("name-constraints",
                            f"name {_show(name)} is in an excluded subtree ({_show(base)})")
            for bases in constraining:
                if not any(_within(name, b, dn) for b in bases):
                    return ("name-constraints",
                            f"name {_show(name)} is not in the permitted subtrees")
        return None


def _syntax_problem(name: x509.GeneralName, bases: list[x509.GeneralName]) -> str | None:
    """Why ``name`` or a constraint on its form cannot be compared, if it cannot: a
    malformed name could otherwise slip past a subtree it belongs to."""
    if isinstance(name, x509.DNSName):
        return _dns_problem(name.value, bases)
    if isinstance(name, x509.RFC822Name):
        return _mail_problem(name.value, bases)
    if isinstance(name, x509.UniformResourceIdentifier):
        host = urlsplit(name.value).hostname
        if host and not valid_host(host) and not _is_ip(host):
            return f"URI {name.value!r} has an invalid host"
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _excluded(name: x509.GeneralName, base: x509.GeneralName, dn: NameKey | None) -> bool:
    if isinstance(name, x509.DNSName) and isinstance(base, x509.DNSName):
        host = name.value.lower()
        if host.startswith("*."):
            # A wildcard is excluded when any name it matches would be (RFC 6125 §6.4.3
            # matching; RFC 5280 §4.2.1.10 excludes each such name).
            return _wildcard_overlaps(host[2:], base.value)
    return _within(name, base, dn)


def _show(name: x509.GeneralName) -> str:
    if isinstance(name, x509.DirectoryName):
        return name.value.rfc4514_string()
    return f"{type(name).__name__}:{name.value}"
