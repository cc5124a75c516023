"""Signatures in encrypted PDFs: integrity without a password, the rest with one.

The documents are encrypted for real, by pyHanko (RC4-40, RC4-128, AES-128 and
AES-256, ISO 32000-2 §7.6.4 R2 to R6) and by qpdf, and then signed by pyHanko, which
decrypts the file for its incremental update as a viewer would. poppler's ``pdfsig``
checks one of them independently.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.crypt import SimpleEnvelopeKeyDecrypter, StandardSecurityHandler
from pyhanko.pdf_utils.crypt.pubkey import RecipientEncryptionPolicy
from pyhanko.pdf_utils.crypt.standard import StandardSecuritySettingsRevision as Rev
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign import signers

from drivers import Pkcs12Key
from signsvc.pki.indications import Indication, SubIndication
from signsvc.pki.trust import TrustStore
from signsvc.sign._pyhanko_signer import as_pyhanko_signer
from signsvc.verify._pdfcrypt import PdfPasswordError, open_crypt
from signsvc.verify._pdfdoc import read_document
from signsvc.verify._pdfscan import Ref, Stream, scan
from signsvc.verify.pdf import verify_pdf
from signsvc.verify.results import Coverage, ModificationLevel, SignatureResult
from tests.support.paths import PKI, ROOT
from tests.support.pdfcheck import pdfsig
from tests.support.pdfs import classic_pdf, one_page_pdf
from tests.support.tools import need

ROOTS = TrustStore.from_paths([PKI / "gov-root-g2.crt.pem"])
TEXT = b"Van ban thu nghiem - TEST ONLY"
USER = "mat-khau-nguoi-dung-42"
OWNER = "mat-khau-chu-so-huu-42"
CIPHERS = ["rc4-40", "rc4-128", "aes-128", "aes-256"]
XMP = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
       b'<x:xmpmeta xmlns:x="adobe:ns:meta/">TEST ONLY metadata</x:xmpmeta>'
       b'<?xpacket end="w"?>')


@cache
def _signer() -> signers.Signer:
    return as_pyhanko_signer(Pkcs12Key.load(PKI / "official-rsa2048.p12", "1234"))


def pyhanko_encrypted(cipher: str, user: str, owner: str = OWNER) -> bytes:
    """The one-page test PDF, encrypted by pyHanko's writer."""
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(one_page_pdf())))
    if cipher == "aes-256":
        # No ISO/TS 32004 MAC: its trailer /AuthCode changes in every update, which
        # is a matter for the modification analysis, not for decryption.
        writer._assign_security_handler(StandardSecurityHandler.build_from_pw(
            owner, user, pdf_mac=False))
    else:
        rev, keylen, aes = {"rc4-40": (Rev.RC4_BASIC, 5, False),
                            "rc4-128": (Rev.RC4_EXTENDED, 16, False),
                            "aes-128": (Rev.RC4_OR_AES128, 16, True)}[cipher]
        writer._assign_security_handler(StandardSecurityHandler.build_from_pw_legacy(
            rev, writer.document_id[0], owner, user, keylen_bytes=keylen, use_aes128=aes))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def qpdf_encrypted(tmp_path: Path, cipher: str, user: str, *, source: bytes | None = None,
                   encrypt: tuple[str, ...] = (), general: tuple[str, ...] = ()) -> bytes:
    """``source`` (the one-page test PDF) encrypted by qpdf, with more ``--encrypt``
    options and ``general`` ones."""
    need("qpdf")
    plain, out = tmp_path / "plain.pdf", tmp_path / f"qpdf-{cipher}.pdf"
    plain.write_bytes(source if source is not None else one_page_pdf())
    how = {"rc4-40": ["40"], "rc4-128": ["128", "--use-aes=n"],
           "aes-128": ["128", "--use-aes=y"], "aes-256": ["256"]}[cipher]
    subprocess.run(["qpdf", "--allow-weak-crypto", "--encrypt", user, OWNER, *how, *encrypt,
                    "--", *general, str(plain), str(out)], check=True, capture_output=True)
    return out.read_bytes()


