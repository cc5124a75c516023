#!/usr/bin/env python3
"""Regenerate the TEST-ONLY PKI, CRLs and signature images in ``certs_test/``.

Usage: ``python certs_test/generate.py [--out DIR]`` (default: this script's folder).

Everything here mirrors the shape of the real Vietnamese hierarchies (Vietnam National
Root CA with VNPT-CA / Viettel-CA, Ban Cơ yếu Chính phủ G2, and the SHA-1 era G1), but
every DN says "TEST ONLY" and every key is freshly random: NEVER trust this material.
Dates and serial numbers are fixed so that tests can assert exact values; keys change on
every run, which is fine because the output is committed.

Only the standard library and ``cryptography`` are used. ``cryptography`` refuses to sign
certificates or CRLs with SHA-1, so the G1 material is built with SHA-256 and re-signed
with a small DER splice (see :func:`_resign_sha1`).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from pngdraw import DPI, draw_seal, draw_signature  # sibling module (run as a script)

Role = Literal["root", "ca", "leaf"]
HashName = Literal["sha256", "sha1"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

BASE_URL = "http://127.0.0.1:18480"
PKCS12_PASSWORD = b"1234"
GOV_POLICY = x509.ObjectIdentifier("2.16.704.1.1.1.1.1")  # Ban Cơ yếu Chính phủ policy
GOV_CAS = frozenset({"gov-ca-g2", "gov-ca-g1"})
SERIAL_BASE = 0x5E1C5E0000000001  # serial = base + index in SPECS: fixed and distinct

# The DER AlgorithmIdentifiers for sha256WithRSAEncryption and sha1WithRSAEncryption
# (both with NULL parameters) have the same length, so one can be swapped for the other
# inside a TBS structure without touching any enclosing length.
_ALG_SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_ALG_SHA1_RSA = bytes.fromhex("300d06092a864886f70d0101050500")

_KU_FIELDS = ("digital_signature", "content_commitment", "key_encipherment",
              "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
              "encipher_only", "decipher_only")
CA_USAGE = frozenset({"key_cert_sign", "crl_sign"})
SIGNING_USAGE = frozenset({"digital_signature", "content_commitment"})  # nonRepudiation


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    """Return an aware UTC datetime (naive datetimes are ambiguous in x509 APIs)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def end_of(year: int, month: int, day: int) -> datetime:
    """Last second of a day, so a cert "valid until D" is valid all of D."""
    return utc(year, month, day, 23, 59, 59)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, as written to the manifest."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dn(org: str, cn: str, ou: str = "TEST ONLY", city: str | None = None) -> x509.Name:
    """Build ``C=VN, O=, OU=, [L=,] CN=`` in the order used by Vietnamese CAs.

    ``cryptography`` encodes C as PrintableString (required by RFC 5280) and every other
    attribute used here as UTF8String, which keeps Vietnamese diacritics exact.
    """
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
             x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou)]
    if city is not None:
        attrs.append(x509.NameAttribute(NameOID.LOCALITY_NAME, city))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


@dataclass(frozen=True)
class Spec:
    """One certificate to issue; its serial is ``SERIAL_BASE`` + its index in SPECS."""

    name: str
    role: Role
    issuer: str | None  # None: self-signed root
    subject: x509.Name
    key: tuple[Literal["RSA", "EC"], int]
    not_before: datetime
    not_after: datetime
    hash: HashName = "sha256"
    path_len: int | None = None
    usage: frozenset[str] = SIGNING_USAGE
    eku: tuple[x509.ObjectIdentifier, ...] = ()
    eku_critical: bool = False
    ocsp_nocheck: bool = False
    expected: str = "good"


@dataclass(frozen=True)
class Revocation:
    """A leaf that its issuer's CRL lists as revoked."""

    name: str
    date: datetime
    reason: x509.ReasonFlags


@dataclass
class Issued:
    """A generated entity: its spec, key and certificate."""

    spec: Spec
    key: PrivateKey
    cert: x509.Certificate


