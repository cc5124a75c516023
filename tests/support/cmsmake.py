"""CMS SignedData built by hand for the verify tests, in every form real signers use,
and embedded into a PDF that pyHanko prepared.

The PDF comes from pyHanko's interrupted signing (``async_digest_doc_for_signing``):
its ``/Contents`` gap is left as zeros and filled here with our own container, so
the document bytes are pyHanko's and the CMS is exactly what a test asks for
(RFC 5652 §5: with or without signed attributes, issuer/serial or SKI signer id,
RSA PKCS#1 v1.5, RSA-PSS, ECDSA, Ed25519, Ed448; ``adbe.pkcs7.sha1``; BER).

Example::

    signer = leaf("ed25519")
    pdf = prepared_pdf(tmp_path / "a.pdf")
    embed(pdf, lambda data: signed_data(signer, data, digest="sha512"))
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from signsvc._der import read_tlv
from tests.support.paths import PKI
from tests.support.pdfs import one_page_pdf

__all__ = ["Signer", "byte_range", "embed", "issue_leaf", "leaf", "prepared_pdf", "signed_bytes",
           "signed_data", "tamper", "to_ber"]

_HASH: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
    "sha512": hashes.SHA512}
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | (
    ed448.Ed448PrivateKey)


@dataclass(frozen=True)
class Signer:
    """A key, its certificate and the chain above it (issuing CA first)."""

    key: PrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]


def _pem_cert(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((PKI / f"{name}.crt.pem").read_bytes())


def _pem_key(name: str) -> Any:
    return serialization.load_pem_private_key((PKI / f"{name}.key.pem").read_bytes(), None)


@cache
def leaf(kind: str) -> Signer:
    """A signer under the test PKI's gov-ca-g2: ``rsa`` and ``p256`` are committed
    certs_test leaves; ``p384``, ``ed25519``, ``ed448`` are issued here, with the
    same profile (digitalSignature + nonRepudiation, SKI, AKI)."""
    ca = (_pem_cert("gov-ca-g2"),)
    if kind == "rsa":
        return Signer(_pem_key("official-rsa2048"), _pem_cert("official-rsa2048"), ca)
    if kind == "p256":
        return Signer(_pem_key("official-ec"), _pem_cert("official-ec"), ca)
    makers: dict[str, Callable[[], PrivateKey]] = {
        "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate,
        "ed448": ed448.Ed448PrivateKey.generate,
        "rsa-other": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }
    key = makers[kind]()
    return Signer(key, issue_leaf(key.public_key(), f"TEST ONLY {kind} signer"), ca)


def issue_leaf(public: Any, cn: str, *, extra: tuple[x509.ExtensionType, ...] = (),
               serial: int = 0x5E1C0001) -> x509.Certificate:
    """A leaf certificate for ``public`` signed by the test gov-ca-g2."""
    ca_cert, ca_key = _pem_cert("gov-ca-g2"), _pem_key("gov-ca-g2")
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False,
                                     False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
    )
    for ext in extra:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _signature_algorithm(key: PrivateKey, digest: str, pss: bool) -> dict[str, Any]:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return {"algorithm": "ed25519"}
    if isinstance(key, ed448.Ed448PrivateKey):
        return {"algorithm": "ed448"}
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"algorithm": f"{digest}_ecdsa"}
    if pss:
        return {"algorithm": "rsassa_pss", "parameters": {
            "hash_algorithm": {"algorithm": digest},
            "mask_gen_algorithm": {"algorithm": "mgf1",
                                   "parameters": {"algorithm": digest}},
            "salt_length": _HASH[digest]().digest_size,
        }}
    return {"algorithm": "rsassa_pkcs1v15"}


def _sign(key: PrivateKey, data: bytes, digest: str, pss: bool) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return key.sign(data)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(_HASH[digest]()))
    if pss:
        return key.sign(data, padding.PSS(padding.MGF1(_HASH[digest]()),
                                          _HASH[digest]().digest_size), _HASH[digest]())
    return key.sign(data, padding.PKCS1v15(), _HASH[digest]())


def _digest(name: str, data: bytes) -> bytes:
    if name == "shake256":
        return hashlib.shake_256(data).digest(64)
    return hashlib.new(name, data).digest()


def signed_data(
    signer: Signer, content: bytes, *, digest: str = "sha256", pss: bool = False,
    attrs: bool = True, sid: str = "issuer_serial", econtent: bytes | None = None,
    content_type: str = "data", signing_key: PrivateKey | None = None,
) -> bytes:
    """DER ContentInfo of a SignedData with one SignerInfo by ``signer``.

    ``content`` is what is signed: the ``/ByteRange`` bytes of a detached signature,
    or the eContent (``econtent`` set and not empty: it is embedded, and ``content``
    is ignored).
    Without ``attrs`` the signature is over the content itself (RFC 5652 §5.4).
    ``signing_key`` signs in place of the signer's own key (a wrong-key case).
    """
    key = signing_key or signer.key
    # An empty eContent is signed as the detached form it stands for (what Adobe
    # Acrobat and Foxit accept, and the pyHanko corpus file does).
    signed = econtent if econtent else content
    cert = asn1_x509.Certificate.load(signer.cert.public_bytes(Encoding.DER))
    certs = [cert] + [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER))
                      for c in signer.chain]
    if sid == "ski":
        sid_value = cms.SignerIdentifier({"subject_key_identifier": cert.key_identifier})
    else:
        sid_value = cms.SignerIdentifier({"issuer_and_serial_number": {
            "issuer": cert.issuer, "serial_number": cert.serial_number}})
    hash_for_signing = "sha512" if digest == "shake256" else digest
    info: dict[str, Any] = {
        "version": "v3" if sid == "ski" else "v1",
        "sid": sid_value,
        "digest_algorithm": {"algorithm": digest},
        "signature_algorithm": _signature_algorithm(key, hash_for_signing, pss),
    }
    if attrs:
        signed_attrs = cms.CMSAttributes([
            {"type": "content_type", "values": [content_type]},
            {"type": "message_digest", "values": [_digest(digest, signed)]},
            {"type": "signing_certificate_v2", "values": [tsp.SigningCertificateV2({
                "certs": [{"hash_algorithm": {"algorithm": "sha256"},
                           "cert_hash": hashlib.sha256(cert.dump()).digest()}]})]},
        ])
        info["signed_attrs"] = signed_attrs
        to_sign = signed_attrs.dump()
    else:
        to_sign = signed
    info["signature"] = _sign(key, to_sign, hash_for_signing, pss)
    encap: dict[str, Any] = {"content_type": content_type}
    if econtent is not None:
        encap["content"] = (econtent if content_type == "data"
                            else cms.ParsableOctetString(econtent))
    sd = cms.SignedData({
        # RFC 5652 §5.1: v3 with an SKI signer id or a content type other than data.
        "version": "v3" if sid == "ski" or content_type != "data" else "v1",
        "digest_algorithms": [{"algorithm": digest}],
        "encap_content_info": encap,
        "certificates": certs,
        "signer_infos": [cms.SignerInfo(info)],
    })
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump())


def to_ber(der: bytes, depth: int = 4) -> bytes:
    """The same value with every constructed element down to ``depth`` levels in BER
    indefinite-length form (X.690 §8.1.3.6); deeper ones (the signed attributes,
    which are signed as DER) stay as they are."""
    tag, start, end = read_tlv(der, 0, len(der))
    body = der[start:end]
    if not tag & 0x20 or depth == 0:
        return der[:end]
    parts, pos = [], 0
    while pos < len(body):
        _, _, child_end = read_tlv(body, pos, len(body))
        parts.append(to_ber(body[pos:child_end], depth - 1))
        pos = child_end
    return bytes([tag, 0x80]) + b"".join(parts) + b"\x00\x00"


def prepared_pdf(path: Path, *, subfilter: str = "adbe.pkcs7.detached",
                 reserved: int = 16384) -> Path:
    """A one-page PDF with a signature field whose ``/Contents`` pyHanko left as
    zeros (``reserved`` bytes); ``adbe.pkcs7.sha1`` is written over pyHanko's
    ``adbe.pkcs7.detached`` in place (same length, so every offset holds)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    cert = asn1_x509.Certificate.load(leaf("rsa").cert.public_bytes(Encoding.DER))
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1", md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED)
    placeholder = signers.ExternalSigner(cert, SimpleCertificateStore(),  # type: ignore[no-untyped-call]
                                         signature_value=bytes(256))
    writer = IncrementalPdfFileWriter(io.BytesIO(one_page_pdf()))

    async def prepare() -> bytes:
        _, _, output = await signers.PdfSigner(meta, placeholder).async_digest_doc_for_signing(
            writer, bytes_reserved=reserved)
        output.seek(0)
        return bytes(output.read())

    data = asyncio.run(prepare())
    if subfilter != "adbe.pkcs7.detached":
        old = b"/SubFilter /adbe.pkcs7.detached"
        new = b"/SubFilter /" + subfilter.encode()
        assert data.count(old) == 1 and len(new) <= len(old)
        data = data.replace(old, new.ljust(len(old)))
    path.write_bytes(data)
    return path