def sign(data: bytes, user: str, field: str = "Sig1") -> bytes:
    """``data`` signed by pyHanko in an incremental update (which it encrypts too)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    writer.encrypt(user)
    out = io.BytesIO()
    signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name=field),
                     signer=_signer(), output=out)
    return out.getvalue()


def change_page(data: bytes, user: str) -> bytes:
    """An incremental update (pyHanko's) that replaces the page's content stream."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    writer.encrypt(user)
    page = writer.root["/Pages"]["/Kids"][0]
    page["/Contents"] = writer.add_object(generic.StreamObject(
        stream_data=b"BT /F1 14 Tf 72 770 Td (Da sua sau khi ky - TEST ONLY) Tj ET"))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def page_content(data: bytes, password: str | None) -> tuple[int, bytes]:
    """Offset of the page's content stream object, and its decoded data, read by the
    strict reader with decryption."""
    pdf = scan(data)
    pdf.crypt = open_crypt(pdf, password)
    root = pdf.resolve(pdf.trailer["Root"])
    page = pdf.resolve(pdf.resolve(pdf.resolve(root["Pages"])["Kids"])[0])
    ref = page["Contents"]
    assert isinstance(ref, Ref)
    stream = pdf.get(ref)
    assert isinstance(stream, Stream)
    entry = next(rev.entries[ref.num] for rev in reversed(pdf.revisions)
                 if ref.num in rev.entries)
    return entry[1], stream.decode()


def intact(sig: SignatureResult) -> bool:
    return sig.integrity is not None and sig.integrity.intact


# -- every cipher, empty user password --------------------------------------------------


@pytest.mark.parametrize("producer", ["pyhanko", "qpdf"])
@pytest.mark.parametrize("cipher", CIPHERS)
def test_empty_user_password_verifies_as_unencrypted(tmp_path: Path, producer: str,
                                                     cipher: str) -> None:
    source = (pyhanko_encrypted(cipher, "") if producer == "pyhanko"
              else qpdf_encrypted(tmp_path, cipher, ""))
    data = sign(source, "")
    assert b"/Encrypt" in data
    assert TEXT not in data  # the page content is really encrypted
    result = verify_pdf(write(tmp_path, "signed.pdf", data), trust=ROOTS)
    assert result.indication is Indication.TOTAL_PASSED, result.reason
    [sig] = result.signatures
    assert sig.field == "Sig1"  # /T decrypted
    assert intact(sig)
    assert sig.coverage is Coverage.ENTIRE_FILE
    assert sig.modification is not None and sig.modification.level is ModificationLevel.NONE
    assert sig.claimed_signing_time is not None  # from the CMS, or /M decrypted
    assert not any("pyHanko's reader" in n or "encrypted" in n for n in sig.notes), sig.notes
    # The strict reader hands out decrypted streams too (what the modification
    # analysis compares).
    _, content = page_content(data, None)
    assert TEXT in content


def test_object_streams_are_decrypted_once(tmp_path: Path) -> None:
    # qpdf puts the catalog, the pages and the font in an encrypted object stream; the
    # objects in it are not encrypted once more (ISO 32000-2 §7.6.2).
    source = qpdf_encrypted(tmp_path, "aes-256", "", general=("--object-streams=generate",))
    assert b"/ObjStm" in source
    view = read_document(sign(source, ""))
    assert view.scanned is not None and view.fallback_reason is None
    assert [s.name for s in view.signatures] == ["Sig1"]
    assert view.undecrypted is None


def test_cleartext_metadata_stays_clear(tmp_path: Path) -> None:
    # /EncryptMetadata false (ISO 32000-2 §7.6.4.2): the XMP stream is stored in clear,
    # and decrypting it would turn it into noise.
    source = classic_pdf([
        b"<< /Type /Catalog /Pages 2 0 R /Metadata 6 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length 0 >>\nstream\n\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n" % len(XMP) + XMP
        + b"\nendstream",
    ])
    data = qpdf_encrypted(tmp_path, "aes-128", "", source=source,
                          encrypt=("--cleartext-metadata",))
    assert XMP in data
    pdf = scan(data)
    pdf.crypt = open_crypt(pdf, None)
    root = pdf.resolve(pdf.trailer["Root"])
    metadata = pdf.resolve(root["Metadata"])
    assert isinstance(metadata, Stream) and metadata.decode() == XMP


@pytest.mark.parametrize("crypt_first", [True, False])
def test_identity_crypt_filter_is_not_decrypted(crypt_first: bool) -> None:
    # ISO 32000-2 §7.4.10: a stream's own /Crypt filter replaces the document's
    # default; pyHanko writes /Identity on what it must leave in clear, first in the
    # chain or (its metadata stream) after /FlateDecode.
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(one_page_pdf())))
    writer._assign_security_handler(StandardSecurityHandler.build_from_pw_legacy(
        Rev.RC4_OR_AES128, writer.document_id[0], OWNER, "", keylen_bytes=16,
        use_aes128=True))
    clear = generic.StreamObject(stream_data=XMP)
    if crypt_first:
        clear.compress()
    clear.add_crypt_filter(handler=writer.security_handler)  # put first in the chain
    if not crypt_first:
        clear.compress()
    writer.root["/SignsvcTest"] = writer.add_object(clear)
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    pdf = scan(out.getvalue())
    pdf.crypt = open_crypt(pdf, None)
    stream = pdf.resolve(pdf.resolve(pdf.trailer["Root"])["SignsvcTest"])
    assert isinstance(stream, Stream)
    chain = ["Crypt", "FlateDecode"]
    assert stream.dict["Filter"] == (chain if crypt_first else chain[::-1])
    assert stream.decode() == XMP