BCY = "Ban Cơ yếu Chính phủ"
LEAF_FROM, LEAF_TO = utc(2025, 1, 1), end_of(2045, 12, 31)
CA_FROM, CA_TO = utc(2024, 1, 1), end_of(2047, 12, 31)
ROOT_TO = end_of(2049, 12, 31)  # still UTCTime: years >= 2050 would be GeneralizedTime


def _ca(name: str, issuer: str | None, org: str, cn: str, bits: int, not_before: datetime,
        not_after: datetime, ou: str = "TEST ONLY", hash: HashName = "sha256") -> Spec:
    """A root (``issuer`` None) or an issuing CA; issuing CAs get pathLen 0."""
    return Spec(name, "ca" if issuer else "root", issuer, dn(org, cn, ou=ou), ("RSA", bits),
                not_before, not_after, hash=hash, path_len=0 if issuer else None,
                usage=CA_USAGE, expected="legacy-sha1" if hash == "sha1" else "good")


def _leaf(name: str, issuer: str, cn: str, org: str, city: str, key: int | str = 2048,
          **changes: Any) -> Spec:
    """A person/organisation leaf: ``C=VN, O=org, OU=TEST ONLY, L=city, CN=cn``."""
    kind: Literal["RSA", "EC"] = "EC" if key == "EC" else "RSA"
    spec = Spec(name, "leaf", issuer, dn(org, cn, city=city), (kind, 256 if key == "EC"
                else int(key)), LEAF_FROM, LEAF_TO)
    return replace(spec, **changes)


def _ocsp(name: str, issuer: str, cn: str, org: str) -> Spec:
    """A delegated OCSP responder (RFC 6960 4.2.2.2) with id-pkix-ocsp-nocheck."""
    return _leaf(name, issuer, cn, org, "Hà Nội", usage=frozenset({"digital_signature"}),
                 eku=(ExtendedKeyUsageOID.OCSP_SIGNING,), ocsp_nocheck=True,
                 expected="ocsp-responder")


