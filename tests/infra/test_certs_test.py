"""Checks of the committed TEST-ONLY PKI in ``certs_test/`` (made by certs_test/generate.py).

These tests use only ``cryptography`` and the standard library, never the project's own
package, so a bug in signsvc cannot hide a bug in its fixtures. Expected values are
written out here (not only read from manifest.json) so the manifest is checked too.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from tests.support.paths import PKI

CERTS = PKI
MANIFEST: dict[str, Any] = json.loads((CERTS / "manifest.json").read_text(encoding="utf-8"))
ENTITIES: dict[str, dict[str, Any]] = {e["name"]: e for e in MANIFEST["entities"]}
BASE_URL = "http://127.0.0.1:18480"
GOV_POLICY = x509.ObjectIdentifier("2.16.704.1.1.1.1.1")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# name -> (issuer, common name, key type, key size, hash). Straight from the brief.
EXPECTED: dict[str, tuple[str | None, str, str, int, str]] = {
    "vn-root": (None, "TEST ONLY Vietnam National Root CA", "RSA", 4096, "sha256"),
    "vnpt-ca": ("vn-root", "TEST ONLY VNPT-CA SHA2", "RSA", 3072, "sha256"),
    "viettel-ca": ("vn-root", "TEST ONLY Viettel-CA SHA2", "RSA", 2048, "sha256"),
    "gov-root-g2": (None, "TEST ONLY RootCA chuyên dùng Chính phủ G2", "RSA", 4096, "sha256"),
    "gov-ca-g2": ("gov-root-g2", "TEST ONLY CA phục vụ các cơ quan Nhà nước G2", "RSA", 3072,
                  "sha256"),
    "gov-root-g1": (None, "TEST ONLY RootCA chuyên dùng Chính phủ", "RSA", 2048, "sha1"),
    "gov-ca-g1": ("gov-root-g1", "TEST ONLY CA phục vụ các cơ quan Nhà nước", "RSA", 2048,
                  "sha1"),
    "official-rsa2048": ("gov-ca-g2", "Nguyễn Thị Lấp Lánh Ánh", "RSA", 2048, "sha256"),
    "official-rsa3072": ("vnpt-ca", "Trần Văn Đức", "RSA", 3072, "sha256"),
    "official-ec": ("gov-ca-g2", "Lê Thị Ngọc Ẩn", "EC", 256, "sha256"),
    "official-viettel": ("viettel-ca", "TRẦN NGỌC TÚ", "RSA", 2048, "sha256"),
    "org-omon": ("gov-ca-g2", "UBND quận Ô Môn", "RSA", 2048, "sha256"),
    "org-sonoivu": ("gov-ca-g2", "Sở Nội vụ thành phố Cần Thơ", "EC", 256, "sha256"),
    "expired": ("gov-ca-g2", "Phạm Văn Hết Hạn", "RSA", 2048, "sha256"),
    "not-yet-valid": ("gov-ca-g2", "Võ Thị Chưa Tới", "RSA", 2048, "sha256"),
    "revoked": ("gov-ca-g2", "Đặng Văn Thu Hồi", "RSA", 2048, "sha256"),
    "revoked-public": ("vnpt-ca", "Hoàng Thị Bị Hủy", "RSA", 2048, "sha256"),
    "wrong-ku": ("gov-ca-g2", "Bùi Văn Sai Mục Đích", "RSA", 2048, "sha256"),
    "tsa": ("gov-ca-g2", "TEST ONLY TSA Ban Cơ yếu", "RSA", 2048, "sha256"),
    "ocsp-gov-ca-g2": ("gov-ca-g2", "TEST ONLY OCSP CA phục vụ các cơ quan Nhà nước G2", "RSA",
                       2048, "sha256"),
    "ocsp-vnpt-ca": ("vnpt-ca", "TEST ONLY OCSP VNPT-CA SHA2", "RSA", 2048, "sha256"),
    "legacy-official": ("gov-ca-g1", "Nguyễn Văn Cũ", "RSA", 2048, "sha1"),
}
LEAVES = [n for n in EXPECTED if ENTITIES[n]["role"] == "leaf"]
CAS = [n for n in EXPECTED if n not in LEAVES]

# Validity periods that differ from the defaults (leaf: 2025-01-01 -> 2045-12-31).
VALIDITY: dict[str, tuple[datetime, datetime]] = {
    "vn-root": (utc(2024, 1, 1), utc(2049, 12, 31, 23, 59, 59)),
    "gov-root-g2": (utc(2024, 1, 1), utc(2049, 12, 31, 23, 59, 59)),
    "vnpt-ca": (utc(2024, 1, 1), utc(2047, 12, 31, 23, 59, 59)),
    "viettel-ca": (utc(2024, 1, 1), utc(2047, 12, 31, 23, 59, 59)),
    "gov-ca-g2": (utc(2024, 1, 1), utc(2047, 12, 31, 23, 59, 59)),
    "gov-root-g1": (utc(2014, 1, 1), utc(2034, 12, 31, 23, 59, 59)),
    "gov-ca-g1": (utc(2014, 1, 1), utc(2029, 12, 31, 23, 59, 59)),
    "expired": (utc(2024, 1, 1), utc(2024, 12, 31, 23, 59, 59)),
    "not-yet-valid": (utc(2040, 1, 1), utc(2046, 12, 31, 23, 59, 59)),
    "legacy-official": (utc(2014, 6, 1), utc(2019, 6, 1, 23, 59, 59)),
}
LEAF_VALIDITY = (utc(2025, 1, 1), utc(2045, 12, 31, 23, 59, 59))


def cert(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((CERTS / f"{name}.crt.pem").read_bytes())


def crl(ca: str) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl((CERTS / "crl" / f"{ca}.crl.der").read_bytes())


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def check_signed_by(signed: x509.Certificate | x509.CertificateRevocationList,
                    issuer: x509.Certificate) -> None:
    """Raise unless ``issuer``'s key signed ``signed`` (SHA-1 included)."""
    assert signed.issuer == issuer.subject
    if isinstance(signed, x509.Certificate) and not isinstance(
            signed.signature_hash_algorithm, hashes.SHA1):
        signed.verify_directly_issued_by(issuer)  # also checks names and AKI/SKI linkage
        return
    # cryptography declines SHA-1 in verify_directly_issued_by/is_signature_valid, and
    # every CRL goes through the same plain check: verify the signature over the TBS bytes.
    tbs = (signed.tbs_certificate_bytes if isinstance(signed, x509.Certificate)
           else signed.tbs_certlist_bytes)
    algorithm = signed.signature_hash_algorithm
    assert algorithm is not None
    key = issuer.public_key()
    assert isinstance(key, rsa.RSAPublicKey)  # every CA here is RSA
    key.verify(signed.signature, tbs, padding.PKCS1v15(), algorithm)


