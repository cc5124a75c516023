"""Check one CMS SignedData (RFC 5652) the way a PDF signature needs it: parsed once,
hashed with hashlib, verified with cryptography.

Covers the signature container of ``adbe.pkcs7.detached``, ``ETSI.CAdES.detached``
and ``adbe.pkcs7.sha1`` signatures, and RFC 3161 time-stamp tokens (signature
time-stamps and ``ETSI.RFC3161`` document time-stamps). Chain validation is not done
here: the caller hands :attr:`CmsCheck.signer_cert` to :func:`signsvc.validate_chain`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from signsvc._der import DerError, read_tlv
from signsvc.verify._cmsparts import CmsFormatError, CmsParts, split_signed_data

__all__ = ["CmsCheck", "CmsFormatError", "check_signed_data", "load_signed_data"]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}
ADBE_REVOCATION = "1.2.840.113583.1.1.8"
"""adbe-revocationInfoArchival (ISO 32000-1 §12.8.3.3.2): CRLs/OCSP in signed attrs."""


def load_signed_data(der: bytes) -> CmsParts:
    """Split a ContentInfo holding SignedData (see :mod:`signsvc.verify._cmsparts`)."""
    return split_signed_data(der)


def hash_name(algorithm: str) -> str:
    name = algorithm.lower().replace("-", "_")
    if name not in _HASHES:
        raise CmsFormatError(f"unsupported digest algorithm {algorithm}")
    return name


def digest(name: str, *parts: bytes | memoryview) -> bytes:
    h = hashlib.new(name.replace("_", "-") if name.startswith("sha3") else name)
    for part in parts:
        h.update(part)
    return h.digest()


@dataclass
class CmsCheck:
    """What the container says and whether its own cryptography holds."""

    certificates: list[x509.Certificate]
    """Every certificate in the container, signer included."""
    signer_cert: x509.Certificate | None
    digest_algorithm: str
    signature_algorithm: str
    content_type: str
    digest_ok: bool = False
    signature_ok: bool = False
    signing_certificate_ok: bool | None = None
    problems: list[str] = field(default_factory=list)
    """Why a check failed, in words."""
    signing_time: datetime | None = None
    """The signingTime attribute (claimed, not proof)."""
    timestamp_token: bytes | None = None
    """DER of the signature time-stamp token (unsigned attribute), if any."""
    signature_value: bytes = b""
    crls: list[bytes] = field(default_factory=list)
    ocsps: list[bytes] = field(default_factory=list)
    """Revocation data carried in the container (RFC 5652 crls, adbe archival attr)."""
    encap_content: bytes | None = None
    """The encapsulated content (TSTInfo DER for time-stamps)."""

    @property
    def intact(self) -> bool:
        return self.digest_ok and self.signature_ok and self.signing_certificate_ok is not False


_OIDS = {
    "content_type": "1.2.840.113549.1.9.3",
    "message_digest": "1.2.840.113549.1.9.4",
    "signing_time": "1.2.840.113549.1.9.5",
    "signing_certificate": "1.2.840.113549.1.9.16.2.12",
    "signing_certificate_v2": "1.2.840.113549.1.9.16.2.47",
    "signature_time_stamp_token": "1.2.840.113549.1.9.16.2.14",
    ADBE_REVOCATION: ADBE_REVOCATION,
}


_OID_DER = {name: core.ObjectIdentifier(dotted).dump() for name, dotted in _OIDS.items()}


def _index(attrs_der: bytes) -> dict[bytes, bytes]:
    """Attribute values (DER) by the attribute type's OID (DER), read straight from the
    bytes: asn1crypto's generic parse of the same costs more than the signature check.
    Each attribute must occur once with one value (RFC 5652 §5.3, §11)."""
    try:
        return _attributes(attrs_der)
    except DerError as exc:
        raise CmsFormatError(f"unreadable attributes: {exc}") from exc


def _attributes(attrs_der: bytes) -> dict[bytes, bytes]:
    out: dict[bytes, bytes] = {}
    if not attrs_der:
        return out
    _, i, end = read_tlv(attrs_der, 0, len(attrs_der))
    while i < end:
        _, s, e = read_tlv(attrs_der, i, end)
        _, _, oe = read_tlv(attrs_der, s, e)
        oid = attrs_der[s:oe]
        _, vs, ve = read_tlv(attrs_der, oe, e)
        _, _, v1e = read_tlv(attrs_der, vs, ve)
        if v1e != ve:
            raise CmsFormatError(f"attribute {oid.hex()} must have exactly one value")
        if oid in out:
            raise CmsFormatError(f"attribute {oid.hex()} appears more than once")
        out[oid] = attrs_der[vs:ve]
        i = e
    return out


def _attr(index: dict[bytes, bytes], name: str) -> bytes | None:
    return index.get(_OID_DER[name])


class _Memo:
    """Per-process memo of what repeats across a batch: the certificate set of one
    signer, which of them is the signer, whether its ESS attribute matches."""

    limit = 2048

    def __init__(self) -> None:
        self.cert_sets: dict[bytes, list[x509.Certificate]] = {}
        self.signers: dict[tuple[bytes, bytes], int | None] = {}
        self.ess: dict[tuple[bytes, bytes, bytes], bool | None] = {}

    def remember(self, table: dict[Any, Any], key: Any, value: Any) -> Any:
        if len(table) >= self.limit:
            table.clear()
        table[key] = value
        return value


_MEMO = _Memo()


def _find_signer(sid: cms.SignerIdentifier, certs: list[x509.Certificate]) -> int | None:
    if sid.name == "issuer_and_serial_number":
        iss = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        candidates = [i for i, c in enumerate(certs) if c.serial_number == serial]
        # Byte-identical names first: the RFC 5280 §7.1 comparison (string
        # preparation) is slow, and signers copy the issuer verbatim.
        der = iss.dump()
        for i in candidates:
            if certs[i].issuer.public_bytes() == der:
                return i
        for i in candidates:
            if asn1_x509.Name.load(certs[i].issuer.public_bytes()) == iss:
                return i
    else:
        ski = sid.chosen.native
        for i, c in enumerate(certs):
            try:
                ext = c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if ext.value.digest == ski:
                return i
    return None


_CONTENT_TYPES = {
    core.ObjectIdentifier("1.2.840.113549.1.7.1").dump(): "data",
    core.ObjectIdentifier("1.2.840.113549.1.9.16.1.4").dump(): "tst_info",
}


@functools.lru_cache(maxsize=64)
def _memo_algorithm(der: bytes) -> str:
    """Digest algorithm name from its AlgorithmIdentifier DER (a batch repeats one)."""
    return hash_name(algos.DigestAlgorithm.load(der)["algorithm"].native)


@functools.lru_cache(maxsize=64)
def _memo_signature_algorithm(
    der: bytes,
) -> tuple[str, str | None, tuple[str, str, int] | None]:
    """(kind, hash in the OID or None, PSS (hash, MGF1 hash, salt) or None)."""
    algo = algos.SignedDigestAlgorithm.load(der)
    kind = algo.signature_algo
    try:
        h: str | None = hash_name(algo.hash_algo)
    except ValueError:
        h = None
    pss = None
    if kind == "rsassa_pss":
        params = algo["parameters"]
        pss = (hash_name(params["hash_algorithm"]["algorithm"].native),
               hash_name(params["mask_gen_algorithm"]["parameters"]["algorithm"].native),
               int(params["salt_length"].native))
    return kind, h, pss


@functools.lru_cache(maxsize=256)
def public_key(cert: x509.Certificate) -> Any:
    """The certificate's key, parsed once per certificate (a batch has few signers)."""
    return cert.public_key()