MIC, G1_FROM = "Ministry of Information and Communications", utc(2014, 1, 1)
SPECS: list[Spec] = [
    _ca("vn-root", None, MIC, "TEST ONLY Vietnam National Root CA", 4096, CA_FROM, ROOT_TO,
        ou="TEST ONLY National Centre of Digital Signature Authentication"),
    _ca("vnpt-ca", "vn-root", "VNPT Group", "TEST ONLY VNPT-CA SHA2", 3072, CA_FROM, CA_TO,
        ou="TEST ONLY VNPT-CA"),
    _ca("viettel-ca", "vn-root", "Viettel Group", "TEST ONLY Viettel-CA SHA2", 2048, CA_FROM,
        CA_TO, ou="TEST ONLY Viettel-CA"),
    _ca("gov-root-g2", None, BCY, "TEST ONLY RootCA chuyên dùng Chính phủ G2", 4096, CA_FROM,
        ROOT_TO),
    _ca("gov-ca-g2", "gov-root-g2", BCY, "TEST ONLY CA phục vụ các cơ quan Nhà nước G2", 3072,
        CA_FROM, CA_TO),
    _ca("gov-root-g1", None, BCY, "TEST ONLY RootCA chuyên dùng Chính phủ", 2048, G1_FROM,
        end_of(2034, 12, 31), hash="sha1"),
    _ca("gov-ca-g1", "gov-root-g1", BCY, "TEST ONLY CA phục vụ các cơ quan Nhà nước", 2048,
        G1_FROM, end_of(2029, 12, 31), hash="sha1"),
    _leaf("official-rsa2048", "gov-ca-g2", "Nguyễn Thị Lấp Lánh Ánh",
          "Ủy ban nhân dân quận Ô Môn", "Cần Thơ"),
    _leaf("official-rsa3072", "vnpt-ca", "Trần Văn Đức", "Sở Nội vụ thành phố Cần Thơ",
          "Cần Thơ", key=3072),
    _leaf("official-ec", "gov-ca-g2", "Lê Thị Ngọc Ẩn", "Ủy ban nhân dân thành phố Đà Nẵng",
          "Đà Nẵng", key="EC"),
    _leaf("official-viettel", "viettel-ca", "TRẦN NGỌC TÚ", "Công ty TNHH Mặt Trời Mọc",
          "Hà Nội"),
    _leaf("org-omon", "gov-ca-g2", "UBND quận Ô Môn", "UBND quận Ô Môn", "Cần Thơ"),
    _leaf("org-sonoivu", "gov-ca-g2", "Sở Nội vụ thành phố Cần Thơ",
          "Sở Nội vụ thành phố Cần Thơ", "Cần Thơ", key="EC"),
    _leaf("expired", "gov-ca-g2", "Phạm Văn Hết Hạn", "Ủy ban nhân dân quận Ô Môn", "Cần Thơ",
          not_before=utc(2024, 1, 1), not_after=end_of(2024, 12, 31), expected="expired"),
    _leaf("not-yet-valid", "gov-ca-g2", "Võ Thị Chưa Tới", "Ủy ban nhân dân quận Ô Môn",
          "Cần Thơ", not_before=utc(2040, 1, 1), not_after=end_of(2046, 12, 31),
          expected="not-yet-valid"),
    _leaf("revoked", "gov-ca-g2", "Đặng Văn Thu Hồi", "Sở Nội vụ thành phố Cần Thơ", "Cần Thơ",
          expected="revoked"),
    _leaf("revoked-public", "vnpt-ca", "Hoàng Thị Bị Hủy", "Công ty TNHH Mặt Trời Mọc",
          "Hà Nội", expected="revoked"),
    _leaf("wrong-ku", "gov-ca-g2", "Bùi Văn Sai Mục Đích", "Ủy ban nhân dân quận Ô Môn",
          "Cần Thơ", usage=frozenset({"key_encipherment"}), expected="wrong-key-usage"),
    _leaf("tsa", "gov-ca-g2", "TEST ONLY TSA Ban Cơ yếu", BCY, "Hà Nội",
          usage=frozenset({"digital_signature"}), eku=(ExtendedKeyUsageOID.TIME_STAMPING,),
          eku_critical=True, expected="tsa"),  # RFC 3161 2.3: EKU must be critical
    _ocsp("ocsp-gov-ca-g2", "gov-ca-g2", "TEST ONLY OCSP CA phục vụ các cơ quan Nhà nước G2",
          BCY),
    _ocsp("ocsp-vnpt-ca", "vnpt-ca", "TEST ONLY OCSP VNPT-CA SHA2", "VNPT Group"),
    _leaf("legacy-official", "gov-ca-g1", "Nguyễn Văn Cũ", "Văn phòng Chính phủ", "Hà Nội",
          not_before=utc(2014, 6, 1), not_after=end_of(2019, 6, 1), hash="sha1",
          expected="legacy-sha1"),
]

REVOCATIONS: list[Revocation] = [
    Revocation("revoked", utc(2026, 3, 15, 8), x509.ReasonFlags.key_compromise),
    Revocation("revoked-public", utc(2026, 2, 1), x509.ReasonFlags.superseded),
]

# thisUpdate is after every revocation date so the entries are "already known".
CRL_TIMES: dict[HashName, tuple[datetime, datetime]] = {
    "sha256": (utc(2026, 6, 1), utc(2045, 12, 31)),
    "sha1": (utc(2014, 6, 1), utc(2029, 12, 31)),
}


def new_key(kind: str, size: int) -> PrivateKey:
    """Generate a fresh RSA (e=65537) or P-256 key."""
    if kind == "EC":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


def _der(tag: int, body: bytes) -> bytes:
    """Encode one DER TLV (definite length, short or long form)."""
    if len(body) < 0x80:
        return bytes([tag, len(body)]) + body
    raw = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + body