def test_unencrypted_file_has_no_decryptor() -> None:
    view = read_document(one_page_pdf())
    assert view.scanned is not None and view.scanned.crypt is None
    assert view.undecrypted is None and view.password is None


# -- a user password ------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_signatures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """AES-128 with a user password, signed twice: Sig1's changes need analysing."""
    data = sign(sign(pyhanko_encrypted("aes-128", USER), USER), USER, field="Sig2")
    path = tmp_path_factory.mktemp("enc") / "two.pdf"
    path.write_bytes(data)
    return path


def test_right_password_analyses_the_changes(two_signatures: Path) -> None:
    result = verify_pdf(two_signatures, trust=ROOTS, pdf_password=USER)
    assert result.indication is Indication.TOTAL_PASSED, result.reason
    first, second = result.signatures
    assert (first.field, second.field) == ("Sig1", "Sig2")
    assert first.coverage is Coverage.ENTIRE_REVISION
    assert first.modification is not None
    assert first.modification.level is ModificationLevel.ALLOWED, first.modification
    assert second.modification is not None
    assert second.modification.level is ModificationLevel.NONE


def test_owner_password_opens_too(two_signatures: Path) -> None:
    result = verify_pdf(two_signatures, trust=ROOTS, pdf_password=OWNER)
    assert [s.field for s in result.signatures] == ["Sig1", "Sig2"]
    assert result.indication is Indication.TOTAL_PASSED, result.reason


def test_no_password_still_checks_integrity(two_signatures: Path) -> None:
    result = verify_pdf(two_signatures, trust=ROOTS)
    assert result.error is None
    assert len(result.signatures) == 2
    for sig in result.signatures:
        assert intact(sig), sig.reason  # /Contents is not encrypted: no password needed
        assert sig.sub_indication is not SubIndication.HASH_FAILURE
        assert sig.field.startswith("(encrypted field name, object ")
        assert any("the password is not known (give it with --pdf-password-env)" in n
                   for n in sig.notes), sig.notes
    # The last signature covers the whole file: nothing to analyse, nothing changed.
    last = result.signatures[1]
    assert last.modification is not None and last.modification.level is ModificationLevel.NONE
    assert last.indication is Indication.TOTAL_PASSED