def test_generator_reproduces_the_committed_manifest(tmp_path: Path) -> None:
    """Dates, serials and names are fixed, so only keys (not in the manifest) may differ."""
    subprocess.run([sys.executable, str(CERTS / "generate.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=120)
    fresh = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert fresh == MANIFEST
    committed = {p.relative_to(CERTS) for p in CERTS.rglob("*") if p.is_file()}
    assert {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()} <= committed


def test_manifest_lists_exactly_the_expected_entities() -> None:
    assert list(ENTITIES) == list(EXPECTED)
    assert MANIFEST["pkcs12_password"] == "1234"
    serials = [int(e["serial"], 16) for e in MANIFEST["entities"]]
    assert serials == [0x5E1C5E0000000001 + i for i in range(len(EXPECTED))]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_certificate_matches_manifest_and_brief(name: str) -> None:
    issuer, cn, key_type, key_size, hash_name = EXPECTED[name]
    entry, c = ENTITIES[name], cert(name)
    assert entry["issuer"] == issuer
    assert entry["common_name"] == cn
    assert c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
    assert c.subject.rfc4514_string() == entry["subject"]
    assert "TEST ONLY" in c.subject.rfc4514_string()
    assert "TEST ONLY" in c.issuer.rfc4514_string()
    assert format(c.serial_number, "x") == entry["serial"]
    not_before, not_after = VALIDITY.get(name, LEAF_VALIDITY)
    assert (c.not_valid_before_utc, c.not_valid_after_utc) == (not_before, not_after)
    assert (entry["not_before"], entry["not_after"]) == (iso(not_before), iso(not_after))
    assert (entry["key_type"], entry["key_size"], entry["hash"]) == (key_type, key_size,
                                                                      hash_name)
    public = c.public_key()
    if key_type == "EC":
        assert isinstance(public, ec.EllipticCurvePublicKey)
        assert isinstance(public.curve, ec.SECP256R1)
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        assert public.key_size == key_size
    expected_hash = hashes.SHA1 if hash_name == "sha1" else hashes.SHA256
    assert isinstance(c.signature_hash_algorithm, expected_hash)
    for rel in entry["files"]:
        assert (CERTS / rel).is_file(), rel
    assert x509.load_der_x509_certificate((CERTS / f"{name}.crt.der").read_bytes()) == c
    key = serialization.load_pem_private_key((CERTS / f"{name}.key.pem").read_bytes(), None)
    assert key.public_key() == public
    assert b"BEGIN PRIVATE KEY" in (CERTS / f"{name}.key.pem").read_bytes()  # PKCS#8


@pytest.mark.parametrize("name", list(EXPECTED))
def test_chains_to_its_issuer(name: str) -> None:
    c, issuer = cert(name), EXPECTED[name][0]
    check_signed_by(c, cert(issuer) if issuer else c)  # roots are self-signed
    ski = c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    if issuer is not None:
        aki = c.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        issuer_ski = cert(issuer).extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier).value
        assert aki.key_identifier == issuer_ski.digest
        dp = c.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert [u.value for u in dp[0].full_name or []] == [f"{BASE_URL}/crl/{issuer}.crl"]
    assert ski.digest == x509.SubjectKeyIdentifier.from_public_key(c.public_key()).digest


@pytest.mark.parametrize("name", list(EXPECTED))
def test_dn_strings_are_utf8(name: str) -> None:
    """C is a PrintableString (RFC 5280); everything else must be a UTF8String."""
    for name_ in (cert(name).subject, cert(name).issuer):
        der = name_.public_bytes()
        for attr in name_:
            value = str(attr.value).encode("utf-8")
            tag = 0x13 if attr.oid == NameOID.COUNTRY_NAME else 0x0C
            assert len(value) < 128  # short-form length keeps the TLV search simple
            assert bytes([tag, len(value)]) + value in der, (attr.oid, attr.value)


def test_official_dn_is_exact() -> None:
    subject = cert("official-rsa2048").subject
    assert [(a.oid, a.value) for a in subject] == [
        (NameOID.COUNTRY_NAME, "VN"),
        (NameOID.ORGANIZATION_NAME, "Ủy ban nhân dân quận Ô Môn"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "TEST ONLY"),
        (NameOID.LOCALITY_NAME, "Cần Thơ"),
        (NameOID.COMMON_NAME, "Nguyễn Thị Lấp Lánh Ánh"),
    ]
    assert cert("official-ec").subject.get_attributes_for_oid(
        NameOID.LOCALITY_NAME)[0].value == "Đà Nẵng"


@pytest.mark.parametrize("name", CAS)
def test_ca_profile(name: str) -> None:
    ext = cert(name).extensions
    bc = ext.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    assert bc.value.path_length == (None if EXPECTED[name][0] is None else 0)
    ku = ext.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature


@pytest.mark.parametrize("name", LEAVES)
def test_leaf_profile(name: str) -> None:
    c, issuer = cert(name), EXPECTED[name][0]
    ext = c.extensions
    bc = ext.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    aia = {(d.access_method, d.access_location.value)
           for d in ext.get_extension_for_class(x509.AuthorityInformationAccess).value}
    assert aia == {(AuthorityInformationAccessOID.OCSP, f"{BASE_URL}/ocsp/{issuer}"),
                   (AuthorityInformationAccessOID.CA_ISSUERS, f"{BASE_URL}/certs/{issuer}.crt")}
    if issuer in ("gov-ca-g2", "gov-ca-g1"):  # the government policy OID on gov leaves only
        policies = ext.get_extension_for_class(x509.CertificatePolicies).value
        assert [p.policy_identifier for p in policies] == [GOV_POLICY]
    else:
        with pytest.raises(x509.ExtensionNotFound):
            ext.get_extension_for_class(x509.CertificatePolicies)
    ku = ext.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    if name in ("tsa", "ocsp-gov-ca-g2", "ocsp-vnpt-ca"):
        assert ku.value.digital_signature and not ku.value.content_commitment
    elif name == "wrong-ku":
        assert ku.value.key_encipherment
        assert not (ku.value.digital_signature or ku.value.content_commitment
                    or ku.value.data_encipherment or ku.value.key_agreement)
    else:
        assert ku.value.digital_signature and ku.value.content_commitment
        assert not ku.value.key_encipherment
        with pytest.raises(x509.ExtensionNotFound):
            ext.get_extension_for_class(x509.ExtendedKeyUsage)


def test_tsa_and_ocsp_responders() -> None:
    eku = cert("tsa").extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    for name in ("ocsp-gov-ca-g2", "ocsp-vnpt-ca"):
        ext = cert(name).extensions
        eku = ext.get_extension_for_class(x509.ExtendedKeyUsage)
        assert list(eku.value) == [ExtendedKeyUsageOID.OCSP_SIGNING]
        ext.get_extension_for_class(x509.OCSPNoCheck)  # raises if absent
        assert ENTITIES[name]["expected"] == "ocsp-responder"
    assert ENTITIES["tsa"]["expected"] == "tsa"
    assert ENTITIES["wrong-ku"]["expected"] == "wrong-key-usage"


def test_g1_is_sha1_and_g2_is_not() -> None:
    for name in ("gov-root-g1", "gov-ca-g1", "legacy-official"):
        assert isinstance(cert(name).signature_hash_algorithm, hashes.SHA1)
        assert ENTITIES[name]["expected"] == "legacy-sha1"
    for ca in ("gov-root-g1", "gov-ca-g1"):
        assert isinstance(crl(ca).signature_hash_algorithm, hashes.SHA1)
    assert isinstance(cert("gov-ca-g2").signature_hash_algorithm, hashes.SHA256)


REVOKED = {  # CA -> {leaf: (date, reason)}
    "gov-ca-g2": {"revoked": (utc(2026, 3, 15, 8), x509.ReasonFlags.key_compromise)},
    "vnpt-ca": {"revoked-public": (utc(2026, 2, 1), x509.ReasonFlags.superseded)},
}


@pytest.mark.parametrize("ca", CAS)
def test_crl(ca: str) -> None:
    entry = next(c for c in MANIFEST["crls"] if c["ca"] == ca)
    c = crl(ca)
    assert x509.load_pem_x509_crl((CERTS / "crl" / f"{ca}.crl.pem").read_bytes()) == c
    check_signed_by(c, cert(ca))
    sha1 = EXPECTED[ca][4] == "sha1"
    this_update, next_update = ((utc(2014, 6, 1), utc(2029, 12, 31)) if sha1
                                else (utc(2026, 6, 1), utc(2045, 12, 31)))
    assert (c.last_update_utc, c.next_update_utc) == (this_update, next_update)
    assert (entry["this_update"], entry["next_update"]) == (iso(this_update), iso(next_update))
    assert c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    aki = c.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == cert(ca).extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value.digest
    expected = REVOKED.get(ca, {})
    assert len(c) == len(expected) == len(entry["revoked"])
    for leaf, (date, reason) in expected.items():
        serial = cert(leaf).serial_number
        revoked = c.get_revoked_certificate_by_serial_number(serial)
        assert revoked is not None
        assert revoked.revocation_date_utc == date
        assert revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason == reason
        assert {"name": leaf, "serial": format(serial, "x"), "date": iso(date),
                "reason": reason.name} in entry["revoked"]


# OIDs as DER bytes: AES-256-CBC, HMAC-SHA256 (PBKDF2 PRF) and SHA-256 (MAC digest), plus
# the legacy pbeWithSHAAnd3-KeyTripleDES-CBC that must not be used.
_AES256_CBC = bytes.fromhex("060960864801650304012a")
_HMAC_SHA256 = bytes.fromhex("06082a864886f70d0209")
_PBE_3DES = bytes.fromhex("060a2a864886f70d010c0103")


@pytest.mark.parametrize("name", LEAVES)
def test_pkcs12_and_chain_file(name: str) -> None:
    data = (CERTS / f"{name}.p12").read_bytes()
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(data, b"wrong")
    p12 = pkcs12.load_pkcs12(data, b"1234")
    assert p12.key is not None and p12.cert is not None
    assert p12.cert.certificate == cert(name)
    assert p12.key.public_key() == cert(name).public_key()
    assert p12.cert.friendly_name == EXPECTED[name][1].encode("utf-8")
    chain: list[x509.Certificate] = []  # intermediate(s), then root
    parent = EXPECTED[name][0]
    while parent is not None:
        chain.append(cert(parent))
        parent = EXPECTED[parent][0]
    assert {c.certificate for c in p12.additional_certs} == set(chain)
    pem_chain = x509.load_pem_x509_certificates((CERTS / f"{name}.chain.pem").read_bytes())
    assert pem_chain == chain
    assert _AES256_CBC in data and _HMAC_SHA256 in data and _PBE_3DES not in data


# ----------------------------------------------------------------------------- images


def decode_png(path: Path) -> tuple[int, int, int, list[bytes]]:
    """Minimal PNG reader: return (width, height, dpi, RGBA rows); 8-bit RGBA only."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, idat = 8, {}, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks[kind] = body
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    assert kind == b"IEND"
    width, height, depth, colour, comp, filt, interlace = struct.unpack(">IIBBBBB",
                                                                       chunks[b"IHDR"])
    assert (depth, colour, comp, filt, interlace) == (8, 6, 0, 0, 0)  # RGBA, 8 bit
    ppm_x, ppm_y, unit = struct.unpack(">IIB", chunks[b"pHYs"])
    assert unit == 1 and ppm_x == ppm_y
    raw, stride, rows = zlib.decompress(idat), width * 4, []
    prev = bytearray(stride)
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) *
                                                           (stride + 1)])
        for i in range(stride):  # undo the five PNG filters
            a, b = line[i - 4] if i >= 4 else 0, prev[i]
            c = prev[i - 4] if i >= 4 else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, round(ppm_x * 0.0254), rows


def pixels(rows: list[bytes]) -> list[tuple[int, int, int, int]]:
    return [(r[i], r[i + 1], r[i + 2], r[i + 3]) for r in rows for i in range(0, len(r), 4)]


@pytest.mark.parametrize("image", MANIFEST["images"], ids=lambda i: str(i["name"]))
def test_image(image: dict[str, Any]) -> None:
    width, height, dpi, rows = decode_png(CERTS / image["file"])
    assert (width, height, dpi) == (image["width"], image["height"], 300)
    expected_size = (600, 240) if image["name"] == "signature" else (472, 472)
    assert (width, height) == expected_size
    for x, y in ((0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)):
        assert rows[y][x * 4 + 3] == 0, "corners must be fully transparent"
    px = pixels(rows)
    opaque = [p for p in px if p[3] == 255]
    partial = [p for p in px if 0 < p[3] < 255]
    assert len(opaque) > 0.02 * len(px) and partial, "needs ink and anti-aliased edges"
    assert sum(p[3] == 0 for p in px) > 0.5 * len(px), "background must be transparent"
    if image["name"] == "signature":
        good = [p for p in opaque if p[2] > 140 and p[0] < 60 and p[1] < 90]  # blue ink
    else:
        good = [p for p in opaque if p[0] > 160 and p[1] < 60 and p[2] < 60]  # red ink
        assert rows[236][236 * 4:236 * 4 + 4] == bytes((200, 20, 30, 255))  # star centre
        assert rows[236][10 * 4 + 3] == 255  # outer ring on the horizontal diameter
    assert len(good) > 0.95 * len(opaque)