def _resign_sha1(tbs: bytes, key: PrivateKey) -> bytes:
    """Turn a SHA-256 TBSCertificate/TBSCertList into a SHA-1-signed DER structure.

    Certificate and CertificateList share the layout SEQUENCE { tbs, algorithm, BIT STRING },
    and the TBS repeats the algorithm exactly once (SPKIs use rsaEncryption, not this OID).
    """
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("the SHA-1 hierarchy is RSA-only")
    if tbs.count(_ALG_SHA256_RSA) != 1:
        raise ValueError("unexpected TBS layout: algorithm identifier not found exactly once")
    tbs = tbs.replace(_ALG_SHA256_RSA, _ALG_SHA1_RSA)
    signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    return _der(0x30, tbs + _ALG_SHA1_RSA + _der(0x03, b"\x00" + signature))


def _ski(cert: x509.Certificate) -> x509.SubjectKeyIdentifier:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value


def _uri(url: str) -> x509.UniformResourceIdentifier:
    return x509.UniformResourceIdentifier(url)


def _crl_dp(issuer: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints([x509.DistributionPoint(
        full_name=[_uri(f"{BASE_URL}/crl/{issuer}.crl")], relative_name=None, reasons=None,
        crl_issuer=None)])


def issue(spec: Spec, serial: int, issued: dict[str, Issued]) -> Issued:
    """Create the key and certificate for ``spec``, signed by its (already issued) issuer."""
    key = new_key(*spec.key)
    parent = issued[spec.issuer] if spec.issuer else None
    signer_key = parent.key if parent else key
    issuer_name = parent.cert.subject if parent else spec.subject
    builder = (x509.CertificateBuilder()
               .subject_name(spec.subject).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(serial)
               .not_valid_before(spec.not_before).not_valid_after(spec.not_after)
               .add_extension(x509.BasicConstraints(ca=spec.role != "leaf",
                                                    path_length=spec.path_len), critical=True)
               .add_extension(x509.KeyUsage(**{f: f in spec.usage for f in _KU_FIELDS}),
                              critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if parent is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(_ski(parent.cert)),
            critical=False).add_extension(_crl_dp(parent.spec.name), critical=False)
    if spec.role == "leaf" and parent is not None:
        builder = builder.add_extension(x509.AuthorityInformationAccess([
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                   _uri(f"{BASE_URL}/ocsp/{parent.spec.name}")),
            x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                   _uri(f"{BASE_URL}/certs/{parent.spec.name}.crt")),
        ]), critical=False)
        if parent.spec.name in GOV_CAS:
            builder = builder.add_extension(x509.CertificatePolicies(
                [x509.PolicyInformation(GOV_POLICY, None)]), critical=False)
    if spec.eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(spec.eku)),
                                        critical=spec.eku_critical)
    if spec.ocsp_nocheck:
        builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
    cert = builder.sign(signer_key, hashes.SHA256())
    if spec.hash == "sha1":
        cert = x509.load_der_x509_certificate(_resign_sha1(cert.tbs_certificate_bytes,
                                                           signer_key))
    return Issued(spec, key, cert)


def make_crl(ca: Issued, issued: dict[str, Issued]) -> x509.CertificateRevocationList:
    """Build ``ca``'s CRL (number 1) listing every REVOCATIONS entry that it issued."""
    this_update, next_update = CRL_TIMES[ca.spec.hash]
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(ca.cert.subject).last_update(this_update).next_update(next_update)
               .add_extension(x509.CRLNumber(1), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                   _ski(ca.cert)), critical=False))
    for rev in REVOCATIONS:
        leaf = issued[rev.name]
        if leaf.spec.issuer == ca.spec.name:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(leaf.cert.serial_number)
                .revocation_date(rev.date)
                .add_extension(x509.CRLReason(rev.reason), critical=False).build())
    crl = builder.sign(ca.key, hashes.SHA256())
    if ca.spec.hash == "sha1":
        crl = x509.load_der_x509_crl(_resign_sha1(crl.tbs_certlist_bytes, ca.key))
    return crl


