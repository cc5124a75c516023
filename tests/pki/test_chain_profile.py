"""RFC 5280 §4 certificate profile rules and the trust anchor's own constraints
(RFC 5937 §3): one refusal per rule, each with a conforming neighbour that passes.

The chains are made here (tests/support/rfc5280.py) from the test PKI's keys; every
case changes one thing in an otherwise conforming root → CA → leaf chain.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from signsvc import SubIndication
from signsvc.pki.algorithms import DEFAULT_POLICY
from signsvc.pki.chain import CHAIN_RULES
from tests.support.rfc5280 import Chain, Tweak, dn

_KEYID = x509.SubjectKeyIdentifier(b"\x01" * 20)
_AIA = x509.AuthorityInformationAccess([x509.AccessDescription(
    AuthorityInformationAccessOID.CA_ISSUERS,
    x509.UniformResourceIdentifier("http://127.0.0.1/ca.crt"))])
_SIA = x509.SubjectInformationAccess([x509.AccessDescription(
    x509.oid.SubjectInformationAccessOID.CA_REPOSITORY,
    x509.UniformResourceIdentifier("http://127.0.0.1/repo/"))])
_NC = x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.vn")],
                           excluded_subtrees=None)
_PC = x509.PolicyConstraints(require_explicit_policy=None, inhibit_policy_mapping=5)
_SAN = x509.SubjectAlternativeName([x509.RFC822Name("vanthu@example.vn")])
_KU_LEAF_SIGN_CERTS = x509.KeyUsage(True, False, False, False, False, True, False, False, False)
_KU_CA_NO_SIGN = x509.KeyUsage(True, False, False, False, False, False, True, False, False)
_UNKNOWN_CRITICAL = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"),
                                               b"\x05\x00")


@dataclass(frozen=True)
class Case:
    """One rule: the chain that breaks it, and a conforming neighbour."""

    rule: str
    index: int
    """Which certificate is at fault: 0 root, 1 CA, 2 leaf."""
    bad: dict[str, Tweak]
    good: dict[str, Tweak]
    relaxable: bool = False


CASES = [
    Case("serial-number-not-positive", 2, {"leaf": Tweak(serial=0)},
         {"leaf": Tweak(serial=1)}, relaxable=True),
    Case("serial-number-not-positive", 1, {"ca": Tweak(serial=-5)},
         {"ca": Tweak(serial=5)}, relaxable=True),
    # 20 octets: a 159-bit value fits; a 160-bit one needs a 21st (sign) octet.
    Case("serial-number-too-long", 2, {"leaf": Tweak(serial=1 << 159)},
         {"leaf": Tweak(serial=(1 << 159) - 1)}, relaxable=True),
    Case("authority-key-identifier-missing", 2, {"leaf": Tweak(drop=[x509.AuthorityKeyIdentifier])},
         # A self-signed root may omit it.
         {"root": Tweak(drop=[x509.AuthorityKeyIdentifier])}, relaxable=True),
    Case("authority-key-identifier-missing", 1,
         {"ca": Tweak(add=[(x509.AuthorityKeyIdentifier(None, [x509.DirectoryName(dn("R"))], 1),
                            False)])},
         {"ca": Tweak()}, relaxable=True),
    Case("authority-key-identifier-critical", 2,
         {"leaf": Tweak(add=[(x509.AuthorityKeyIdentifier(b"\x02" * 20, None, None), True)])},
         {"leaf": Tweak(add=[(x509.AuthorityKeyIdentifier(b"\x02" * 20, None, None), False)])}),
    Case("subject-key-identifier-missing", 1, {"ca": Tweak(drop=[x509.SubjectKeyIdentifier])},
         # An end-entity certificate SHOULD (not MUST) carry one.
         {"leaf": Tweak(drop=[x509.SubjectKeyIdentifier])}, relaxable=True),
    Case("subject-key-identifier-missing", 0, {"root": Tweak(drop=[x509.SubjectKeyIdentifier])},
         {"root": Tweak()}, relaxable=True),
    Case("subject-key-identifier-critical", 2, {"leaf": Tweak(add=[(_KEYID, True)])},
         {"leaf": Tweak(add=[(_KEYID, False)])}),
    Case("ca-subject-empty", 1,
         {"ca": Tweak(subject=x509.Name([]),
                      add=[(x509.SubjectAlternativeName([x509.DNSName("ca.example.vn")]), True)])},
         {"ca": Tweak(add=[(x509.SubjectAlternativeName([x509.DNSName("ca.example.vn")]), True)])}),
    Case("subject-empty-without-san", 2, {"leaf": Tweak(subject=x509.Name([]))},
         {"leaf": Tweak(subject=x509.Name([]), add=[(_SAN, True)])}),
    Case("san-not-critical-with-empty-subject", 2,
         {"leaf": Tweak(subject=x509.Name([]), add=[(_SAN, False)])},
         {"leaf": Tweak(add=[(_SAN, False)])}),
    Case("key-cert-sign-without-ca", 2, {"leaf": Tweak(add=[(_KU_LEAF_SIGN_CERTS, True)])},
         {"leaf": Tweak()}),
    Case("basic-constraints-not-critical", 1,
         {"ca": Tweak(add=[(x509.BasicConstraints(ca=True, path_length=None), False)])},
         {"ca": Tweak()}, relaxable=True),
    Case("basic-constraints-not-critical", 0,
         {"root": Tweak(add=[(x509.BasicConstraints(ca=True, path_length=None), False)])},
         {"root": Tweak()}, relaxable=True),
    # A CA certificate used as the end entity, with pathLenConstraint but no keyCertSign.
    Case("path-length-without-key-cert-sign", 2,
         {"leaf": Tweak(add=[(x509.BasicConstraints(ca=True, path_length=0), True)])},
         {"leaf": Tweak(add=[(x509.BasicConstraints(ca=True, path_length=None), True)])}),
    # cryptography's parser itself refuses basicConstraints {cA FALSE, pathLen 0}: the
    # certificate is refused as malformed, naming the reason.
    Case("malformed-certificate", 2,
         {"leaf": Tweak(add=[(x509.UnrecognizedExtension(
             x509.oid.ExtensionOID.BASIC_CONSTRAINTS, b"\x30\x03\x02\x01\x00"), True)])},
         {"leaf": Tweak(add=[(x509.BasicConstraints(ca=False, path_length=None), True)])}),
    Case("name-constraints-in-end-entity", 2, {"leaf": Tweak(add=[(_NC, True)])},
         {"ca": Tweak(add=[(_NC, True)]), "leaf": Tweak(add=[(x509.SubjectAlternativeName(
             [x509.DNSName("www.example.vn")]), False)])}),
    Case("name-constraints-not-critical", 1, {"ca": Tweak(add=[(_NC, False)])},
         {"ca": Tweak(add=[(_NC, True)])}),
    Case("policy-constraints-not-critical", 1, {"ca": Tweak(add=[(_PC, False)])},
         {"ca": Tweak(add=[(_PC, True)])}, relaxable=True),
    Case("authority-information-access-critical", 2, {"leaf": Tweak(add=[(_AIA, True)])},
         {"leaf": Tweak(add=[(_AIA, False)])}),
    Case("subject-information-access-critical", 1, {"ca": Tweak(add=[(_SIA, True)])},
         {"ca": Tweak(add=[(_SIA, False)])}),
    Case("san-dns-name-syntax", 2,
         {"leaf": Tweak(add=[(x509.SubjectAlternativeName(
             [x509.DNSName("van_thu.example.vn")]), False)])},
         {"leaf": Tweak(add=[(x509.SubjectAlternativeName(
             [x509.DNSName("*.van-thu.example.vn")]), False)])}, relaxable=True),
    Case("san-dns-name-syntax", 2,
         {"leaf": Tweak(add=[(x509.SubjectAlternativeName([x509.DNSName("8.8.8.8")]),
                              False)])},
         {"leaf": Tweak(add=[(x509.SubjectAlternativeName([x509.DNSName("8a.example.vn")]),
                              False)])}, relaxable=True),
    # -- the trust anchor's own constraints (RFC 5937 §3) ------------------------------
    Case("trust-anchor-expired", 0, {"root": Tweak(not_after=datetime(2026, 1, 1, tzinfo=UTC))},
         {"root": Tweak(not_after=datetime(2026, 12, 31, tzinfo=UTC))}),
    Case("trust-anchor-not-yet-valid", 0,
         {"root": Tweak(not_before=datetime(2026, 7, 1, tzinfo=UTC))},
         {"root": Tweak(not_before=datetime(2026, 5, 1, tzinfo=UTC))}),
    Case("trust-anchor-not-ca", 0, {"root": Tweak(drop=[x509.BasicConstraints])},
         {"root": Tweak()}),
    Case("trust-anchor-not-ca", 0,
         {"root": Tweak(add=[(x509.BasicConstraints(ca=False, path_length=None), True)],
                        drop=[x509.KeyUsage])},
         {"root": Tweak(drop=[x509.KeyUsage])}),
    Case("trust-anchor-key-usage", 0, {"root": Tweak(add=[(_KU_CA_NO_SIGN, True)])},
         {"root": Tweak(drop=[x509.KeyUsage])}),
    Case("trust-anchor-unknown-critical-extension", 0,
         {"root": Tweak(add=[(_UNKNOWN_CRITICAL, True)])},
         {"root": Tweak(add=[(_UNKNOWN_CRITICAL, False)])}),
    Case("path-length", 1,
         {"root": Tweak(add=[(x509.BasicConstraints(ca=True, path_length=0), True)])},
         {"root": Tweak(add=[(x509.BasicConstraints(ca=True, path_length=1), True)])}),
    # An empty extendedKeyUsage SEQUENCE: cryptography refuses to parse it (SIZE (1..MAX)).
    Case("malformed-certificate", 2,
         {"leaf": Tweak(add=[(x509.UnrecognizedExtension(
             x509.oid.ExtensionOID.EXTENDED_KEY_USAGE, b"\x30\x00"), False)])},
         {"leaf": Tweak(add=[(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                              False)])}),
]


def _ident(case: Case) -> str:
    return f"{case.rule}@{case.index}"


def _chain(tweaks: dict[str, Tweak]) -> Chain:
    return Chain.make(**tweaks)


@pytest.mark.parametrize("case", CASES, ids=_ident)
def test_rule_refuses_and_names_itself(case: Case) -> None:
    try:
        chain = _chain(case.bad)
    except ValueError as exc:  # pragma: no cover - the builder refuses some encodings
        pytest.fail(f"cannot build the case: {exc}")
    result = chain.validate()
    assert not result.valid, f"{case.rule} accepted: {result.reason}"
    assert result.rule == case.rule, result.reason
    assert result.failed_index == case.index, result.reason
    assert result.failed_certificate == result.path[case.index]
    if case.rule not in ("path-length", "malformed-certificate"):  # classic §6 wording
        assert CHAIN_RULES[case.rule].section in result.reason
    assert result.to_json()["rule"] == case.rule


@pytest.mark.parametrize("case", CASES, ids=_ident)
def test_conforming_neighbour_passes(case: Case) -> None:
    result = _chain(case.good).validate()
    assert result.valid, result.reason
    assert result.rule is None


@pytest.mark.parametrize("case", CASES, ids=_ident)
def test_historical_relaxes_only_what_old_cas_broke(case: Case) -> None:
    result = _chain(case.bad).validate(policy="historical")
    if case.relaxable:
        assert result.valid, result.reason
        assert any(CHAIN_RULES[case.rule].section in n and "historical" in n
                   for n in result.notes), result.notes
    else:
        assert not result.valid
        assert result.rule == case.rule


def test_the_default_chain_conforms() -> None:
    result = Chain.make().validate()
    assert result.valid, result.reason
    assert result.notes == () and result.algorithm_notes == ()


def test_anchor_name_constraints_bind_the_whole_path() -> None:
    permitted = x509.NameConstraints([x509.DNSName("example.vn")], None)
    san_out = x509.SubjectAlternativeName([x509.DNSName("www.example.com")])
    san_in = x509.SubjectAlternativeName([x509.DNSName("www.example.vn")])
    bad = Chain.make(root=Tweak(add=[(permitted, True)]), leaf=Tweak(add=[(san_out, False)]))
    result = bad.validate()
    assert result.rule == "name-constraints" and result.failed_index == 2, result.reason
    assert "www.example.com" in result.reason
    good = Chain.make(root=Tweak(add=[(permitted, True)]), leaf=Tweak(add=[(san_in, False)]))
    assert good.validate().valid


def test_anchor_excluded_directory_name_reaches_the_ca() -> None:
    excluded = x509.NameConstraints(None, [x509.DirectoryName(dn("RFC 5280 Test CA"))])
    result = Chain.make(root=Tweak(add=[(excluded, True)])).validate()
    assert result.rule == "name-constraints" and result.failed_index == 1, result.reason


def test_anchor_ip_constraints_v4_and_v6() -> None:
    nets = x509.NameConstraints(
        [x509.IPAddress(ipaddress.ip_network("10.0.0.0/8")),
         x509.IPAddress(ipaddress.ip_network("fd00::/8"))], None)
    for address, ok in (("10.1.2.3", True), ("192.168.1.1", False), ("fd00::1", True),
                        ("2001:db8::1", False)):
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))])
        result = Chain.make(root=Tweak(add=[(nets, True)]), leaf=Tweak(add=[(san, False)])
                            ).validate()
        assert result.valid is ok, (address, result.reason)


def test_a_directly_trusted_expired_certificate_is_refused() -> None:
    chain = Chain.make(root=Tweak(not_after=datetime(2026, 1, 1, tzinfo=UTC)))
    from signsvc import TrustStore, validate_chain
    result = validate_chain(chain.root, trust=TrustStore.from_certificates([chain.root]),
                            at=datetime(2026, 6, 1, tzinfo=UTC), revocation="off")
    assert result.rule == "trust-anchor-expired", result.reason
    assert result.sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE


def test_accepted_breach_is_pinned_to_one_certificate() -> None:
    bad = Chain.make(leaf=Tweak(add=[(_KU_LEAF_SIGN_CERTS, True)]))
    from cryptography.hazmat.primitives import hashes
    fingerprint = bad.leaf.fingerprint(hashes.SHA256()).hex().upper()
    policy = replace(DEFAULT_POLICY, name="pinned",
                     accepted_breaches=frozenset({(fingerprint, "key-cert-sign-without-ca")}))
    accepted = bad.validate(policy=policy)
    assert accepted.valid, accepted.reason
    assert any("known breach" in n for n in accepted.notes)
    # Another certificate with the same breach is not covered by the pin.
    other = Chain.make(leaf=Tweak(add=[(_KU_LEAF_SIGN_CERTS, True)], serial=77))
    assert other.validate(policy=policy).rule == "key-cert-sign-without-ca"


def test_every_rule_id_is_documented() -> None:
    assert all(rule.section.startswith(("RFC", "signsvc")) for rule in CHAIN_RULES.values())
    assert {c.rule for c in CASES} <= set(CHAIN_RULES)


def _crl(issuer: x509.Certificate, signer: object, *, critical_number: bool
         ) -> x509.CertificateRevocationList:
    from cryptography.hazmat.primitives import hashes
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer.subject)
               .last_update(datetime(2026, 5, 1, tzinfo=UTC))
               .next_update(datetime(2026, 7, 1, tzinfo=UTC))
               .add_extension(x509.CRLNumber(7), critical=critical_number)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   signer.public_key()), critical=False))  # type: ignore[attr-defined]
    return builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]


def test_a_crl_with_critical_crl_number_is_not_used() -> None:
    from tests.support.chains import key
    chain = Chain.make()
    root_key, ca_key = key("gov-root-g2"), key("gov-ca-g2")
    good = [_crl(chain.ca, ca_key, critical_number=False),
            _crl(chain.root, root_key, critical_number=False)]
    assert chain.validate(crls=good, revocation="hard-fail").valid
    bad = [_crl(chain.ca, ca_key, critical_number=True), good[1]]
    result = chain.validate(crls=bad, revocation="hard-fail")
    assert result.sub_indication is SubIndication.TRY_LATER, result.reason
    assert result.rule == "revocation" and result.failed_index == 2
    assert "cRLNumber critical" in result.reason


def test_a_root_with_serial_zero_is_still_an_anchor() -> None:
    # Real roots with serial 0 exist; an anchor contributes its name and key.
    result = Chain.make(root=Tweak(serial=0)).validate()
    assert result.valid, result.reason
    assert any("trust anchor" in n and "§4.1.2.2" in n for n in result.notes), result.notes
    # Trusted directly, it is the end entity too, and the rule applies.
    from signsvc import TrustStore, validate_chain
    leafless = Chain.make(root=Tweak(serial=0)).root
    alone = validate_chain(leafless, trust=TrustStore.from_certificates([leafless]),
                           at=datetime(2026, 6, 1, tzinfo=UTC), revocation="off")
    assert alone.rule == "serial-number-not-positive", alone.reason


def test_a_time_inside_the_last_second_is_still_valid() -> None:
    end = datetime(2026, 6, 1, 0, 0, 0, tzinfo=UTC)
    chain = Chain.make(leaf=Tweak(not_after=end))
    assert chain.validate(at=end.replace(microsecond=5000)).valid
    later = chain.validate(at=end.replace(second=1))
    assert later.rule == "validity", later.reason


def test_self_issued_intermediates_do_not_count_towards_max_depth() -> None:
    from signsvc import TrustStore, validate_chain
    from tests.support.chains import ec_key, key
    from tests.support.rfc5280 import _build
    base = Chain.make()
    # Key rollover: the CA's new key, certified by its old key under the same name.
    new_key = ec_key(77)
    rollover = _build(base.ca.subject, base.ca.subject, new_key.public_key(),
                      key("gov-ca-g2"), key("gov-ca-g2").public_key(), ca=True, serial=9,
                      tweak=Tweak(), self_signed=False)
    leaf = _build(dn("Rolled-over leaf"), base.ca.subject, ec_key(78).public_key(), new_key,
                  new_key.public_key(), ca=False, serial=10, tweak=Tweak(), self_signed=False)
    store = TrustStore.from_certificates([base.root])
    result = validate_chain(leaf, intermediates=[base.ca, rollover], trust=store,
                            at=datetime(2026, 6, 1, tzinfo=UTC), revocation="off",
                            max_depth=1)
    assert result.valid, result.reason
    assert len(result.path) == 4
    refused = validate_chain(leaf, intermediates=[base.ca, rollover], trust=store,
                             at=datetime(2026, 6, 1, tzinfo=UTC), revocation="off",
                             max_depth=0)
    assert not refused.valid


def test_a_crl_without_crl_number_is_not_used() -> None:
    from cryptography.hazmat.primitives import hashes

    from tests.support.chains import key
    chain = Chain.make()
    root_key, ca_key = key("gov-root-g2"), key("gov-ca-g2")
    numberless = (x509.CertificateRevocationListBuilder().issuer_name(chain.ca.subject)
                  .last_update(datetime(2026, 5, 1, tzinfo=UTC))
                  .next_update(datetime(2026, 7, 1, tzinfo=UTC))
                  .sign(ca_key, hashes.SHA256()))
    result = chain.validate(crls=[numberless, _crl(chain.root, root_key, critical_number=False)],
                            revocation="hard-fail")
    assert result.sub_indication is SubIndication.TRY_LATER, result.reason
    assert "no cRLNumber" in result.reason
