"""PDFs signed through :func:`signsvc.sign._pyhanko_signer.as_pyhanko_signer`.

Keys on real SoftHSM2 tokens and in PKCS#12 files sign a hand-written PDF; pyHanko's
validator (trusting only the test root) and poppler's ``pdfsig`` check the result
independently.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import pem
from asn1crypto import x509 as asn1x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

import drivers
from certs_test.softhsm import SoftHSM
from drivers import KeySigner, Pkcs12Key, TokenError, TokenSession
from signsvc.sign._pyhanko_signer import KeySignerAdapter, as_pyhanko_signer
from tests.support.paths import PKI
from tests.support.pdfs import write_one_page_pdf
from tests.support.tokens import ANH
from tests.support.tools import need

RSA_ID = bytes.fromhex("01")  # official-rsa2048, chain certificate c1 = gov-ca-g2
EC_ID = bytes.fromhex("02")  # official-ec
TEXT = "Van ban thu nghiem - TEST ONLY"


def _der(name: str) -> bytes:
    return (PKI / f"{name}.crt.der").read_bytes()


def _asn1(name: str) -> asn1x509.Certificate:
    _, _, der = pem.unarmor((PKI / f"{name}.crt.pem").read_bytes())
    return asn1x509.Certificate.load(der)


def _sign(
    tmp_path: Path, signer: KeySignerAdapter, *, md_algorithm: str | None = None
) -> Path:
    source = write_one_page_pdf(tmp_path / "unsigned.pdf", TEXT)
    signed = tmp_path / "signed.pdf"
    meta = signers.PdfSignatureMetadata(field_name="Sig1", md_algorithm=md_algorithm)
    with source.open("rb") as infile, signed.open("wb") as outfile:
        signers.sign_pdf(IncrementalPdfFileWriter(infile), meta, signer=signer,
                         output=outfile)
    return signed


def _validate(path: Path, common_name: str) -> list[bytes]:
    """Check the one signature with pyHanko; return the CMS certificates (DER)."""
    context = ValidationContext(trust_roots=[_asn1("gov-root-g2")], allow_fetching=False,
                                revocation_mode="soft-fail")
    with path.open("rb") as infile:
        (embedded,) = PdfFileReader(infile).embedded_signatures
        assert embedded.field_name == "Sig1"
        status = validate_pdf_signature(embedded, context)
        certificates = [c.chosen.dump() for c in embedded.signed_data["certificates"]]
    assert status.intact, status.summary()
    assert status.valid, status.summary()
    assert status.trusted, status.summary()
    assert status.signing_cert.subject.native["common_name"] == common_name
    return certificates


def _pdfsig(path: Path) -> list[str]:
    need("pdfsig")
    done = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False,
                          timeout=30)
    return [line.strip() for line in done.stdout.splitlines()]


def _assert_pdfsig_valid(path: Path, common_name: str) -> None:
    lines = _pdfsig(path)
    # The test root is not in NSS's store, so only the signature itself is checked.
    assert "- Signature Validation: Signature is Valid." in lines, lines
    assert f"- Signer Certificate Common Name: {common_name}" in lines, lines
    assert "- Total document signed" in lines, lines


@pytest.fixture
def anh(hsm: SoftHSM, pin: str) -> Iterator[TokenSession]:
    """A logged-in session on the official's token."""
    session = drivers.load_module(hsm.module).open(label=ANH)
    session.login(pin)
    yield session
    session.close()


# -- keys on a token -------------------------------------------------------------------


def test_rsa_token_key(anh: TokenSession, tmp_path: Path) -> None:
    key = anh.key(RSA_ID)
    assert _der("gov-ca-g2") in [c.public_bytes(Encoding.DER) for c in key.chain]
    signed = _sign(tmp_path, as_pyhanko_signer(key))
    certificates = _validate(signed, "Nguyễn Thị Lấp Lánh Ánh")
    assert _der("official-rsa2048") in certificates
    assert _der("gov-ca-g2") in certificates
    _assert_pdfsig_valid(signed, "Nguyễn Thị Lấp Lánh Ánh")


def test_ec_token_key(anh: TokenSession, tmp_path: Path) -> None:
    key = anh.key(EC_ID)
    assert key.key_type == "EC"
    signed = _sign(tmp_path, as_pyhanko_signer(key))
    certificates = _validate(signed, "Lê Thị Ngọc Ẩn")
    assert _der("gov-ca-g2") in certificates
    _assert_pdfsig_valid(signed, "Lê Thị Ngọc Ẩn")


