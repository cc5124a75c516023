"""The one DER reader (ITU-T X.690 §8, §10): tag, length, content, nothing more.

Used for the fields cryptography does not expose (the raw subjectPublicKey of a
certificate for OCSP's issuerKeyHash, RFC 6960 §4.1.1; the policyMappings extension,
RFC 5280 §4.2.1.5) and for walking a CMS SignedData (:mod:`signsvc.verify._cmsparts`),
where a generic parse costs more than the signature check. Bounded: it never
recurses, reads lengths of at most four octets, and rejects lengths past the end.
What is valid BER but not DER (indefinite lengths) or uses multi-byte tags raises
:class:`NotDerError`, so a caller can hand those bytes to asn1crypto instead.
"""

from __future__ import annotations

__all__ = ["DerError", "NotDerError", "children", "elements", "policy_mappings", "read_tlv",
           "subject_public_key_bits"]


class DerError(ValueError):
    """The bytes are not the DER structure expected."""


class NotDerError(DerError):
    """Valid ASN.1 this reader leaves to a full parser: an indefinite length or a
    constructed string (BER, which some old signers emit), or a multi-byte tag."""


def read_tlv(data: bytes, offset: int = 0, end: int | None = None) -> tuple[int, int, int]:
    """Read one TLV at ``offset`` (within ``data[:end]``): returns (tag byte, content
    start, content end)."""
    limit = len(data) if end is None else end
    if offset + 2 > limit:
        raise DerError("truncated TLV")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise NotDerError("multi-byte tag")
    length = data[offset + 1]
    pos = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0:
            raise NotDerError("indefinite length (BER)")
        if count > 4 or pos + count > limit:
            raise DerError("unsupported or truncated length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    stop = pos + length
    if stop > limit:
        raise DerError("length runs past the end of the data")
    return tag, pos, stop


def elements(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, content start, content end) of each TLV directly inside
    ``data[start:end]``."""
    out = []
    pos = start
    while pos < end:
        tag, cstart, cend = read_tlv(data, pos, end)
        out.append((tag, pos, cstart, cend))
        pos = cend
    return out


def children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(tag, content start, content end) of each TLV directly inside ``data[start:end]``."""
    return [(tag, cstart, cend) for tag, _, cstart, cend in elements(data, start, end)]


def subject_public_key_bits(tbs: bytes) -> bytes:
    """The subjectPublicKey BIT STRING contents (without the unused-bits octet) of a
    TBSCertificate: what RFC 6960 §4.1.1 hashes into issuerKeyHash.

    RFC 5280 §4.1: TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber,
    signature, issuer, validity, subject, subjectPublicKeyInfo, ... }.
    """
    tag, start, end = read_tlv(tbs)
    if tag != 0x30:
        raise DerError("TBSCertificate is not a SEQUENCE")
    fields = children(tbs, start, end)
    if fields and fields[0][0] == 0xA0:
        fields = fields[1:]
    if len(fields) < 6:
        raise DerError("TBSCertificate has too few fields")
    _, sstart, send = fields[5]
    spki = children(tbs, sstart, send)
    if len(spki) != 2 or spki[0][0] != 0x30 or spki[1][0] != 0x03:
        raise DerError("malformed SubjectPublicKeyInfo")
    bits = tbs[spki[1][1] : spki[1][2]]
    if not bits or bits[0] != 0:
        raise DerError("subjectPublicKey has unused bits")
    return bits[1:]


def _oid(body: bytes) -> str:
    if not body or body[-1] & 0x80:
        raise DerError("malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in (first, arcs[0] - 40 * first, *arcs[1:]))


def policy_mappings(value: bytes) -> tuple[tuple[str, str], ...]:
    """Decode PolicyMappings ::= SEQUENCE OF SEQUENCE { issuerDomainPolicy,
    subjectDomainPolicy } (RFC 5280 §4.2.1.5) into dotted-OID pairs."""
    tag, start, end = read_tlv(value)
    if tag != 0x30 or end != len(value):
        raise DerError("PolicyMappings is not a SEQUENCE")
    out = []
    for m_tag, m_start, m_end in children(value, start, end):
        pair = children(value, m_start, m_end)
        if m_tag != 0x30 or len(pair) != 2 or pair[0][0] != 0x06 or pair[1][0] != 0x06:
            raise DerError("malformed PolicyMapping")
        out.append(
            (_oid(value[pair[0][1] : pair[0][2]]), _oid(value[pair[1][1] : pair[1][2]]))
        )
    return tuple(out)
