"""Certificate profile rules (RFC 5280 §4): what a conforming certificate MUST be.

Path processing (RFC 5280 §6) checks how certificates relate; it does not check that
each certificate is well-formed for its role. A validator that skips §4 accepts, for
example, an end-entity certificate that asserts keyCertSign, a CA certificate without a
subjectKeyIdentifier, or a critical authorityInformationAccess. Each rule below is named
(:class:`Rule`), so a refusal says which one refused and where.

The rules depend only on the certificate's own contents, so they are evaluated once
per certificate and kept on its :class:`~signsvc.pki._x509.CertInfo` (a warm
validation pays nothing for them).

Some rules were broken by real CAs that are still relied on for old documents (early
government and public CAs issued CA certificates without key identifiers, and serial
numbers longer than 20 octets), or were not yet rules under RFC 3280 (policyConstraints
and basicConstraints "MAY" be non-critical there; NIST PKITS, written for RFC 3280, has
CA certificates of both kinds in valid paths, 4.6.4 and 4.8.x, and a negative serial
number in 4.4.15). Those are *relaxable*: under a policy with ``relax_profile`` (the
``historical`` policy) they become notes. Rules that protect the path's meaning (who
may issue, which names, which extensions must be understood) never relax.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from signsvc._i18n import text
from signsvc.pki._nameconstraints import valid_host

if TYPE_CHECKING:
    from signsvc.pki._x509 import CertInfo

__all__ = ["AUDITED_BREACHES", "RULES", "ProfileIssue", "Rule", "profile_issues"]


@dataclass(frozen=True)
class Rule:
    """One named requirement a certificate or path must meet."""

    id: str
    """Stable identifier, used in :attr:`signsvc.ChainResult.rule`."""
    section: str
    """Where the requirement is stated."""
    relaxable: bool = False
    """A ``relax_profile`` policy turns a breach into a note."""


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.id: r for r in rules}


RULES: dict[str, Rule] = _rules(
    # -- certificate profile (RFC 5280 §4) ---------------------------------------------
    Rule("serial-number-not-positive", "RFC 5280 §4.1.2.2", relaxable=True),
    Rule("serial-number-too-long", "RFC 5280 §4.1.2.2", relaxable=True),
    Rule("ca-subject-empty", "RFC 5280 §4.1.2.6"),
    Rule("subject-empty-without-san", "RFC 5280 §4.1.2.6, §4.2.1.6"),
    Rule("san-not-critical-with-empty-subject", "RFC 5280 §4.2.1.6"),
    Rule("san-empty", "RFC 5280 §4.2.1.6"),
    Rule("san-dns-name-syntax", "RFC 5280 §4.2.1.6", relaxable=True),
    Rule("authority-key-identifier-missing", "RFC 5280 §4.2.1.1", relaxable=True),
    Rule("authority-key-identifier-critical", "RFC 5280 §4.2.1.1"),
    Rule("subject-key-identifier-missing", "RFC 5280 §4.2.1.2", relaxable=True),
    Rule("subject-key-identifier-critical", "RFC 5280 §4.2.1.2"),
    Rule("key-usage-empty", "RFC 5280 §4.2.1.3"),
    Rule("key-cert-sign-without-ca", "RFC 5280 §4.2.1.3, §4.2.1.9"),
    Rule("basic-constraints-not-critical", "RFC 5280 §4.2.1.9", relaxable=True),
    Rule("path-length-without-key-cert-sign", "RFC 5280 §4.2.1.9"),
    Rule("name-constraints-in-end-entity", "RFC 5280 §4.2.1.10"),
    Rule("name-constraints-not-critical", "RFC 5280 §4.2.1.10"),
    Rule("name-constraints-empty", "RFC 5280 §4.2.1.10"),
    Rule("policy-constraints-not-critical", "RFC 5280 §4.2.1.11", relaxable=True),
    Rule("policy-constraints-empty", "RFC 5280 §4.2.1.11"),
    Rule("extended-key-usage-empty", "RFC 5280 §4.2.1.12"),
    Rule("authority-information-access-critical", "RFC 5280 §4.2.2.1"),
    Rule("subject-information-access-critical", "RFC 5280 §4.2.2.2"),
    Rule("extensions-in-old-version", "RFC 5280 §4.1.2.1"),
    Rule("malformed-certificate", "RFC 5280 §4.1"),
    # -- path processing (RFC 5280 §6, RFC 5937) ------------------------------------
    Rule("trust-anchor-not-ca", "RFC 5937 §3, RFC 5280 §4.2.1.9"),
    Rule("trust-anchor-expired", "RFC 5937 §3"),
    Rule("trust-anchor-not-yet-valid", "RFC 5937 §3"),
    Rule("trust-anchor-key-usage", "RFC 5937 §3, RFC 5280 §4.2.1.3"),
    Rule("trust-anchor-unknown-critical-extension", "RFC 5937 §3"),
    Rule("trust-anchor-key", "RFC 5280 §6.1.1 (d)"),
    Rule("signature", "RFC 5280 §6.1.3 (a)(1)"),
    Rule("algorithm", "RFC 5280 §6.1.3 (a)(1), ETSI TS 119 312"),
    Rule("validity", "RFC 5280 §6.1.3 (a)(2)"),
    Rule("name-constraints", "RFC 5280 §6.1.3 (b)-(c)"),
    Rule("name-constraints-budget", "RFC 5280 §6.1.3 (b)-(c)"),
    Rule("certificate-policies", "RFC 5280 §6.1.3 (d)-(f), §6.1.5"),
    Rule("unknown-critical-extension", "RFC 5280 §6.1.4 (o), §6.1.5 (f)"),
    Rule("extended-key-usage", "RFC 5280 §4.2.1.12"),
    Rule("not-a-ca", "RFC 5280 §6.1.4 (k)"),
    Rule("path-length", "RFC 5280 §6.1.4 (l)-(m)"),
    Rule("key-cert-sign", "RFC 5280 §6.1.4 (n)"),
    Rule("key-usage", "RFC 5280 §4.2.1.3"),
    Rule("public-key", "RFC 5280 §6.1.4 (d)-(f)"),
    Rule("revocation", "RFC 5280 §6.3"),
    Rule("no-path", "RFC 5280 §6.1"),
    Rule("work-budget", "signsvc: bounded work per validation"),
)


_NEAC_TSA = ("https://github.com/Dinhpham04/SignVerify/tree/"
             "f612111617b8a7d3682ddd2cdc9465efe87f0e85/trust/neac/public-ca-extracted/")

AUDITED_BREACHES: frozenset[tuple[str, str]] = frozenset(
    (fingerprint, "key-cert-sign-without-ca")
    for fingerprint, _subject, _where in (
        # The time-stamping certificates the Vietnam National Root CA issued to the
        # licensed CAs' TSAs (2023-2029) all set keyCertSign in an end-entity
        # certificate (cA FALSE). RFC 5280 §6.1.4 (k) already stops such a
        # certificate from issuing anything in a path, so accepting the bit on these
        # exact certificates (pinned by SHA-256, public copies under _NEAC_TSA) lets
        # real Vietnamese time-stamps validate without relaxing the rule for others.
        ("76413A7996A4ED77DC5406E98B4298A24EF8AECC929B554FB025552E41898EB1",
         "VNPT Certification Timestamping Authority",
         "VNPT_Certification_Timestamping_Authority/e1d64c28b47974a3038ac4296a37144d024677a8.crt"),
        ("7E4AA634318D0C2DAF0182B94B6B75D26CEC7DAB821CE3502BDB66745858E424",
         "Viettel-CA Timestamping",
         "Viettel-CA_Timestamping/b6a28b985807d73373236047c6553bed0158aff7.crt"),
        ("C54B8473B9DCA256A6D16939D65CD242D4C414D941EFF5710FE0A291BE547F8D",
         "Time Stamp CA2", "Time_Stamp_CA2/a79dfc9bbab8a0effee56c0c12fd5dc836ce2782.crt"),
        ("17C81E9AB51D4450E684861213B6B57BE34B9AD27909D6D5E013D629001862D0",
         "FPT Certification Authority Timestamping",
         "FPT_Certification_Authority_Timestamping/5a225f79564ce7dc735980fca9e908bf9b00f206.crt"),
        ("85FA4B233DC539861D00C7D857A4657E0E672A055191E8648F1A0517A5EF4897",
         "Intrust Time-Stamping Authority",
         "Intrust_Time-Stamping_Authority/1c522146d6438ed228913eba19247b871b10ca5e.crt"),
        ("D4937F5D2228B711DAEAC8A8B782338990A4C138283F8A38B2A984521EECE37A",
         "VNPAY-CA TSA", "VNPAY-CA_TSA/57d56705a6ab8f5902ae3e12847ee41cf5a96ee9.crt"),
    )
) | {
    # The FPT time-stamping certificate also marks authorityInformationAccess critical
    # (RFC 5280 §4.2.2.1: MUST be non-critical); signsvc reads AIA, so nothing is lost.
    ("17C81E9AB51D4450E684861213B6B57BE34B9AD27909D6D5E013D629001862D0",
     "authority-information-access-critical"),
}
"""(SHA-256 of the DER, rule id) pairs: profile breaches of real, audited certificates
that the default policy accepts with a note (:attr:`ValidationPolicy.accepted_breaches
<signsvc.pki.algorithms.ValidationPolicy.accepted_breaches>`)."""


@dataclass(frozen=True)
class ProfileIssue:
    """One profile rule a certificate breaks."""

    rule: Rule
    text: str
    """What is wrong, as the end of a sentence naming the certificate."""


_AKI = ExtensionOID.AUTHORITY_KEY_IDENTIFIER
_SKI = ExtensionOID.SUBJECT_KEY_IDENTIFIER
_BC = ExtensionOID.BASIC_CONSTRAINTS
_SAN = ExtensionOID.SUBJECT_ALTERNATIVE_NAME
_NC = ExtensionOID.NAME_CONSTRAINTS
_PC = ExtensionOID.POLICY_CONSTRAINTS
_AIA = ExtensionOID.AUTHORITY_INFORMATION_ACCESS
_SIA = ExtensionOID.SUBJECT_INFORMATION_ACCESS


def _serial_octets(serial: int) -> int:
    # DER INTEGER content length (two's complement, minimal): a positive value whose
    # top bit is set takes a leading zero octet, which RFC 5280 §4.1.2.2 counts.
    return serial.bit_length() // 8 + 1


def profile_issues(info: CertInfo) -> tuple[ProfileIssue, ...]:
    """Every RFC 5280 §4 rule ``info`` breaks (empty for a conforming certificate)."""
    cert = info.cert
    out: list[ProfileIssue] = []

    def add(rule: str, what: str) -> None:
        out.append(ProfileIssue(RULES[rule], what))

    serial = cert.serial_number
    if serial <= 0:
        add("serial-number-not-positive",
            text("has serial number {serial}, which is not positive", serial=serial))
    elif _serial_octets(serial) > 20:
        add("serial-number-too-long",
            text("has a serial number of {count} octets (at most 20)",
                 count=_serial_octets(serial)))
    try:
        extensions = cert.extensions
    except (ValueError, TypeError, x509.DuplicateExtension) as exc:
        add("malformed-certificate", text("has malformed extensions: {error}", error=str(exc)))
        return tuple(out)
    if len(extensions) and cert.version is not x509.Version.v3:
        add("extensions-in-old-version",
            text("carries extensions but is not a version 3 certificate"))
    critical = {ext.oid: ext.critical for ext in extensions}
    is_ca = info.basic_ca is True
    subject_empty = len(cert.subject) == 0
    if subject_empty:
        if is_ca:
            add("ca-subject-empty", text("is a CA certificate with an empty subject"))
        if _SAN not in critical:
            add("subject-empty-without-san", text("has an empty subject and no subjectAltName"))
        elif not critical[_SAN]:
            add("san-not-critical-with-empty-subject",
                text("has an empty subject but a non-critical subjectAltName"))
    if info.san is not None and not info.san:
        add("san-empty", text("has an empty subjectAltName"))
    for name in info.san or ():
        if isinstance(name, x509.DNSName) and not valid_host(name.value, wildcard=True):
            add("san-dns-name-syntax",
                text("has subjectAltName dNSName {name!r}, which is not a host name in "
                     "preferred name syntax", name=name.value))
            break
    # Self-signed certificates may omit the authority key identifier (§4.2.1.1).
    if _AKI in critical:
        if critical[_AKI]:
            add("authority-key-identifier-critical", text("has a critical authorityKeyIdentifier"))
        if info.aki is None and not info.self_issued:
            add("authority-key-identifier-missing",
                text("has an authorityKeyIdentifier without a keyIdentifier"))
    elif not info.self_issued:
        add("authority-key-identifier-missing", text("has no authorityKeyIdentifier"))
    if _SKI in critical:
        if critical[_SKI]:
            add("subject-key-identifier-critical", text("has a critical subjectKeyIdentifier"))
    elif is_ca:
        add("subject-key-identifier-missing",
            text("is a CA certificate without subjectKeyIdentifier"))
    ku = info.key_usage
    if ku is not None:
        if not ku:
            add("key-usage-empty", text("has a keyUsage with no bit set"))
        if "keyCertSign" in ku and not is_ca:
            add("key-cert-sign-without-ca", text("asserts keyCertSign without basicConstraints cA"))
    if is_ca and not critical.get(_BC, False):
        # §4.2.1.9: "MUST mark the extension as critical" in CA certificates whose key
        # verifies certificate signatures (the only ones a path relies on as CAs).
        add("basic-constraints-not-critical", text("is a CA certificate with non-critical "
            "basicConstraints"))
    if info.path_len is not None and (not is_ca or (ku is not None and "keyCertSign" not in ku)):
        add("path-length-without-key-cert-sign",
            text("sets pathLenConstraint without being a certificate-signing CA"))
    if _NC in critical:
        if not is_ca:
            add("name-constraints-in-end-entity", text("is not a CA but carries nameConstraints"))
        if not critical[_NC]:
            add("name-constraints-not-critical", text("has non-critical nameConstraints"))
        nc = info.name_constraints
        if nc is not None and not nc.permitted_subtrees and not nc.excluded_subtrees:
            add("name-constraints-empty", text("has nameConstraints with no subtree"))
    if _PC in critical:
        if not critical[_PC]:
            add("policy-constraints-not-critical", text("has non-critical policyConstraints"))
        if info.require_explicit is None and info.inhibit_mapping is None:
            add("policy-constraints-empty", text("has policyConstraints with neither field"))
    if info.eku is not None and not info.eku:
        add("extended-key-usage-empty", text("has an empty extendedKeyUsage"))
    if critical.get(_AIA):
        add("authority-information-access-critical",
            text("has a critical authorityInformationAccess"))
    if critical.get(_SIA):
        add("subject-information-access-critical", text("has a critical subjectInformationAccess"))
    return tuple(out)