def chain_of(item: Issued, issued: dict[str, Issued]) -> list[x509.Certificate]:
    """Issuer chain of ``item``: its intermediate(s), then the root."""
    chain: list[x509.Certificate] = []
    name = item.spec.issuer
    while name is not None:
        chain.append(issued[name].cert)
        name = issued[name].spec.issuer
    return chain


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_entity(item: Issued, issued: dict[str, Issued], out: Path) -> list[str]:
    """Write one entity's files and return their names (relative to ``out``)."""
    name = item.spec.name
    files: dict[str, bytes] = {
        f"{name}.crt.pem": _pem(item.cert),
        # DER for every cert, not only leaves: caIssuers URLs must serve DER (RFC 5280).
        f"{name}.crt.der": item.cert.public_bytes(serialization.Encoding.DER),
        f"{name}.key.pem": item.key.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()),
    }
    if item.spec.role == "leaf":
        chain = chain_of(item, issued)
        files[f"{name}.chain.pem"] = b"".join(_pem(c) for c in chain)
        cn = item.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        # BestAvailableEncryption = PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) + SHA-256 MAC.
        files[f"{name}.p12"] = pkcs12.serialize_key_and_certificates(
            str(cn).encode("utf-8"), item.key, item.cert, chain,
            serialization.BestAvailableEncryption(PKCS12_PASSWORD))
    for file_name, data in files.items():
        (out / file_name).write_bytes(data)
    return sorted(files)


def describe(item: Issued, files: list[str]) -> dict[str, object]:
    """Manifest entry for one entity."""
    cert = item.cert
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    return {
        "name": item.spec.name, "role": item.spec.role, "issuer": item.spec.issuer,
        "subject": cert.subject.rfc4514_string(), "common_name": cn,
        "serial": format(cert.serial_number, "x"), "key_type": item.spec.key[0],
        "key_size": item.spec.key[1], "hash": item.spec.hash,
        "not_before": iso(cert.not_valid_before_utc), "not_after": iso(cert.not_valid_after_utc),
        "files": files, "expected": item.spec.expected,
    }


# --------------------------------------------------------------------------- main


def generate(out: Path) -> dict[str, object]:
    """Write every file into ``out`` and return the manifest (also written there)."""
    (out / "crl").mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(parents=True, exist_ok=True)
    issued: dict[str, Issued] = {}
    entities: list[dict[str, object]] = []
    for index, spec in enumerate(SPECS):
        issued[spec.name] = issue(spec, SERIAL_BASE + index, issued)
    for item in issued.values():
        entities.append(describe(item, write_entity(item, issued, out)))

    crls: list[dict[str, object]] = []
    for ca in (i for i in issued.values() if i.spec.role != "leaf"):
        crl = make_crl(ca, issued)
        files = [f"crl/{ca.spec.name}.crl.pem", f"crl/{ca.spec.name}.crl.der"]
        (out / files[0]).write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        (out / files[1]).write_bytes(crl.public_bytes(serialization.Encoding.DER))
        crls.append({
            "ca": ca.spec.name, "file": files[1], "files": files, "crl_number": 1,
            "hash": ca.spec.hash, "this_update": iso(crl.last_update_utc),
            "next_update": iso(crl.next_update_utc) if crl.next_update_utc else None,
            "revoked": [{"name": r.name, "serial": format(issued[r.name].cert.serial_number, "x"),
                         "date": iso(r.date), "reason": r.reason.name}
                        for r in REVOCATIONS if issued[r.name].spec.issuer == ca.spec.name],
        })

    (out / "images" / "signature.png").write_bytes(draw_signature())
    (out / "images" / "seal.png").write_bytes(draw_seal())
    manifest: dict[str, object] = {
        "warning": "TEST ONLY - never trust these certificates or keys",
        "generator": "certs_test/generate.py",
        "pkcs12_password": PKCS12_PASSWORD.decode(),
        "entities": entities,
        "crls": crls,
        "images": [
            {"name": "signature", "file": "images/signature.png", "width": 600, "height": 240,
             "dpi": DPI, "rgb": [20, 50, 170]},
            {"name": "seal", "file": "images/seal.png", "width": 472, "height": 472,
             "dpi": DPI, "rgb": [200, 20, 30], "diameter_mm": 40},
        ],
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="output folder (default: the folder of this script)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    generate(args.out)
    print(f"wrote {len(SPECS)} certificates, their CRLs and 2 images to {args.out} "
          f"in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
