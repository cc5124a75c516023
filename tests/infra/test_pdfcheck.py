"""The independent checkers (tests/support/pdfcheck.py) and the bad-input corpus
(tests/support/badpdfs.py) do what they claim, on files signed here with pyHanko and
official-rsa2048.p12."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers

from tests.support import badpdfs, pdfcheck
from tests.support.paths import ROOT
from tests.support.tools import need, skip_or_fail

ANH = "Nguyễn Thị Lấp Lánh Ánh"
FIELD = "ChuKyLanhDao"


@pytest.fixture(scope="module", autouse=True)
def _tools() -> None:
    need("pdfsig", "certutil", "vfychain", "pdfinfo", "pdftotext")


@pytest.fixture(scope="module")
def nssdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pdfcheck.trusted_nssdb(tmp_path_factory.mktemp("nss"))


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime, datetime]:
    """samples/quyet-dinh-123.pdf signed (PAdES, SHA-256) by official-rsa2048, with the
    time window the signature was made in."""
    out = tmp_path_factory.mktemp("signed") / "signed.pdf"
    signer = signers.SimpleSigner.load_pkcs12(badpdfs.SIGNER_P12,
                                              passphrase=badpdfs.SIGNER_P12_PASSWORD)
    meta = signers.PdfSignatureMetadata(field_name=FIELD, md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    before = datetime.now(UTC).replace(microsecond=0)
    with badpdfs.GOOD.open("rb") as f, out.open("wb") as o:
        signers.sign_pdf(IncrementalPdfFileWriter(f), meta, signer=signer, output=o)
    return out, before, datetime.now(UTC)


@pytest.fixture(scope="module")
def tampered(signed: tuple[Path, datetime, datetime]) -> Path:
    """The signed file with one bit flipped inside the first signed byte range."""
    path = signed[0]
    data = bytearray(path.read_bytes())
    [sig] = pdfcheck.pdfsig(path)
    start, end = sig.signed_ranges[0]
    offset = (start + end) // 2  # inside the signed range, in a compressed stream
    data[offset] ^= 0x01
    out = path.with_name("tampered.pdf")
    out.write_bytes(bytes(data))
    return out


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False)


# --- pdfsig -------------------------------------------------------------------------


def test_pdfsig_reports_a_good_signature(signed: tuple[Path, datetime, datetime],
                                         nssdb: Path) -> None:
    path, before, after = signed
    [sig] = pdfcheck.pdfsig(path, nssdir=nssdb)
    assert sig.field_name == FIELD
    assert sig.signer_common_name == ANH
    assert sig.signer_dn.startswith(f"CN={ANH},L=Cần Thơ,OU=TEST ONLY,")
    assert sig.hash_algorithm == "SHA-256"
    assert sig.signature_type == "ETSI.CAdES.detached"
    assert sig.signature_validation == "Signature is Valid."
    assert sig.total_document_signed
    assert sig.signed_ranges[0][0] == 0
    assert sig.signed_ranges[-1][1] == path.stat().st_size
    assert sig.signing_time is not None and before <= sig.signing_time <= after
    # NSS accepts the chain to gov-root-g2; poppler 22.12 may still print its
    # stale-error text instead of "Certificate is Trusted." (see pdfcheck's docstring).
    assert sig.nss_chain_trusted is True
    assert sig.certificate_validation in (
        pdfcheck.CERTIFICATE_TRUSTED, "Unknown issue with Certificate or corrupted data.")
    assert sig.bottom_line


def test_pdfsig_untrusted_without_the_right_root(signed: tuple[Path, datetime, datetime],
                                                 tmp_path: Path) -> None:
    empty = pdfcheck.trusted_nssdb(tmp_path / "empty", roots=[])
    [sig] = pdfcheck.pdfsig(signed[0], nssdir=empty)
    assert sig.signature_valid
    assert sig.certificate_validation == "Certificate issuer isn't Trusted."
    assert sig.nss_chain_trusted is False
    assert not sig.bottom_line
    # The public root does not anchor a government-CA signer.
    public_only = pdfcheck.trusted_nssdb(tmp_path / "public",
                                         roots=[pdfcheck.PKI / "vn-root.crt.pem"])
    [sig] = pdfcheck.pdfsig(signed[0], nssdir=public_only)
    assert sig.nss_chain_trusted is False


def test_pdfsig_reports_a_flipped_byte(tampered: Path, nssdb: Path) -> None:
    [sig] = pdfcheck.pdfsig(tampered, nssdir=nssdb)
    assert sig.signature_validation == "Digest Mismatch."
    assert sig.certificate_validation is None  # pdfsig skips it for a bad digest
    assert not sig.signature_valid
    assert not sig.bottom_line


def test_pdfsig_unsigned_and_unreadable() -> None:
    assert pdfcheck.pdfsig(badpdfs.GOOD) == []
    with pytest.raises(pdfcheck.PdfsigError) as info:
        pdfcheck.pdfsig(ROOT / "tests" / "support" / "pdfcheck.py")
    assert info.value.returncode == 1


# --- pyHanko ------------------------------------------------------------------------


def test_pyhanko_reports_a_good_signature(signed: tuple[Path, datetime, datetime]) -> None:
    path, before, after = signed
    [status] = pdfcheck.pyhanko_validate(path)
    assert status.field_name == FIELD
    assert status.signer_common_name == ANH
    assert (status.intact, status.valid, status.trusted, status.revoked) == (
        True, True, True, False)
    assert status.bottom_line
    assert status.coverage == "ENTIRE_FILE"
    assert status.modification_level == "NONE"
    assert status.md_algorithm == "sha256"
    assert status.signing_time is not None and before <= status.signing_time <= after
    assert status.timestamp is None and not status.dss
    assert status.ades_indication is None
    # Both checkers read the same claimed signing time.
    [sig] = pdfcheck.pdfsig(path)
    assert sig.signing_time == status.signing_time.replace(microsecond=0)


def test_pyhanko_reports_a_flipped_byte(tampered: Path) -> None:
    [status] = pdfcheck.pyhanko_validate(tampered)
    assert status.intact is False
    assert not status.bottom_line
    assert status.summary == "INVALID"


def test_pyhanko_untrusted_with_the_wrong_root(
        signed: tuple[Path, datetime, datetime]) -> None:
    [status] = pdfcheck.pyhanko_validate(signed[0], roots=[pdfcheck.PKI / "vn-root.crt.pem"])
    assert status.intact and status.valid
    assert status.trusted is False
    assert not status.bottom_line


def test_pyhanko_lt_level_needs_revocation_data(
        signed: tuple[Path, datetime, datetime]) -> None:
    # A B-B signature carries no revocation data, so the long-term process cannot
    # establish the chain offline: indeterminate, not passed.
    [status] = pdfcheck.pyhanko_validate(signed[0], level="LT")
    assert status.intact
    assert status.trusted is False
    assert status.ades_indication is not None
    assert status.ades_indication.startswith("INDETERMINATE:")
    assert status.archive_timestamp is None


# --- the corpus ---------------------------------------------------------------------


def test_already_signed(tmp_path: Path, nssdb: Path) -> None:
    path = badpdfs.already_signed(tmp_path)
    [sig] = pdfcheck.pdfsig(path, nssdir=nssdb)
    assert (sig.field_name, sig.signer_common_name) == ("Signature1", ANH)
    assert sig.bottom_line
    [status] = pdfcheck.pyhanko_validate(path)
    assert status.bottom_line and status.coverage == "ENTIRE_FILE"
    # An incremental update: the original file is an untouched prefix.
    assert path.read_bytes().startswith(badpdfs.GOOD.read_bytes())


def test_encrypted(tmp_path: Path) -> None:
    path = badpdfs.encrypted(tmp_path)
    locked = _run("pdfinfo", str(path))
    assert locked.returncode != 0 and "Incorrect password" in locked.stderr
    info = _run("pdfinfo", "-upw", badpdfs.USER_PASSWORD, str(path)).stdout
    assert "Encrypted:       yes" in info and "algorithm:AES-256" in info
    assert "Pages:           1" in info
    text = _run("pdftotext", "-upw", badpdfs.USER_PASSWORD, str(path), "-").stdout
    assert ANH in text
    with path.open("rb") as f:
        reader = PdfFileReader(f)
        assert reader.encrypted
        reader.decrypt(badpdfs.USER_PASSWORD)
        assert reader.root["/Pages"]["/Count"] == 1


def test_encrypted_owner_only(tmp_path: Path) -> None:
    path = badpdfs.encrypted(tmp_path, user_password="")
    info = _run("pdfinfo", str(path))
    assert info.returncode == 0 and "Encrypted:       yes" in info.stdout


def test_truncated(tmp_path: Path) -> None:
    path = badpdfs.truncated(tmp_path)
    data = path.read_bytes()
    assert len(data) == int(badpdfs.GOOD.stat().st_size * 0.6)
    assert badpdfs.GOOD.read_bytes().startswith(data) and b"%%EOF" not in data
    with path.open("rb") as f, pytest.raises(PdfReadError):
        PdfFileReader(f)


def test_broken_xref(tmp_path: Path) -> None:
    path = badpdfs.broken_xref(tmp_path)
    assert len(path.read_bytes()) == badpdfs.GOOD.stat().st_size
    # Poppler reconstructs the table and still reads every word ...
    text = _run("pdftotext", str(path), "-")
    assert text.returncode == 0 and "QUYẾT ĐỊNH" in text.stdout and ANH in text.stdout
    assert "reconstruct" in text.stderr
    # ... while a reader that trusts the offsets finds no object where they point.
    with path.open("rb") as f, pytest.raises(PdfReadError):
        PdfFileReader(f).root["/Pages"]["/Count"]


def test_not_a_pdf(tmp_path: Path) -> None:
    html = badpdfs.not_a_pdf(tmp_path)
    png = badpdfs.not_a_pdf(tmp_path, kind="png")
    assert html.suffix == png.suffix == ".pdf"
    assert html.read_bytes().startswith(b"<!DOCTYPE html>")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    for path in (html, png):
        assert _run("pdfinfo", str(path)).returncode != 0


def test_empty_file(tmp_path: Path) -> None:
    path = badpdfs.empty_file(tmp_path)
    assert path.stat().st_size == 0
    assert "Document stream is empty" in _run("pdfinfo", str(path)).stderr


def test_pdfa(tmp_path: Path) -> None:
    if not badpdfs.SRGB_ICC.exists():
        skip_or_fail(f"missing {badpdfs.SRGB_ICC} (Debian icc-profiles-free; scripts/setup.sh)")
    path = badpdfs.pdfa(tmp_path)
    meta = _run("pdfinfo", "-meta", str(path)).stdout
    assert 'pdfaid:part="2"' in meta and 'pdfaid:conformance="B"' in meta
    assert "Quyết định 123/QĐ-UBND" in meta  # dc:title, as in the Info dictionary
    with path.open("rb") as f:
        reader = PdfFileReader(f)
        intents = reader.root["/OutputIntents"]
        assert len(intents) == 1
        intent = intents[0]
        assert intent["/S"] == "/GTS_PDFA1"
        profile = intent["/DestOutputProfile"]
        assert profile["/N"] == 3
        assert profile.data == badpdfs.SRGB_ICC.read_bytes()
        info = reader.trailer["/Info"]
        assert str(info["/Title"]) == "Quyết định 123/QĐ-UBND"
        # PDF/A: Info entries equal their XMP equivalents.
        assert f'pdf:Producer="{info["/Producer"]}"' in meta
        assert "/ModDate" not in info


def test_zero_pages(tmp_path: Path) -> None:
    path = badpdfs.zero_pages(tmp_path)
    with path.open("rb") as f:
        assert PdfFileReader(f).root["/Pages"]["/Count"] == 0
    assert "Invalid page count 0" in _run("pdfinfo", str(path)).stderr


def test_huge_page_count(tmp_path: Path) -> None:
    path = badpdfs.huge_page_count(tmp_path)
    assert path.stat().st_size < 5000 * 100
    assert "Pages:           5000" in _run("pdfinfo", str(path)).stdout