def verify_raw(
    cert: x509.Certificate, algorithm: bytes, digest_name: str, signature: bytes,
    data: bytes,
) -> None:
    """Raise InvalidSignature unless ``signature`` over ``data`` verifies.

    ``algorithm`` is the DER of the SignerInfo's signatureAlgorithm.
    """
    kind, in_oid, pss = _memo_signature_algorithm(algorithm)
    key = public_key(cert)
    h = in_oid or digest_name
    if kind == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), _HASHES[h]())
    elif kind == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey) and pss is not None:
        key.verify(signature, data, padding.PSS(padding.MGF1(_HASHES[pss[1]]()), pss[2]),
                   _HASHES[pss[0]]())
    elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(_HASHES[h]()))
    elif kind == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(signature, data)
    elif kind == "ed448" and isinstance(key, ed448.Ed448PublicKey):
        key.verify(signature, data)
    else:
        raise InvalidSignature(f"{kind} signature with a {type(key).__name__}")


def check_signed_data(
    sd: CmsParts,
    content_digest: Callable[[str], bytes] | None,
    load_cert: Callable[[bytes], x509.Certificate] = x509.load_der_x509_certificate,
) -> CmsCheck:
    """Check the single SignerInfo of ``sd``.

    Args:
        sd: the SignedData, split by :func:`load_signed_data`.
        content_digest: for detached signatures, the digest of the signed bytes under
            the named algorithm (the PDF ``/ByteRange``); None when the content is
            encapsulated (time-stamp tokens, ``adbe.pkcs7.sha1``).
        load_cert: certificate loader (a caching one is faster across documents).

    Raises:
        CmsFormatError: the container cannot be checked at all.
    """
    if sd.signer_count != 1:
        # PAdES (ETSI EN 319 142-1 §6.3) and ISO 32000 allow exactly one signer.
        raise CmsFormatError(f"{sd.signer_count} SignerInfos; a PDF signature has exactly one")
    certs = _MEMO.cert_sets.get(sd.certificate_set)
    if certs is None:
        try:
            certs = [load_cert(c) for c in sd.certificates]
        except ValueError as exc:
            raise CmsFormatError(f"unreadable certificate in the container: {exc}") from exc
        _MEMO.remember(_MEMO.cert_sets, sd.certificate_set, certs)
    key = (sd.certificate_set, sd.sid)
    if key in _MEMO.signers:
        idx = _MEMO.signers[key]
    else:
        try:
            sid = cms.SignerIdentifier.load(sd.sid)
            found = _find_signer(sid, certs)
        except (ValueError, TypeError, KeyError) as exc:
            raise CmsFormatError(f"unreadable signer identifier: {exc}") from exc
        idx = _MEMO.remember(_MEMO.signers, key, found)
    try:
        digest_name = _memo_algorithm(sd.digest_algorithm)
        kind = _memo_signature_algorithm(sd.signature_algorithm)[0]
    except (ValueError, TypeError, KeyError) as exc:
        raise CmsFormatError(f"unreadable algorithm identifier: {exc}") from exc
    content_type = _CONTENT_TYPES.get(sd.content_type) or _oid_text(sd.content_type)
    check = CmsCheck(
        certificates=certs,
        signer_cert=certs[idx] if idx is not None else None,
        digest_algorithm=digest_name,
        signature_algorithm=kind,
        content_type=content_type,
        signature_value=sd.signature,
        encap_content=sd.econtent,
    )
    if idx is None:
        check.problems.append("the signer's certificate is not in the signature")
    attrs_der = sd.signed_attrs
    if not attrs_der:
        # Without signed attributes the signature is over the content itself; PDF
        # signatures and time-stamps always carry them (ETSI EN 319 122-1 §5.1).
        raise CmsFormatError("no signed attributes")
    index = _index(attrs_der)
    md_der = _attr(index, "message_digest")
    ct = _attr(index, "content_type")
    if md_der is None or ct is None:
        raise CmsFormatError("signed attributes lack messageDigest or contentType")
    tag, start, end = read_tlv(md_der, 0, len(md_der))
    if tag != 0x04:
        raise CmsFormatError("messageDigest is not an OCTET STRING")
    md = md_der[start:end]
    ct_ok = ct == sd.content_type
    if not ct_ok:
        check.problems.append("contentType attribute differs from the encapsulated type")
    if content_digest is not None and check.encap_content is None:
        expected = content_digest(digest_name)
    elif check.encap_content is not None:
        expected = digest(digest_name, check.encap_content)
    else:
        raise CmsFormatError("no content to check the messageDigest against")
    check.digest_ok = md == expected and ct_ok
    if md != expected:
        check.problems.append("the messageDigest does not match the signed bytes")
    st = _attr(index, "signing_time")
    if st is not None:
        try:
            check.signing_time = cms.Time.load(st).native.astimezone(UTC)
        except (ValueError, TypeError, AttributeError):
            check.problems.append("unreadable signingTime attribute (ignored)")
    if check.signer_cert is not None:
        # RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF.
        signed = b"\x31" + attrs_der[1:]
        try:
            verify_raw(check.signer_cert, sd.signature_algorithm, digest_name,
                       check.signature_value, signed)
            check.signature_ok = True
        except (InvalidSignature, UnsupportedAlgorithm, ValueError, KeyError) as exc:
            check.problems.append(f"the CMS signature does not verify ({exc or 'invalid'})")
        signer_der = check.signer_cert.public_bytes(Encoding.DER)
        # Key by both attribute bytes: which one is present matters (v2 wins).
        ess_key = (_attr(index, "signing_certificate_v2") or b"",
                   _attr(index, "signing_certificate") or b"", signer_der)
        if ess_key in _MEMO.ess:
            check.signing_certificate_ok = _MEMO.ess[ess_key]
        else:
            check.signing_certificate_ok = _MEMO.remember(
                _MEMO.ess, ess_key, _ess_matches(index, signer_der, check.signer_cert))
        if check.signing_certificate_ok is False:
            check.problems.append(
                "the signing-certificate attribute names another certificate"
            )
    if sd.unsigned_attrs:
        check.timestamp_token = _attr(_index(sd.unsigned_attrs), "signature_time_stamp_token")
    check.crls.extend(sd.crls)
    archival = _attr(index, ADBE_REVOCATION)
    if archival is not None:
        _adbe_revocation(archival, check)
    return check