def test_no_password_leaves_changes_unanalysed(two_signatures: Path) -> None:
    first = verify_pdf(two_signatures, trust=ROOTS).signatures[0]
    assert first.modification is not None
    assert first.modification.level is not ModificationLevel.DISALLOWED
    assert first.indication is Indication.INDETERMINATE
    assert any("could not analyse changes: the document is encrypted and the password "
               "is not known" in d for d in first.modification.details)


def test_wrong_password_is_said(two_signatures: Path) -> None:
    result = verify_pdf(two_signatures, trust=ROOTS, pdf_password="sai-mat-khau")
    for sig in result.signatures:
        assert intact(sig)
        assert any("the document is encrypted and the password given does not open it"
                   in n for n in sig.notes), sig.notes
    with pytest.raises(PdfPasswordError, match="the password given does not open it"):
        open_crypt(scan(two_signatures.read_bytes()), "sai-mat-khau")


def test_wrong_password_falls_back_to_the_empty_one(tmp_path: Path) -> None:
    # One --pdf-password-env for a batch: files with an empty user password still open.
    path = write(tmp_path, "empty.pdf", sign(pyhanko_encrypted("rc4-128", ""), ""))
    [sig] = verify_pdf(path, trust=ROOTS, pdf_password="sai-mat-khau").signatures
    assert sig.field == "Sig1" and sig.passed, sig.reason
    assert any("it opened with the empty user password" in n for n in sig.notes), sig.notes


def test_pdfsig_agrees(two_signatures: Path) -> None:
    need("pdfsig")
    seen = pdfsig(two_signatures, password=USER)
    assert [s.signature_valid for s in seen] == [True, True]
    result = verify_pdf(two_signatures, trust=ROOTS, pdf_password=USER)
    assert [intact(s) for s in result.signatures] == [True, True]


# -- changes after signing ------------------------------------------------------------


@pytest.mark.parametrize("cipher", ["rc4-40", "aes-256"])
def test_tampered_byte_is_hash_failure(tmp_path: Path, cipher: str) -> None:
    data = bytearray(sign(pyhanko_encrypted(cipher, USER), USER))
    offset, _ = page_content(bytes(data), USER)
    at = data.index(b"stream", offset) + 10  # inside the encrypted content
    data[at] ^= 0x01
    path = write(tmp_path, "tampered.pdf", bytes(data))
    for password in (USER, None):
        [sig] = verify_pdf(path, trust=ROOTS, pdf_password=password).signatures
        assert sig.indication is Indication.TOTAL_FAILED
        assert sig.sub_indication is SubIndication.HASH_FAILURE, sig.reason


def test_page_changed_after_signing_is_disallowed(tmp_path: Path) -> None:
    signed = sign(pyhanko_encrypted("aes-256", USER), USER)
    data = change_page(signed, USER)
    _, content = page_content(data, USER)
    assert b"Da sua sau khi ky" in content
    [sig] = verify_pdf(write(tmp_path, "changed.pdf", data), trust=ROOTS,
                       pdf_password=USER).signatures
    assert intact(sig)  # the signed revision is untouched
    assert sig.modification is not None
    assert sig.modification.level is ModificationLevel.DISALLOWED
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is SubIndication.FORMAT_FAILURE, sig.reason


# -- damaged encryption dictionaries ---------------------------------------------------


def test_unknown_revision_is_unreadable_not_modified(tmp_path: Path) -> None:
    data = sign(pyhanko_encrypted("rc4-40", ""), "")
    assert data.count(b"/R 2\n") == 1
    result = verify_pdf(write(tmp_path, "r9.pdf", data.replace(b"/R 2\n", b"/R 9\n")),
                        trust=ROOTS)
    assert result.indication is Indication.INDETERMINATE
    assert result.error is not None and "internal error" not in result.error
    assert result.error_type == "BadInputError"


