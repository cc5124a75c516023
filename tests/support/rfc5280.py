"""Three-certificate chains (root → CA → leaf) made with cryptography's builder from the
test PKI's keys, conforming by default, with one thing changed per case.

Example::

    chain = Chain.make(leaf=Tweak(serial=0))
    result = chain.validate()
    assert result.rule == "serial-number-not-positive" and result.failed_index == 2

Each of ``root``, ``ca`` and ``leaf`` takes a :class:`Tweak`: extensions to add or
replace (``add``, as ``(value, critical)``), extension types to drop, and the serial
number, subject or validity to use. The root is self-signed with the test PKI's
``gov-root-g2`` key, the CA uses ``gov-ca-g2``'s key, the leaf an EC key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signsvc import ChainResult, TrustStore, validate_chain
from tests.support.chains import ec_key, key

__all__ = ["AT", "Chain", "Tweak", "dn"]

AT = datetime(2026, 6, 1, tzinfo=UTC)
NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2030, 1, 1, tzinfo=UTC)


def dn(cn: str, *, o: str = "signsvc RFC 5280 tests", c: str = "VN") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, c),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


@dataclass(frozen=True)
class Tweak:
    """What one certificate does differently from the conforming default."""

    add: Sequence[tuple[x509.ExtensionType, bool]] = ()
    """Extensions added, replacing a default of the same type."""
    drop: Sequence[type] = ()
    """Default extension types left out."""
    serial: int | None = None
    subject: x509.Name | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None


_CA_KU = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
_LEAF_KU = x509.KeyUsage(True, True, False, False, False, False, False, False, False)


def _build(subject: x509.Name, issuer: x509.Name, public: Any, signer: Any, issuer_public: Any,
           *, ca: bool, serial: int, tweak: Tweak, self_signed: bool) -> x509.Certificate:
    defaults: dict[type, tuple[x509.ExtensionType, bool]] = {
        x509.BasicConstraints: (x509.BasicConstraints(ca=ca, path_length=None), True),
        x509.KeyUsage: (_CA_KU if ca else _LEAF_KU, True),
        x509.SubjectKeyIdentifier: (x509.SubjectKeyIdentifier.from_public_key(public), False),
    }
    if not self_signed:
        defaults[x509.AuthorityKeyIdentifier] = (
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), False)
    if not ca:
        defaults[x509.ExtendedKeyUsage] = (
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    for kind in tweak.drop:
        defaults.pop(kind, None)
    for ext, critical in tweak.add:
        if isinstance(ext, x509.UnrecognizedExtension):  # raw bytes for a known type
            defaults = {k: v for k, v in defaults.items() if v[0].oid != ext.oid}
        defaults[type(ext) if not isinstance(ext, x509.UnrecognizedExtension)
                 else ext.oid] = (ext, critical)  # type: ignore[index]
    wanted_serial = tweak.serial if tweak.serial is not None else serial
    builder_serial = wanted_serial if 0 < wanted_serial < (1 << 159) else 4242
    builder = (
        x509.CertificateBuilder()
        .subject_name(tweak.subject if tweak.subject is not None else subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(builder_serial)
        .not_valid_before(tweak.not_before or NOT_BEFORE)
        .not_valid_after(tweak.not_after or NOT_AFTER)
    )
    for ext, critical in defaults.values():
        builder = builder.add_extension(ext, critical=critical)
    cert = builder.sign(signer, hashes.SHA256())
    if builder_serial != wanted_serial:
        cert = _resign_with_serial(cert, wanted_serial, signer)
    return cert


def _resign_with_serial(cert: x509.Certificate, serial: int, signer: Any) -> x509.Certificate:
    """The same certificate with a serial number cryptography's builder refuses to
    write (zero, negative, over 159 bits), signed again by ``signer``."""
    parsed = a_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    tbs = parsed["tbs_certificate"]
    tbs["serial_number"] = serial
    tbs_der = tbs.dump(force=True)
    if isinstance(signer, rsa.RSAPrivateKey):
        signature = signer.sign(tbs_der, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = signer.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
    rebuilt = a_x509.Certificate({
        "tbs_certificate": a_x509.TbsCertificate.load(tbs_der),
        "signature_algorithm": parsed["signature_algorithm"],
        "signature_value": signature,
    })
    return x509.load_der_x509_certificate(rebuilt.dump())


@dataclass(frozen=True)
class Chain:
    """A root, a CA under it, a leaf under the CA."""

    root: x509.Certificate
    ca: x509.Certificate
    leaf: x509.Certificate
    extra: tuple[x509.Certificate, ...] = field(default=())

    @classmethod
    def make(cls, *, root: Tweak = Tweak(), ca: Tweak = Tweak(), leaf: Tweak = Tweak(),
             leaf_key: ec.EllipticCurvePrivateKey | None = None) -> Chain:
        root_key: rsa.RSAPrivateKey = key("gov-root-g2")
        ca_key: rsa.RSAPrivateKey = key("gov-ca-g2")
        end_key = leaf_key or ec_key(42)
        root_name = root.subject if root.subject is not None else dn("RFC 5280 Test Root")
        ca_name = ca.subject if ca.subject is not None else dn("RFC 5280 Test CA")
        root_cert = _build(root_name, root_name, root_key.public_key(), root_key,
                           root_key.public_key(), ca=True, serial=1, tweak=root,
                           self_signed=True)
        ca_cert = _build(ca_name, root_name, ca_key.public_key(), root_key,
                         root_key.public_key(), ca=True, serial=2, tweak=ca, self_signed=False)
        leaf_cert = _build(dn("RFC 5280 Test Leaf"), ca_name, end_key.public_key(), ca_key,
                           ca_key.public_key(), ca=False, serial=3, tweak=leaf,
                           self_signed=False)
        return cls(root_cert, ca_cert, leaf_cert)

    def validate(self, **kwargs: Any) -> ChainResult:
        kwargs.setdefault("at", AT)
        kwargs.setdefault("revocation", "off")
        return validate_chain(self.leaf, intermediates=[self.ca, *self.extra],
                              trust=TrustStore.from_certificates([self.root]), **kwargs)
