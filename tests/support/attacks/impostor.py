"""Impostors: well-formed, intact signatures by certificates that only look trusted.

Complements the document-structure attacks of Mladenov et al., "1 Trillion Dollar
Refund: How to Spoof PDF Signatures" (ACM CCS 2019) and Mainka et al., "Shadow Attacks"
(NDSS 2021): here the PDF is sound and the signature verifies, but the chain is a forgery
whose names and key identifiers copy the real ones, so a verifier that chains by name or
AKI/SKI alone would trust it.

Example::

    data = IMPOSTORS["impostor-self-signed"]()   # never TOTAL-PASSED
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Literal

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tests.support.attacks._base import PKI, SIGNING_TIME, _FixedTimePdfSigner, base_document


def _copy_extensions(builder: x509.CertificateBuilder, cert: x509.Certificate,
                     skip: frozenset[x509.ObjectIdentifier] = frozenset()
                     ) -> x509.CertificateBuilder:
    for ext in cert.extensions:
        if ext.oid not in skip:
            builder = builder.add_extension(ext.value, ext.critical)
    return builder


ImpostorKind = Literal["self-signed", "fake-intermediate", "fake-intermediate-ec"]


def impostor_signer(kind: ImpostorKind) -> signers.SimpleSigner:
    """A signer whose certificate copies ``official-rsa2048``'s subject, serial number
    and extensions, with a key the attacker made.

    ``self-signed``: the leaf signs itself. ``fake-intermediate``: it is issued by a
    fake "gov-ca-g2" with the real one's subject, issuer, serial number and key
    identifiers (so name and AKI/SKI matching alone would chain it to gov-root-g2),
    which signs itself with an RSA key as the real root would; ``-ec``: the same, the
    fake CA signed with ECDSA although the root's key is RSA. Keys are generated per
    call.
    """
    real_leaf = x509.load_pem_x509_certificate((PKI / "official-rsa2048.crt.pem").read_bytes())
    real_ca = x509.load_pem_x509_certificate((PKI / "gov-ca-g2.crt.pem").read_bytes())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(real_leaf.subject)
               .serial_number(real_leaf.serial_number).public_key(leaf_key.public_key())
               .not_valid_before(real_leaf.not_valid_before_utc)
               .not_valid_after(real_leaf.not_valid_after_utc))
    ski = x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key())
    chain: list[x509.Certificate] = []
    if kind == "self-signed":
        builder = _copy_extensions(builder.issuer_name(real_leaf.subject), real_leaf,
                                   frozenset({x509.oid.ExtensionOID.SUBJECT_KEY_IDENTIFIER,
                                              x509.oid.ExtensionOID.AUTHORITY_KEY_IDENTIFIER}))
        leaf = builder.add_extension(ski, False).sign(leaf_key, hashes.SHA256())
    else:
        ca_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
            ec.generate_private_key(ec.SECP256R1()) if kind == "fake-intermediate-ec"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048))
        fake_ca = _copy_extensions(
            x509.CertificateBuilder().subject_name(real_ca.subject).issuer_name(real_ca.issuer)
            .serial_number(real_ca.serial_number).public_key(ca_key.public_key())
            .not_valid_before(real_ca.not_valid_before_utc)
            .not_valid_after(real_ca.not_valid_after_utc), real_ca,
        ).sign(ca_key, hashes.SHA256())
        builder = _copy_extensions(builder.issuer_name(real_ca.subject), real_leaf,
                                   frozenset({x509.oid.ExtensionOID.SUBJECT_KEY_IDENTIFIER}))
        leaf = builder.add_extension(ski, False).sign(ca_key, hashes.SHA256())
        chain = [fake_ca]

    def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    key_der = leaf_key.private_bytes(serialization.Encoding.DER,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
    return signers.SimpleSigner(
        signing_cert=asn1(leaf), signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([asn1(c) for c in chain]))


def impostor_signed(kind: ImpostorKind) -> bytes:
    """:func:`base_document` signed by :func:`impostor_signer` (B-B, PAdES)."""
    meta = signers.PdfSignatureMetadata(field_name="Signature1", md_algorithm="sha256",
                                        subfilter=SigSeedSubFilter.PADES)
    writer = IncrementalPdfFileWriter(io.BytesIO(base_document()))
    pdf_signer = _FixedTimePdfSigner(meta, impostor_signer(kind), signing_time=SIGNING_TIME)
    return bytes(pdf_signer.sign_pdf(writer).getvalue())


IMPOSTORS: dict[str, Callable[[], bytes]] = {
    "impostor-self-signed": lambda: impostor_signed("self-signed"),
    "impostor-fake-intermediate": lambda: impostor_signed("fake-intermediate"),
    "impostor-fake-intermediate-ec": lambda: impostor_signed("fake-intermediate-ec"),
}
"""Intact signatures whose chain only *looks* like the trusted one: never TOTAL-PASSED."""