def test_changed_owner_entry_leaves_integrity_checked(tmp_path: Path) -> None:
    # /O takes part in the file key (ISO 32000-2 §7.6.4.3.2 step c): changed, no
    # password opens the file. The encryption dictionary is in the signed revision,
    # so the signature still reads and reports a digest mismatch; the notes say why
    # nothing else was read.
    data = bytearray(sign(pyhanko_encrypted("rc4-40", ""), ""))
    at = data.index(b"/O <") + 4
    data[at] = ord("0") if data[at] != ord("0") else ord("1")
    [sig] = verify_pdf(write(tmp_path, "o.pdf", bytes(data)), trust=ROOTS).signatures
    assert sig.sub_indication is SubIndication.HASH_FAILURE, sig.reason
    assert any("the password is not known" in n for n in sig.notes), sig.notes


# -- certificate encryption -------------------------------------------------------------


def test_certificate_encrypted_pdf_is_checked_for_integrity(tmp_path: Path) -> None:
    # Public-key security handler (/Adobe.PubSec, ISO 32000-2 §7.6.5): no password
    # opens it, and signsvc holds no recipient key; /Contents is in clear all the same.
    recipient = asn1x509.Certificate.load((PKI / "official-rsa2048.crt.der").read_bytes())
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(one_page_pdf())))
    writer.encrypt_pubkey([recipient], policy=RecipientEncryptionPolicy(
        ignore_key_usage=True))  # the test certificate is for signing only
    encrypted = io.BytesIO()
    writer.write(encrypted)
    update = IncrementalPdfFileWriter(io.BytesIO(encrypted.getvalue()))
    update.encrypt_pubkey(SimpleEnvelopeKeyDecrypter.load(
        str(PKI / "official-rsa2048.key.pem"), str(PKI / "official-rsa2048.crt.pem"), None))
    out = io.BytesIO()
    signers.sign_pdf(update, signers.PdfSignatureMetadata(field_name="Sig1"),
                     signer=_signer(), output=out)
    assert b"/Adobe.PubSec" in out.getvalue()
    result = verify_pdf(write(tmp_path, "pubsec.pdf", out.getvalue()), trust=ROOTS)
    [sig] = result.signatures
    assert intact(sig) and sig.passed, sig.reason
    assert any(n.startswith("cannot decrypt (certificate-encrypted PDF);")
               for n in sig.notes), sig.notes


# -- the option through the batch and the command line ---------------------------------


def test_password_reaches_the_workers(two_signatures: Path, tmp_path: Path) -> None:
    from signsvc.verify.batch import verify_batch

    store = tmp_path / "store.sqlite3"
    [result] = verify_batch([two_signatures], trust=ROOTS, jobs=1, executor="process",
                            store=store, pdf_password=USER)
    assert [s.field for s in result.signatures] == ["Sig1", "Sig2"]
    assert USER.encode() not in store.read_bytes()


def test_cli_pdf_password_env(two_signatures: Path, tmp_path: Path) -> None:
    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "verify", str(two_signatures),
             "--trust", str(PKI / "gov-root-g2.crt.pem"), "--json", "--jobs", "1",
             "--store", str(tmp_path / "store.sqlite3"), *args],
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                 "SIGNSVC_TRUST_DIR": str(tmp_path / "trust"), **env},
            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)

    done = run("--pdf-password-env", "PDF_PW", PDF_PW=USER)
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(x) for x in done.stdout.splitlines()]
    assert line["status"] == "TOTAL-PASSED"
    assert [s["field"] for s in line["signatures"]] == ["Sig1", "Sig2"]
    assert USER not in done.stdout + done.stderr
    assert USER.encode() not in (tmp_path / "store.sqlite3").read_bytes()
    # Resume without the password does not reuse the result made with it.
    again = run("--resume")
    [plain] = [json.loads(x) for x in again.stdout.splitlines()]
    assert plain["signatures"][0]["field"].startswith("(encrypted field name")
    unset = run("--pdf-password-env", "NO_SUCH_VARIABLE")
    assert unset.returncode == 2
    assert "NO_SUCH_VARIABLE" in unset.stderr
