"""The test PKI (certs_test/) as validate_chain sees it, for the chain, trust and
revocation tests: certificates, keys and committed CRLs by entity name, trust stores,
:func:`check` (a leaf with its intermediate and every committed CRL), OCSP responses
built here, and throw-away certificates (:func:`issue`) for hostile-input cases.

Example::

    result = check("revoked")                 # at AT, hard-fail, signing key usage
    assert result.sub_indication is SubIndication.REVOKED
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from signsvc import ChainResult, TrustStore, validate_chain
from signsvc.pki.chain import SIGNING_KEY_USAGE
from tests.support.paths import PKI

__all__ = [
    "ALL_CRLS",
    "ALL_ROOTS",
    "AT",
    "ISSUER",
    "PKI",
    "cert",
    "check",
    "crl",
    "ec_key",
    "issue",
    "key",
    "name",
    "ocsp_response",
    "store",
]

AT = datetime(2026, 4, 1, tzinfo=UTC)  # after both committed revocations


@cache
def cert(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((PKI / f"{name}.crt.pem").read_bytes())


@cache
def key(name: str) -> rsa.RSAPrivateKey:
    loaded = serialization.load_pem_private_key((PKI / f"{name}.key.pem").read_bytes(), None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return loaded


@cache
def crl(name: str) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl((PKI / "crl" / f"{name}.crl.der").read_bytes())


@cache
def store(*roots: str) -> TrustStore:
    return TrustStore.from_paths([PKI / f"{r}.crt.pem" for r in roots])


ALL_ROOTS = ("gov-root-g2", "vn-root", "gov-root-g1")
ALL_CRLS = ("gov-ca-g2", "gov-root-g2", "vnpt-ca", "viettel-ca", "vn-root")
ISSUER = {
    "official-rsa2048": "gov-ca-g2", "official-ec": "gov-ca-g2", "org-omon": "gov-ca-g2",
    "org-sonoivu": "gov-ca-g2", "expired": "gov-ca-g2", "not-yet-valid": "gov-ca-g2",
    "revoked": "gov-ca-g2", "wrong-ku": "gov-ca-g2", "tsa": "gov-ca-g2",
    "official-rsa3072": "vnpt-ca", "revoked-public": "vnpt-ca", "official-viettel": "viettel-ca",
    "legacy-official": "gov-ca-g1",
}


def check(name: str, **kwargs: object) -> ChainResult:
    """Validate a certs_test leaf with its intermediate and the committed CRLs."""
    options: dict[str, object] = {
        "intermediates": [cert(ISSUER[name])],
        "trust": store(*ALL_ROOTS),
        "at": AT,
        "crls": [crl(c) for c in ALL_CRLS],
        "revocation": "hard-fail",
        "key_usage": SIGNING_KEY_USAGE,
    }
    options.update(kwargs)
    return validate_chain(cert(name), **options)  # type: ignore[arg-type]


def ocsp_response(
    leaf: str,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    responder: str = "ocsp-gov-ca-g2",
    this_update: datetime = datetime(2026, 3, 31, tzinfo=UTC),
    next_update: datetime | None = datetime(2026, 4, 7, tzinfo=UTC),
    revoked_at: datetime | None = None,
) -> ocsp.OCSPResponse:
    issuer = cert(ISSUER[leaf])
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=cert(leaf),
        issuer=issuer,
        algorithm=hashes.SHA1(),
        cert_status=status,
        this_update=this_update,
        next_update=next_update,
        revocation_time=revoked_at,
        revocation_reason=x509.ReasonFlags.key_compromise if revoked_at else None,
    )
    signer = cert(responder)
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer)
    if signer != issuer:
        builder = builder.certificates([signer])
    return builder.sign(key(responder), hashes.SHA256())


# -- throw-away certificates -------------------------------------------------------------


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def issue(
    subject: str | x509.Name,
    issuer: str | x509.Name,
    subject_key: ec.EllipticCurvePrivateKey | rsa.RSAPublicKey,
    issuer_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    *,
    ca: bool = True,
    serial: int = 1,
    extra: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    public = subject_key if isinstance(subject_key, rsa.RSAPublicKey) else subject_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject) if isinstance(subject, str) else subject)
        .issuer_name(name(issuer) if isinstance(issuer, str) else issuer)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    issuer_public = (issuer_key.public_key() if not isinstance(issuer_key, rsa.RSAPublicKey)
                     else issuer_key)
    given = {type(ext) for ext, _ in extra}
    # RFC 5280 §4.2.1.1-§4.2.1.2: key identifiers, unless the case supplies its own.
    if x509.SubjectKeyIdentifier not in given:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    if x509.AuthorityKeyIdentifier not in given:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), critical=False)
    for ext, critical in extra:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


@cache
def ec_key(seed: int) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())