def test_rsa_token_key_pss(anh: TokenSession, tmp_path: Path) -> None:
    signed = _sign(tmp_path, as_pyhanko_signer(anh.key(RSA_ID), pss=True))
    with signed.open("rb") as infile:
        (embedded,) = PdfFileReader(infile).embedded_signatures
        algorithm = embedded.signer_info["signature_algorithm"]
    assert algorithm["algorithm"].native == "rsassa_pss"
    assert algorithm["parameters"]["salt_length"].native == 32
    _validate(signed, "Nguyễn Thị Lấp Lánh Ánh")
    _assert_pdfsig_valid(signed, "Nguyễn Thị Lấp Lánh Ánh")


@pytest.mark.parametrize("md_algorithm", ["sha384", "sha512"])
def test_token_key_other_digests(anh: TokenSession, tmp_path: Path, md_algorithm: str) -> None:
    signed = _sign(tmp_path, as_pyhanko_signer(anh.key(RSA_ID)), md_algorithm=md_algorithm)
    with signed.open("rb") as infile:
        (embedded,) = PdfFileReader(infile).embedded_signatures
        assert embedded.md_algorithm == md_algorithm
    _validate(signed, "Nguyễn Thị Lấp Lánh Ánh")


def test_rsa_token_key_pss_sha384(anh: TokenSession, tmp_path: Path) -> None:
    signed = _sign(tmp_path, as_pyhanko_signer(anh.key(RSA_ID), pss=True),
                   md_algorithm="sha384")
    _validate(signed, "Nguyễn Thị Lấp Lánh Ánh")


def test_extra_certs_are_embedded(anh: TokenSession, tmp_path: Path) -> None:
    root = x509.load_der_x509_certificate(_der("gov-root-g2"))
    signer = as_pyhanko_signer(anh.key(RSA_ID), extra_certs=[root])
    certificates = _validate(_sign(tmp_path, signer), "Nguyễn Thị Lấp Lánh Ánh")
    assert _der("gov-root-g2") in certificates
    assert _der("gov-ca-g2") in certificates


def test_modified_document_is_detected(anh: TokenSession, tmp_path: Path) -> None:
    # Negative control: both checkers must notice one changed byte in the signed range.
    signed = _sign(tmp_path, as_pyhanko_signer(anh.key(RSA_ID)))
    data = signed.read_bytes()
    assert data.count(b"Van ban thu") == 1
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(data.replace(b"Van ban thu", b"Van bam thu"))
    context = ValidationContext(trust_roots=[_asn1("gov-root-g2")], allow_fetching=False,
                                revocation_mode="soft-fail")
    with tampered.open("rb") as infile:
        (embedded,) = PdfFileReader(infile).embedded_signatures
        status = validate_pdf_signature(embedded, context)
    assert not status.intact
    assert not status.bottom_line
    lines = _pdfsig(tampered)
    assert "- Signature Validation: Digest Mismatch." in lines, lines


# -- a key in a PKCS#12 file -----------------------------------------------------------


def test_pkcs12_key(tmp_path: Path) -> None:
    key = Pkcs12Key.load(PKI / "org-omon.p12", "1234")
    signed = _sign(tmp_path, as_pyhanko_signer(key))
    certificates = _validate(signed, "UBND quận Ô Môn")
    assert _der("org-omon") in certificates
    assert _der("gov-ca-g2") in certificates
    _assert_pdfsig_valid(signed, "UBND quận Ô Môn")


# -- pyHanko's sizing pass -------------------------------------------------------------


def _dry_run(signer: KeySignerAdapter, digest: str = "sha256") -> bytes:
    return asyncio.run(signer.async_sign_raw(b"x", digest, dry_run=True))


def test_dry_run_does_not_touch_the_token(hsm: SoftHSM, pin: str) -> None:
    session = drivers.load_module(hsm.module).open(label=ANH)
    session.login(pin)
    rsa_signer = as_pyhanko_signer(session.key(RSA_ID))
    ec_signer = as_pyhanko_signer(session.key(EC_ID))
    session.close()
    # The session is gone: any real signature now fails...
    with pytest.raises(TokenError):
        rsa_signer.key.sign(b"x")
    # ...but sizing needs no token.
    assert len(_dry_run(rsa_signer)) == 256
    assert len(_dry_run(rsa_signer, "sha512")) == 256
    # The largest DER ECDSA-Sig-Value for P-256 is 72 bytes (SEC 1 §C.8).
    assert len(_dry_run(ec_signer)) >= 72


def test_dry_run_sizes_follow_the_key() -> None:
    rsa3072 = Pkcs12Key.load(PKI / "official-rsa3072.p12", "1234")
    ec256 = Pkcs12Key.load(PKI / "official-ec.p12", "1234")
    assert isinstance(rsa3072, KeySigner)
    assert len(_dry_run(as_pyhanko_signer(rsa3072))) == 384
    real = ec256.sign(b"x")
    assert len(_dry_run(as_pyhanko_signer(ec256))) >= len(real)
