"""The ``adbe.x509.rsa_sha1`` SubFilter: a bare PKCS#1 RSA signature, no CMS.

ISO 32000-1 §12.8.3.2: ``/Contents`` is a DER OCTET STRING holding the RSA
signature (RFC 8017 §8.2, PKCS#1 v1.5) of the digest of the ``/ByteRange`` bytes,
and ``/Cert`` the certificate chain, signer first (a string when it is alone;
Table 252). The digest is SHA-1 by the name, but Table 257 lets it be SHA-256,
SHA-384 or SHA-512 from PDF 1.6 on: the DigestInfo inside the signature says which.
The result is a :class:`~signsvc.verify._cmscheck.CmsCheck`, so the rest of the
verification (policy on the digest, chain) is the same as for CMS signatures.

Example::

    >>> check = check_x509_rsa_sha1(contents, certs, range_digest)  # doctest: +SKIP
    >>> check.digest_algorithm, check.intact  # doctest: +SKIP
    ('sha1', True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asn1crypto import algos
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from signsvc._der import DerError, read_tlv
from signsvc.verify._cmsalgos import KeyLoadError, hash_name, public_key, verify_raw
from signsvc.verify._cmscheck import CmsCheck, CmsFormatError
from signsvc.verify._pdfdoc import DocView

__all__ = ["check_x509_rsa_sha1", "signature_certificates"]

_RSA_PKCS1 = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}).dump()
_MAX_CERTS = 64


def check_x509_rsa_sha1(
    contents: bytes, certs: list[bytes], content_digest: Callable[[str], bytes],
    load_cert: Callable[[bytes], x509.Certificate] = x509.load_der_x509_certificate,
) -> CmsCheck:
    """Check an ``adbe.x509.rsa_sha1`` signature value against the signed bytes.

    Args:
        contents: the ``/Contents`` string (its zero padding is ignored).
        certs: the ``/Cert`` strings, signer first.
        content_digest: the digest of the ``/ByteRange`` bytes under a named hash.
        load_cert: certificate loader.

    Raises:
        CmsFormatError: no signature value or no readable certificate.
    """
    try:
        tag, start, end = read_tlv(contents, 0, len(contents))
    except DerError as exc:
        raise CmsFormatError(f"/Contents is not a DER OCTET STRING: {exc}") from exc
    if tag != 0x04 or start == end:
        raise CmsFormatError("/Contents is not a DER OCTET STRING (ISO 32000-1 §12.8.3.2)")
    if not certs:
        raise CmsFormatError("/Cert is missing: adbe.x509.rsa_sha1 requires it")
    try:
        loaded = [load_cert(c) for c in certs]
    except ValueError as exc:
        raise CmsFormatError(f"unreadable certificate in /Cert: {exc}") from exc
    check = CmsCheck(
        certificates=loaded, signer_cert=loaded[0], digest_algorithm="sha1",
        signature_algorithm="rsassa_pkcs1v15", content_type="data",
        signature_value=contents[start:end], signed_attributes=False,
    )
    check.notes.append("adbe.x509.rsa_sha1: a PKCS#1 signature of the signed bytes, "
                       "without CMS (no signing time, no signing-certificate attribute)")
    try:
        key = public_key(loaded[0])
    except KeyLoadError as exc:
        check.key_problem = str(exc)
        check.problems.append(check.key_problem)
        check.digest_ok = True
        return check
    if not isinstance(key, rsa.RSAPublicKey):
        check.digest_ok = True
        check.problems.append(f"adbe.x509.rsa_sha1 needs an RSA key, the signer's "
                              f"certificate has a {type(key).__name__}")
        return check
    signed = _signed_digest(key, check.signature_value)
    if signed is not None:
        check.digest_algorithm = signed[0]
    expected = content_digest(check.digest_algorithm)
    try:
        # The strict check decides: a DigestInfo read leniently above never does
        # (the e=3 forgeries of 2006 lived on lenient DigestInfo parsing).
        verify_raw(loaded[0], _RSA_PKCS1, check.digest_algorithm,
                   check.signature_value, expected, prehashed=True)
        check.digest_ok = check.signature_ok = True
    except (InvalidSignature, ValueError, KeyError) as exc:
        if signed is not None and signed[1] != expected:
            check.signature_ok = True
            check.problems.append("the signature is over another digest than that of "
                                  "the signed bytes")
        else:
            check.digest_ok = True
            check.problems.append(f"the PKCS#1 signature does not verify "
                                  f"({exc or 'invalid'})")
    return check


def _signed_digest(key: rsa.RSAPublicKey, signature: bytes) -> tuple[str, bytes] | None:
    """(hash name, digest) from the DigestInfo the signature holds (RFC 8017 §9.2),
    or None when it is no readable DigestInfo under this key."""
    try:
        info = algos.DigestInfo.load(
            key.recover_data_from_signature(signature, padding.PKCS1v15(), None))
        return (hash_name(info["digest_algorithm"]["algorithm"].native),
                info["digest"].native)
    except (InvalidSignature, ValueError, TypeError, KeyError, CmsFormatError):
        return None


def signature_certificates(view: DocView, field_name: str) -> list[bytes]:
    """The ``/Cert`` strings of the signature dictionary of ``field_name``."""
    if view.scanned is not None:
        pdf = view.scanned
        for f in pdf.signature_fields():
            if f.name == field_name:
                return _strings(pdf.resolve(f.sig.get("Cert")), pdf.resolve)
        return []
    from pyhanko.sign.fields import enumerate_sig_fields

    for name, sig_obj, _ in enumerate_sig_fields(view.pyhanko_reader(), filled_status=True):
        if name == field_name:
            value = sig_obj.get_object().get("/Cert")
            return _strings(value.get_object() if value is not None else None,
                            lambda v: v.get_object())
    return []


def _strings(value: Any, resolve: Callable[[Any], Any]) -> list[bytes]:
    """A string, or an array of strings, as bytes (pyHanko's string objects too)."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items[:_MAX_CERTS]:
        item = resolve(item)
        raw = getattr(item, "original_bytes", item)
        if isinstance(raw, bytes | bytearray):
            out.append(bytes(raw))
    return out
