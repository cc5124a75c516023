"""The parts of a CMS SignedData (RFC 5652 §5) a signature check reads, as DER slices.

Walking the DER by hand (:mod:`signsvc._der`) costs a fraction of asn1crypto's
generic parse, and every part that repeats across a batch (the certificate set, the
signer identifier, algorithm identifiers) stays as bytes, so callers can memoise on
them. Anything that is not plain DER (indefinite lengths, constructed strings: BER,
which some old signers emit) goes through asn1crypto instead, with the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asn1crypto import cms, core

from signsvc._der import NotDerError, elements, read_tlv

__all__ = ["CmsFormatError", "CmsParts", "split_signed_data"]

_SIGNED_DATA = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()


class CmsFormatError(Exception):
    """The bytes are not a CMS SignedData a PDF signature may carry."""


@dataclass
class CmsParts:
    """Raw DER of what the check needs from one SignedData with one SignerInfo."""

    signer_count: int
    certificate_set: bytes
    """The whole ``certificates`` field (memo key), or b""."""
    certificates: list[bytes]
    """Each plain X.509 certificate in it (other certificate choices are skipped)."""
    content_type: bytes
    """eContentType, as a DER OBJECT IDENTIFIER."""
    econtent: bytes | None
    """The eContent octets (TSTInfo for time-stamps), None when detached."""
    sid: bytes
    digest_algorithm: bytes
    signed_attrs: bytes | None
    """The ``[0] IMPLICIT`` signedAttrs element, tag included."""
    signature_algorithm: bytes
    signature: bytes
    unsigned_attrs: bytes | None
    crls: list[bytes] = field(default_factory=list)


def split_signed_data(der: bytes) -> CmsParts:
    """Split a ContentInfo holding SignedData; trailing bytes (the zero padding of a PDF
    ``/Contents``) are ignored. Raises :class:`CmsFormatError`."""
    try:
        return _split_der(der)
    except NotDerError:
        return _split_asn1(der)
    except (IndexError, ValueError) as exc:  # DerError is a ValueError
        raise CmsFormatError(f"not a CMS SignedData: {exc}") from exc


def _expect(item: tuple[int, int, int, int], tag: int, what: str) -> tuple[int, int, int, int]:
    if item[0] != tag:
        raise CmsFormatError(f"{what}: expected tag {tag:#04x}, found {item[0]:#04x}")
    return item


def _split_der(der: bytes) -> CmsParts:
    tag, cs, ce = read_tlv(der, 0, len(der))
    if tag != 0x30:
        raise CmsFormatError("not a CMS ContentInfo")
    info = elements(der, cs, ce)
    if len(info) != 2 or der[info[0][1] : info[0][3]] != _SIGNED_DATA:
        raise CmsFormatError("the content type is not signed_data")
    _expect(info[1], 0xA0, "ContentInfo content")
    tag, cs, ce = read_tlv(der, info[1][2], info[1][3])
    sd = elements(der, cs, ce)
    if tag != 0x30 or len(sd) < 4:
        raise CmsFormatError("malformed SignedData")
    _expect(sd[0], 0x02, "SignedData version")
    _expect(sd[1], 0x31, "digestAlgorithms")
    encap = elements(der, _expect(sd[2], 0x30, "encapContentInfo")[2], sd[2][3])
    i = 3
    cert_set, certs, crls = b"", [], []
    if sd[i][0] == 0xA0:
        cert_set = der[sd[i][1] : sd[i][3]]
        certs = [der[c[1] : c[3]] for c in elements(der, sd[i][2], sd[i][3]) if c[0] == 0x30]
        i += 1
    if i < len(sd) and sd[i][0] == 0xA1:
        crls = [der[c[1] : c[3]] for c in elements(der, sd[i][2], sd[i][3]) if c[0] == 0x30]
        i += 1
    if i != len(sd) - 1:
        raise CmsFormatError("malformed SignedData")
    infos = elements(der, _expect(sd[i], 0x31, "signerInfos")[2], sd[i][3])
    if not encap or encap[0][0] != 0x06 or len(encap) > 2:
        raise CmsFormatError("malformed encapContentInfo")
    econtent = None
    if len(encap) == 2:
        _expect(encap[1], 0xA0, "eContent")
        tag, ecs, ece = read_tlv(der, encap[1][2], encap[1][3])
        if tag != 0x04:
            raise NotDerError("constructed OCTET STRING (BER)")
        econtent = der[ecs:ece]
    if not infos:
        raise CmsFormatError("no SignerInfo")
    si = elements(der, _expect(infos[0], 0x30, "SignerInfo")[2], infos[0][3])
    if len(si) < 5:
        raise CmsFormatError("malformed SignerInfo")
    _expect(si[0], 0x02, "SignerInfo version")
    j = 3
    signed = None
    if si[j][0] == 0xA0:
        signed = der[si[j][1] : si[j][3]]
        j += 1
    if j + 1 >= len(si):
        raise CmsFormatError("malformed SignerInfo")
    _expect(si[j], 0x30, "signatureAlgorithm")
    _expect(si[j + 1], 0x04, "signature")
    unsigned = None
    if j + 2 < len(si):
        unsigned = der[_expect(si[j + 2], 0xA1, "unsignedAttrs")[1] : si[j + 2][3]]
    return CmsParts(
        signer_count=len(infos),
        certificate_set=cert_set,
        certificates=certs,
        content_type=der[encap[0][1] : encap[0][3]],
        econtent=econtent,
        sid=der[si[1][1] : si[1][3]],
        digest_algorithm=der[_expect(si[2], 0x30, "digestAlgorithm")[1] : si[2][3]],
        signed_attrs=signed,
        signature_algorithm=der[si[j][1] : si[j][3]],
        signature=der[si[j + 1][2] : si[j + 1][3]],
        unsigned_attrs=unsigned,
        crls=crls,
    )


def _split_asn1(der: bytes) -> CmsParts:
    """The same parts through asn1crypto, which reads BER."""
    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            raise CmsFormatError("the content type is not signed_data")
        sd = info["content"]
        infos = sd["signer_infos"]
        if not len(infos):
            raise CmsFormatError("no SignerInfo")
        si = infos[0]
        eci = sd["encap_content_info"]
        content = eci["content"]
        econtent = None
        if content is not None and content.native is not None:
            econtent = (content.parsed.dump() if eci["content_type"].native == "tst_info"
                        else content.native)
        cert_set = sd["certificates"]
        signed, unsigned = si["signed_attrs"], si["unsigned_attrs"]
        return CmsParts(
            signer_count=len(infos),
            certificate_set=cert_set.dump(force=True) if cert_set else b"",
            certificates=[c.chosen.dump(force=True) for c in cert_set or ()
                          if c.name == "certificate"],
            content_type=eci["content_type"].dump(force=True),
            econtent=econtent,
            sid=si["sid"].dump(force=True),
            digest_algorithm=si["digest_algorithm"].dump(force=True),
            # RFC 5652 §5.4: the signature is over the DER of the attributes, so
            # re-encode (force) what a BER signer may have sent.
            signed_attrs=signed.dump(force=True) if signed else None,
            signature_algorithm=si["signature_algorithm"].dump(force=True),
            signature=si["signature"].native,
            unsigned_attrs=unsigned.dump(force=True) if unsigned else None,
            crls=[c.chosen.dump(force=True) for c in sd["crls"] or () if c.name == "crl"],
        )
    except CmsFormatError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise CmsFormatError(f"not a CMS SignedData: {exc}") from exc