def byte_range(data: bytes) -> tuple[int, int, int, int]:
    found = re.findall(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    start1, len1, start2, len2 = (int(x) for x in found[-1])
    return start1, len1, start2, len2


def signed_bytes(path: Path) -> bytes:
    """The bytes the ``/ByteRange`` of the last signature covers."""
    data = path.read_bytes()
    _, len1, start2, len2 = byte_range(data)
    return data[:len1] + data[start2 : start2 + len2]


def embed(path: Path, make: Callable[[bytes], bytes]) -> Path:
    """Write ``make(signed bytes)`` into the ``/Contents`` gap of ``path``, in
    upper-case hex padded with zeros: the gap is outside the ``/ByteRange``."""
    data = bytearray(path.read_bytes())
    _, len1, start2, _ = byte_range(bytes(data))
    blob = make(signed_bytes(path)).hex().upper().encode()
    room = start2 - len1 - 2
    assert data[len1] == ord("<") and data[start2 - 1] == ord(">")
    assert len(blob) <= room, f"CMS of {len(blob) // 2} bytes, room for {room // 2}"
    data[len1 + 1 : start2 - 1] = blob.ljust(room, b"0")
    path.write_bytes(bytes(data))
    return path


def tamper(path: Path, out: Path) -> Path:
    """A copy of ``path`` with one byte inside the first ``/ByteRange`` part changed
    (in the page's text, so the file stays readable)."""
    data = bytearray(path.read_bytes())
    at = data.index(b"TEST ONLY")
    data[at] = ord("B")
    out.write_bytes(bytes(data))
    return out

