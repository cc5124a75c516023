"""Check one CMS SignedData (RFC 5652) the way a PDF signature needs it: parsed once,
hashed with hashlib, verified with cryptography.

Covers the signature container of ``adbe.pkcs7.detached``, ``ETSI.CAdES.detached``
and ``adbe.pkcs7.sha1`` signatures, and RFC 3161 time-stamp tokens (signature
time-stamps and ``ETSI.RFC3161`` document time-stamps). Chain validation is not done
here: the caller hands :attr:`CmsCheck.signer_cert` to :func:`signsvc.validate_chain`.

Two forms of SignerInfo (RFC 5652 §5.4):

- with signed attributes: the messageDigest attribute is compared with the digest of
  the content, and the signature is over the DER of the attributes;
- without them (old Adobe, Vietnamese government signers until 2021): the signature
  is over the content itself. RSA and ECDSA are checked on the digest the caller
  already has (``Prehashed``, so the document is hashed once); EdDSA, which has no
  pre-hashed form (RFC 8419 §3.1), needs the bytes. Time-stamp tokens must carry
  signed attributes (RFC 3161 §2.4.2: the ESS signing-certificate attribute).

Example::

    >>> parts = load_signed_data(contents)  # doctest: +SKIP
    >>> check = check_signed_data(parts, lambda name: digest(name, signed_bytes))  # doctest: +SKIP
    >>> check.intact, check.notes  # doctest: +SKIP
    (True, ['signed without signed attributes: ...'])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from signsvc._der import DerError, read_tlv
from signsvc._i18n import text
from signsvc.verify._cmsalgos import (
    DIGEST_ONLY,
    EDDSA_DIGEST,
    KeyLoadError,
    digest,
    digest_algorithm,
    hash_name,
    message_hash,
    public_key,
    signature_algorithm,
    verify_raw,
)
from signsvc.verify._cmsparts import CmsFormatError, CmsParts, split_signed_data

__all__ = ["CmsCheck", "CmsFormatError", "KeyLoadError", "check_signed_data", "digest",
           "load_signed_data", "public_key", "tst_info"]

ADBE_REVOCATION = "1.2.840.113583.1.1.8"
"""adbe-revocationInfoArchival (ISO 32000-1 §12.8.3.3.2): CRLs/OCSP in signed attrs."""


def load_signed_data(der: bytes) -> CmsParts:
    """Split a ContentInfo holding SignedData (see :mod:`signsvc.verify._cmsparts`)."""
    return split_signed_data(der)


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
    signed_attributes: bool = True
    """False when the SignerInfo has none: the signature is over the content itself
    (RFC 5652 §5.4), and :attr:`digest_ok` only says no other digest was shown."""
    notes: list[str] = field(default_factory=list)
    """What a reader should know that is not a failure (the form of the signature)."""
    key_problem: str | None = None
    """Why the signer's public key could not be loaded (the signature then cannot be
    checked at all: not a failed check)."""
    algorithm_problem: str | None = None
    """An algorithm combination the specification forbids although the cryptography
    holds (Ed448 with another digest than SHAKE256, RFC 8419 §3)."""

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


def check_signed_data(
    sd: CmsParts,
    content_digest: Callable[[str], bytes] | None,
    load_cert: Callable[[bytes], x509.Certificate] = x509.load_der_x509_certificate,
    *,
    content: Callable[[], bytes] | None = None,
) -> CmsCheck:
    """Check the single SignerInfo of ``sd``.

    Args:
        sd: the SignedData, split by :func:`load_signed_data`.
        content_digest: for detached signatures, the digest of the signed bytes under
            the named algorithm (the PDF ``/ByteRange``); None when the content is
            encapsulated (time-stamp tokens, ``adbe.pkcs7.sha1``).
        load_cert: certificate loader (a caching one is faster across documents).
        content: the detached signed bytes themselves, asked for only by an EdDSA
            signature without signed attributes (nothing to pre-hash).

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
        digest_name = digest_algorithm(sd.digest_algorithm)
        kind = signature_algorithm(sd.signature_algorithm)[0]
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
        signed_attributes=bool(sd.signed_attrs),
    )
    if idx is None:
        check.problems.append(text("the signer's certificate is not in the signature"))
    if content_digest is not None and check.encap_content is not None:
        if check.encap_content or content_type != "data":
            # RFC 5652 §5.2: a detached signature has no eContent; pyHanko refuses one
            # too (FORMAT_FAILURE), and what would it mean next to the /ByteRange?
            raise CmsFormatError("a detached signature with encapsulated content")
        # An empty eContent says nothing: Adobe Acrobat and Foxit read such a signature
        # as detached, so does signsvc (pyHanko refuses it), and says so.
        check.encap_content = None
        check.notes.append("an empty eContent in a detached signature (read as detached)")
    if check.encap_content is not None:
        expected = digest(digest_name, check.encap_content)
    elif content_digest is not None:
        expected = content_digest(digest_name)
    else:
        raise CmsFormatError("no content to check the signature against")
    index: dict[bytes, bytes] = {}
    if sd.signed_attrs:
        index = _check_attributes(check, sd.signed_attrs, sd.content_type, expected)
        eddsa_digest = EDDSA_DIGEST.get(kind)
        if eddsa_digest is not None and digest_name != eddsa_digest:
            check.algorithm_problem = (
                f"{kind} with the digest {digest_name}: RFC 8419 §3 requires "
                f"{eddsa_digest}")
            check.problems.append(check.algorithm_problem)
    elif content_type == "tst_info":
        raise CmsFormatError("a time-stamp token without signed attributes (RFC 3161 "
                             "§2.4.2 requires them)")
    else:
        check.notes.append("signed without signed attributes: the signature is over "
                           "the signed bytes themselves (RFC 5652 §5.4)")
        check.digest_ok = True  # no messageDigest to compare; the signature decides
    if check.signer_cert is not None:
        try:
            public_key(check.signer_cert)
        except KeyLoadError as exc:
            check.key_problem = str(exc)
            check.problems.append(check.key_problem)
    if check.signer_cert is not None and check.key_problem is None:
        if sd.signed_attrs:
            # RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF.
            _verify_signature(check, sd.signature_algorithm,
                              b"\x31" + sd.signed_attrs[1:], False)
            _check_ess(check, index)
        else:
            _verify_content(check, sd.signature_algorithm, content_digest, content)
    if sd.unsigned_attrs:
        check.timestamp_token = _attr(_index(sd.unsigned_attrs), "signature_time_stamp_token")
    check.crls.extend(sd.crls)
    archival = _attr(index, ADBE_REVOCATION)
    if archival is not None:
        _adbe_revocation(archival, check)
    return check