def _oid_text(der: bytes) -> str:
    try:
        return str(core.ObjectIdentifier.load(der).native)
    except ValueError:
        return der.hex()


def _ess_matches(index: dict[bytes, bytes], der: bytes, cert: x509.Certificate) -> bool | None:
    """RFC 5035 / RFC 2634 §5.4: the first ESSCertID must identify the signer."""
    try:
        v2 = _attr(index, "signing_certificate_v2")
        if v2 is not None:
            ids = tsp.SigningCertificateV2.load(v2)["certs"]
            if not len(ids):
                return False
            first = ids[0]
            algo = hash_name(first["hash_algorithm"]["algorithm"].native)
            ok = bool(first["cert_hash"].native == digest(algo, der))
        else:
            v1 = _attr(index, "signing_certificate")
            if v1 is None:
                return None
            ids = tsp.SigningCertificate.load(v1)["certs"]
            if not len(ids):
                return False
            first = ids[0]
            ok = bool(first["cert_hash"].native == digest("sha1", der))
        issuer_serial = first["issuer_serial"]
        if ok and not isinstance(issuer_serial, core.Void):
            ok = issuer_serial["serial_number"].native == cert.serial_number
    except (ValueError, TypeError, KeyError):
        return False
    return ok


def _adbe_revocation(value: bytes, check: CmsCheck) -> None:
    from asn1crypto import pdf

    try:
        parsed = pdf.RevocationInfoArchival.load(value)
        for crl in parsed["crl"] or ():
            check.crls.append(crl.dump())
        for resp in parsed["ocsp"] or ():
            check.ocsps.append(resp.dump())
    except (ValueError, TypeError, KeyError):
        check.problems.append("unreadable adbe-revocationInfoArchival attribute (ignored)")


@dataclass(frozen=True)
class TstInfo:
    gen_time: datetime
    imprint_algorithm: str
    imprint: bytes


def tst_info(check: CmsCheck) -> TstInfo:
    """The TSTInfo of a checked time-stamp token (RFC 3161 §2.4.2)."""
    if check.content_type != "tst_info" or check.encap_content is None:
        raise CmsFormatError("not a time-stamp token")
    try:
        info = tsp.TSTInfo.load(check.encap_content)
        mi = info["message_imprint"]
        return TstInfo(
            gen_time=info["gen_time"].native.astimezone(UTC),
            imprint_algorithm=hash_name(mi["hash_algorithm"]["algorithm"].native),
            imprint=mi["hashed_message"].native,
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise CmsFormatError(f"unreadable TSTInfo: {exc}") from exc
