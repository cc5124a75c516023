"""OCSP for the TEST-ONLY PKI: CertID matching, request decoding, signed responses.

:func:`_ocsp_respond` answers one DER OCSPRequest as a CA's responder (RFC 6960 §2.2,
§4.2); :func:`_decode_get_request` undoes the GET encoding of RFC 6960 §A.1. The HTTP
side lives in :mod:`certs_test.services`.

TEST ONLY: every key that signs these responses is public.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp

OCSP_VALIDITY = timedelta(days=1)
"""nextUpdate - thisUpdate of every OCSP response (RFC 6960 §4.2.2.1)."""

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# Hashes that a CertID may use and cryptography's OCSPResponseBuilder accepts.
_CERTID_HASHES = (hashes.SHA1, hashes.SHA224, hashes.SHA256, hashes.SHA384, hashes.SHA512)


def _now() -> datetime:
    """Current UTC time to the second (OCSP times carry no fractions, RFC 6960 §4.2.2.1)."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class _Authority:
    """A CA as seen by its OCSP responder and CRL distribution point."""

    name: str
    cert: x509.Certificate
    responder_cert: x509.Certificate
    """The delegated responder (RFC 6960 §4.2.2.2), or the CA certificate itself."""
    responder_key: SigningKey
    delegated: bool
    issued: frozenset[int]
    """Serial numbers of every certificate this CA issued (manifest.json)."""
    revoked: Mapping[int, tuple[datetime, x509.ReasonFlags]]
    crl_der: bytes

    def is_issuer(self, algorithm: hashes.HashAlgorithm, name_hash: bytes,
                  key_hash: bytes) -> bool:
        """Whether a CertID's issuer hashes designate this CA.

        RFC 6960 §4.1.1: issuerNameHash is over the DER of the issuer's subject name,
        issuerKeyHash over the value of the BIT STRING subjectPublicKey (without tag,
        length and unused-bits octet).
        """
        spki = asn1_keys.PublicKeyInfo.load(self.cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        return (name_hash == _digest(algorithm, self.cert.subject.public_bytes())
                and key_hash == _digest(algorithm, spki["public_key"].contents[1:]))


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    context = hashes.Hash(algorithm)
    context.update(data)
    return context.finalize()


def _ocsp_error(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER)


def _ocsp_respond(authority: _Authority, der: bytes, backdate: timedelta) -> bytes:
    """Answer one DER OCSPRequest as ``authority``'s responder (RFC 6960 §2.2, §4.2)."""
    try:
        request = ocsp.load_der_ocsp_request(der)
        algorithm = request.hash_algorithm
        name_hash, key_hash = request.issuer_name_hash, request.issuer_key_hash
        serial = request.serial_number
        try:
            nonce: bytes | None = request.extensions.get_extension_for_class(
                x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            nonce = None
    except (ValueError, UnsupportedAlgorithm):
        # Also covers requests with several CertIDs, which cryptography cannot build
        # answers for; no client used with signsvc (pyHanko, OpenSSL) sends those.
        return _ocsp_error(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    if (not isinstance(algorithm, _CERTID_HASHES) or len(name_hash) != algorithm.digest_size
            or len(key_hash) != algorithm.digest_size):
        return _ocsp_error(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)

    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None
    if not (authority.is_issuer(algorithm, name_hash, key_hash) and serial in authority.issued):
        # RFC 6960 §2.2: "unknown" = the responder does not know the certificate, e.g.
        # another issuer's CertID or a serial this CA never issued.
        status = ocsp.OCSPCertStatus.UNKNOWN
    elif serial in authority.revoked:
        status = ocsp.OCSPCertStatus.REVOKED
        revoked_at, reason = authority.revoked[serial]
    else:
        status = ocsp.OCSPCertStatus.GOOD
    this_update = _now() - backdate
    # The CertID is echoed by hash, byte for byte, so SHA-1 and SHA-256 requests alike
    # match their answer (RFC 6960 §4.2.1 SingleResponse.certID).
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        name_hash, key_hash, serial, algorithm, status, this_update,
        this_update + OCSP_VALIDITY, revoked_at, reason,
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, authority.responder_cert)
    if authority.delegated:
        # RFC 6960 §4.2.2.2: the client needs the responder's certificate to check that
        # the issuing CA delegated OCSP signing to it.
        builder = builder.certificates([authority.responder_cert])
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)  # RFC 8954
    return builder.sign(authority.responder_key, hashes.SHA256()).public_bytes(
        serialization.Encoding.DER)


def _decode_get_request(encoded: str) -> bytes | None:
    """Decode the ``{url-encoding of base-64 of DER}`` of RFC 6960 §A.1.

    Clients disagree on details, so both alphabets are accepted, with or without padding
    and with or without percent-encoding of ``+ / =``.
    """
    text = unquote(encoded).strip()
    text += "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(text)
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