def _check_attributes(check: CmsCheck, attrs_der: bytes, content_type: bytes,
                      expected: bytes) -> dict[bytes, bytes]:
    """messageDigest and contentType against the content, and the signingTime."""
    index = _index(attrs_der)
    md_der = _attr(index, "message_digest")
    ct = _attr(index, "content_type")
    if md_der is None or ct is None:
        raise CmsFormatError("signed attributes lack messageDigest or contentType")
    tag, start, end = read_tlv(md_der, 0, len(md_der))
    if tag != 0x04:
        raise CmsFormatError("messageDigest is not an OCTET STRING")
    md = md_der[start:end]
    ct_ok = ct == content_type
    if not ct_ok:
        check.problems.append(text("contentType attribute differs from the encapsulated type"))
    check.digest_ok = md == expected and ct_ok
    if md != expected:
        check.problems.append(text("the messageDigest does not match the signed bytes"))
    st = _attr(index, "signing_time")
    if st is not None:
        try:
            check.signing_time = cms.Time.load(st).native.astimezone(UTC)
        except (ValueError, TypeError, AttributeError):
            check.problems.append("unreadable signingTime attribute (ignored)")
    return index


def _verify_signature(check: CmsCheck, algorithm: bytes, data: bytes, prehashed: bool) -> bool:
    assert check.signer_cert is not None
    try:
        verify_raw(check.signer_cert, algorithm, check.digest_algorithm,
                   check.signature_value, data, prehashed=prehashed)
        check.signature_ok = True
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, KeyError) as exc:
        check.problems.append(text("the CMS signature does not verify ({why})",
                                   why=str(exc) or "invalid"))
    return check.signature_ok


def _verify_content(
    check: CmsCheck, algorithm: bytes, content_digest: Callable[[str], bytes] | None,
    content: Callable[[], bytes] | None,
) -> None:
    """RFC 5652 §5.4 without signed attributes: the signature is over the content
    (the eContent of ``adbe.pkcs7.sha1``, else the detached bytes)."""
    assert check.signer_cert is not None
    try:
        hash_used = message_hash(algorithm, check.digest_algorithm)
    except CmsFormatError as exc:
        check.problems.append(f"the CMS signature does not verify ({exc})")
        return
    if check.encap_content is not None:
        _verify_signature(check, algorithm, check.encap_content, False)
        if not check.signature_ok and hash_used is not None:
            _signed_other_digest(check, hash_used, digest(hash_used, check.encap_content))
        return
    assert content_digest is not None
    if hash_used is None:
        if content is None:
            check.problems.append(f"{check.signature_algorithm} without signed "
                                  "attributes needs the signed bytes, which were not given")
            return
        _verify_signature(check, algorithm, content(), False)
        return
    if hash_used in DIGEST_ONLY:
        check.problems.append(f"the CMS signature does not verify ({hash_used} cannot "
                              "be pre-hashed)")
        return
    expected = content_digest(hash_used)
    if not _verify_signature(check, algorithm, expected, True):
        _signed_other_digest(check, hash_used, expected)


def _signed_other_digest(check: CmsCheck, hash_used: str, expected: bytes) -> None:
    """Tell a changed document from a wrong key where the scheme allows it: an RSA
    PKCS#1 v1.5 signature gives back the DigestInfo it signed (RFC 8017 §8.2.2).
    A readable one with another digest is a HASH_FAILURE; the verdict still rests on
    the strict verification that failed, never on this lenient read."""
    assert check.signer_cert is not None
    key = public_key(check.signer_cert)
    if check.signature_algorithm != "rsassa_pkcs1v15" or not isinstance(key, rsa.RSAPublicKey):
        return
    try:
        info = algos.DigestInfo.load(
            key.recover_data_from_signature(check.signature_value, padding.PKCS1v15(), None))
        signed = info["digest"].native
        if hash_name(info["digest_algorithm"]["algorithm"].native) != hash_used:
            return
    except (InvalidSignature, ValueError, TypeError, KeyError, CmsFormatError):
        return
    if signed != expected:
        check.digest_ok = False
        check.signature_ok = True
        check.problems[-1] = ("the signature is over another digest than that of the "
                              "signed bytes")


def _check_ess(check: CmsCheck, index: dict[bytes, bytes]) -> None:
    assert check.signer_cert is not None
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
        check.problems.append(text(
            "the signing-certificate attribute names another certificate"))


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
