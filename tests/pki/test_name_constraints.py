"""Name constraints (RFC 5280 §4.2.1.10, §6.1.3 (b)-(c)) over the subject and every
subjectAltName form, set in the root (RFC 5937) or in the CA, checked on the CA's own
names and the leaf's; malformed names and constraints; a work budget."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest
from cryptography import x509

from signsvc import SubIndication
from signsvc.pki._nameconstraints import MAX_NAME_CHECKS
from tests.support.rfc5280 import Chain, Tweak, dn

GN = x509.GeneralName


def _nc(permitted: Sequence[GN] = (), excluded: Sequence[GN] = ()) -> x509.NameConstraints:
    return x509.NameConstraints(list(permitted) or None, list(excluded) or None)


def _san(*names: GN) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName(list(names))


def _ip(text: str) -> x509.IPAddress:
    return x509.IPAddress(ipaddress.ip_network(text) if "/" in text
                          else ipaddress.ip_address(text))


def _leaf_under(constraints: x509.NameConstraints, *names: GN, where: str = "ca",
                subject: x509.Name | None = None) -> Chain:
    holder = Tweak(add=[(constraints, True)])
    leaf = Tweak(add=[(_san(*names), subject is not None and len(subject) == 0)]
                 if names else [], subject=subject)
    return Chain.make(**{where: holder}, leaf=leaf)  # type: ignore[arg-type]


# (constraints, SAN of the leaf, accepted?)
CASES: list[tuple[str, x509.NameConstraints, list[GN], bool]] = [
    ("dns permitted, inside", _nc([x509.DNSName("example.vn")]),
     [x509.DNSName("a.b.example.vn")], True),
    ("dns permitted, the base itself", _nc([x509.DNSName("example.vn")]),
     [x509.DNSName("example.vn")], True),
    ("dns permitted, suffix is not a label", _nc([x509.DNSName("example.vn")]),
     [x509.DNSName("badexample.vn")], False),
    ("dns permitted, outside", _nc([x509.DNSName("example.vn")]),
     [x509.DNSName("example.com")], False),
    ("dns permitted, case-insensitive", _nc([x509.DNSName("Example.VN")]),
     [x509.DNSName("www.EXAMPLE.vn")], True),
    ("dns excluded", _nc(excluded=[x509.DNSName("bad.example.vn")]),
     [x509.DNSName("x.bad.example.vn")], False),
    ("dns excluded, sibling fine", _nc(excluded=[x509.DNSName("bad.example.vn")]),
     [x509.DNSName("good.example.vn")], True),
    ("dns one bad name of several", _nc([x509.DNSName("example.vn")]),
     [x509.DNSName("www.example.vn"), x509.DNSName("evil.com")], False),
    ("wildcard SAN covering an excluded host", _nc(excluded=[x509.DNSName("bad.example.vn")]),
     [x509.DNSName("*.example.vn")], False),
    ("wildcard SAN inside an excluded domain", _nc(excluded=[x509.DNSName("example.vn")]),
     [x509.DNSName("*.example.vn")], False),
    ("wildcard SAN cannot reach a deeper excluded host",
     _nc(excluded=[x509.DNSName("a.bad.example.vn")]), [x509.DNSName("*.example.vn")], True),
    ("wildcard SAN inside permitted", _nc([x509.DNSName("example.vn")]),
     [x509.DNSName("*.example.vn")], True),
    ("wildcard SAN wider than permitted", _nc([x509.DNSName("www.example.vn")]),
     [x509.DNSName("*.example.vn")], False),
    ("malformed SAN: leading period", _nc([x509.DNSName("example.vn")]),
     [x509.DNSName(".example.vn")], False),
    ("malformed SAN: inner wildcard", _nc(excluded=[x509.DNSName("bad.example.vn")]),
     [x509.DNSName("a.*.example.vn")], False),
    ("malformed SAN: empty label", _nc([x509.DNSName("example.vn")]),
     [x509.DNSName("a..example.vn")], False),
    ("ipv4 permitted", _nc([_ip("10.0.0.0/8")]), [_ip("10.9.8.7")], True),
    ("ipv4 outside", _nc([_ip("10.0.0.0/8")]), [_ip("11.0.0.1")], False),
    ("ipv4 excluded", _nc(excluded=[_ip("192.168.0.0/16")]), [_ip("192.168.1.1")], False),
    ("ipv6 permitted", _nc([_ip("2001:db8::/32")]), [_ip("2001:db8::5")], True),
    ("ipv6 excluded", _nc(excluded=[_ip("2001:db8:bad::/48")]), [_ip("2001:db8:bad::1")],
     False),
    # iPAddress is one name form: an IPv6-only permit leaves no room for IPv4 names,
    # and an IPv4-mapped IPv6 address is not inside an IPv4 subtree (fail closed).
    ("ipv4 name against an ipv6-only permit", _nc([_ip("::/0")]), [_ip("10.0.0.1")], False),
    ("mapped ipv4 is not the ipv4 subtree", _nc([_ip("10.0.0.0/8")]),
     [_ip("::ffff:10.0.0.1")], False),
    ("email mailbox permitted", _nc([x509.RFC822Name("vanthu@example.vn")]),
     [x509.RFC822Name("vanthu@example.vn")], True),
    ("email mailbox, other local part", _nc([x509.RFC822Name("vanthu@example.vn")]),
     [x509.RFC822Name("admin@example.vn")], False),
    ("email local part is case-sensitive", _nc([x509.RFC822Name("vanthu@example.vn")]),
     [x509.RFC822Name("VanThu@example.vn")], False),
    ("email host", _nc([x509.RFC822Name("example.vn")]),
     [x509.RFC822Name("a@example.vn")], True),
    ("email host excludes subdomains", _nc([x509.RFC822Name("example.vn")]),
     [x509.RFC822Name("a@mail.example.vn")], False),
    ("email domain form", _nc([x509.RFC822Name(".example.vn")]),
     [x509.RFC822Name("a@mail.example.vn")], True),
    ("email excluded host", _nc(excluded=[x509.RFC822Name("evil.vn")]),
     [x509.RFC822Name("x@evil.vn")], False),
    ("malformed email SAN", _nc([x509.RFC822Name("example.vn")]),
     [x509.RFC822Name("no-at-sign.example.vn")], False),
    ("malformed email SAN, empty local part", _nc(excluded=[x509.RFC822Name("evil.vn")]),
     [x509.RFC822Name("@evil.vn")], False),
    ("dirName SAN permitted", _nc([x509.DirectoryName(dn("x", o="signsvc RFC 5280 tests"))
                                   ]), [], True),
    ("dirName SAN excluded", _nc(excluded=[x509.DirectoryName(x509.Name([
        x509.NameAttribute(x509.oid.NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(x509.oid.NameOID.ORGANIZATION_NAME, "Evil")]))]),
     [x509.DirectoryName(x509.Name([
         x509.NameAttribute(x509.oid.NameOID.COUNTRY_NAME, "VN"),
         x509.NameAttribute(x509.oid.NameOID.ORGANIZATION_NAME, "Evil"),
         x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "x")]))], False),
    ("other forms unconstrained", _nc([x509.DNSName("example.vn")]),
     [x509.RFC822Name("a@anywhere.com"), _ip("8.8.8.8")], True),
]


@pytest.mark.parametrize("where", ["ca", "root"])
@pytest.mark.parametrize(("label", "constraints", "names", "ok"), CASES,
                         ids=[c[0] for c in CASES])
def test_constraint_on_leaf_names(label: str, constraints: x509.NameConstraints,
                                  names: list[GN], ok: bool, where: str) -> None:
    if label.startswith("dirName SAN permitted"):
        # The permitted dirName is a prefix of every test subject (C=VN, O=...).
        constraints = _nc([x509.DirectoryName(x509.Name(list(dn("x"))[:2]))])
    result = _leaf_under(constraints, *names, where=where).validate()
    assert result.valid is ok, result.reason
    if not ok:
        assert result.rule == "name-constraints", result.reason
        assert result.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
        assert result.failed_index == 2


def test_root_constraint_binds_the_ca_own_san() -> None:
    # The CA's own subjectAltName is checked against the root's constraints (§6.1.3 (b)
    # applies to every certificate but self-issued intermediates).
    chain = Chain.make(
        root=Tweak(add=[(_nc([x509.DNSName("example.vn")]), True)]),
        ca=Tweak(add=[(_san(x509.DNSName("ca.example.com")), False)]))
    result = chain.validate()
    assert result.rule == "name-constraints" and result.failed_index == 1, result.reason


def test_constraints_of_root_and_ca_both_apply() -> None:
    chain = Chain.make(
        root=Tweak(add=[(_nc([x509.DNSName("example.vn")]), True)]),
        ca=Tweak(add=[(_nc([x509.DNSName("example.com")]), True)]),
        leaf=Tweak(add=[(_san(x509.DNSName("www.example.vn")), False)]))
    result = chain.validate()
    assert result.rule == "name-constraints", result.reason  # outside the CA's subtree


def test_subject_email_checked_when_no_rfc822_san() -> None:
    subject = x509.Name([*dn("leaf"), x509.NameAttribute(
        x509.oid.NameOID.EMAIL_ADDRESS, "x@evil.vn")])
    chain = _leaf_under(_nc(excluded=[x509.RFC822Name("evil.vn")]), subject=subject)
    assert chain.validate().rule == "name-constraints"


def test_empty_subject_with_san_checked() -> None:
    chain = _leaf_under(_nc([x509.DNSName("example.vn")]), x509.DNSName("x.example.com"),
                        subject=x509.Name([]))
    result = chain.validate()
    assert result.rule == "name-constraints", result.reason


def test_pathological_sizes_refused_within_the_budget() -> None:
    bases = [x509.DNSName(f"d{i}.example.vn") for i in range(600)]
    names = [x509.DNSName(f"h{i}.d{i % 600}.example.vn") for i in range(200)]
    assert 600 * 200 > MAX_NAME_CHECKS
    chain = _leaf_under(_nc(excluded=bases), *names)
    result = chain.validate()
    assert not result.valid
    assert result.rule == "name-constraints-budget", result.reason
    assert "comparisons" in result.reason


def test_just_under_the_budget_is_checked_normally() -> None:
    bases = [x509.DNSName(f"d{i}.example.vn") for i in range(100)]
    names = [x509.DNSName(f"h{i}.ok.vn") for i in range(100)]
    assert 100 * 101 <= MAX_NAME_CHECKS  # the subject DN counts as one more name
    result = _leaf_under(_nc(excluded=bases), *names).validate()
    assert result.valid, result.reason


def test_wildcard_in_a_dns_constraint_is_refused() -> None:
    # permittedSubtrees { dNSName "*.example.vn" }, written raw: cryptography's builder
    # will not write it. Refused whether the parser or the name check sees it first.
    host = b"*.example.vn"
    subtree = b"\x30" + bytes([len(host) + 2]) + b"\x82" + bytes([len(host)]) + host
    permitted = b"\xa0" + bytes([len(subtree)]) + subtree
    raw = x509.UnrecognizedExtension(x509.oid.ExtensionOID.NAME_CONSTRAINTS,
                                     b"\x30" + bytes([len(permitted)]) + permitted)
    chain = Chain.make(ca=Tweak(add=[(raw, True)]),
                       leaf=Tweak(add=[(_san(x509.DNSName("www.example.vn")), False)]))
    result = chain.validate()
    assert not result.valid
    assert result.rule in ("name-constraints", "malformed-certificate"), result.reason
    assert result.failed_index in (1, 2)


def test_leading_period_dns_constraint_is_refused() -> None:
    # ".example.vn" is the URI/rfc822Name form; as a dNSName constraint it is malformed.
    chain = _leaf_under(_nc([x509.DNSName(".example.vn")]), x509.DNSName("www.example.vn"))
    result = chain.validate()
    assert result.rule == "name-constraints", result.reason
    assert "not a valid host name" in result.reason


def test_an_unparseable_ip_constraint_is_a_verdict_not_a_crash() -> None:
    # iPAddress constraint of 5 octets: cryptography raises TypeError when reading it.
    # As an intermediate in the pool, or as the anchor, it must not break validation.
    subtree = b"\x30\x07\x87\x05\x0a\x00\x00\x00\xff"
    raw = x509.UnrecognizedExtension(x509.oid.ExtensionOID.NAME_CONSTRAINTS,
                                     b"\x30\x0b\xa0\x09" + subtree)
    bad = Chain.make(ca=Tweak(add=[(raw, True)]))
    result = bad.validate()
    assert not result.valid
    assert result.rule == "malformed-certificate" and result.failed_index == 1, result.reason
    from signsvc import TrustStore
    bad_root = Chain.make(root=Tweak(add=[(raw, True)]))
    store = TrustStore.from_certificates([bad_root.root])  # does not raise
    assert len(store) == 1
    good = Chain.make()
    assert good.validate().valid
    from signsvc import validate_chain
    from tests.support.rfc5280 import AT
    mixed = validate_chain(good.leaf, intermediates=[good.ca, bad.ca], at=AT,
                           trust=TrustStore.from_certificates([good.root]), revocation="off")
    assert mixed.valid, mixed.reason
