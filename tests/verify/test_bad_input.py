"""verify_pdf on hostile or broken files: a reason, never a pass, never a hang.

Each case must come back as a DocumentResult (an error or a non-passing verdict) in
well under the batch's per-file time limit; the limits that make that true are in
signsvc.verify._pdfscan (nesting depth, decoded stream size, form-field count).
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest

from drivers import Pkcs12Key
from signsvc.pki.indications import Indication, SubIndication
from signsvc.pki.trust import TrustStore
from signsvc.sign.pdf import sign_pdf
from signsvc.verify.pdf import verify_pdf
from tests.support import badpdfs
from tests.support.paths import PKI
from tests.support.pdfs import classic_pdf

ROOTS = TrustStore.from_paths([PKI / "gov-root-g2.crt.pem"])
PAGE = [
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
]


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bad") / "signed.pdf"
    key = Pkcs12Key.load(PKI / "official-rsa2048.p12", "1234")
    result = sign_pdf(PKI.parent / "samples" / "quyet-dinh-123.pdf", out, key)
    assert result.status == "signed", result.error
    return out


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    (tmp_path / name).write_bytes(data)
    return tmp_path / name


def test_truncated_signed_file(signed: Path, tmp_path: Path) -> None:
    path = badpdfs.truncated(tmp_path, source=signed, fraction=0.9)
    result = verify_pdf(path, trust=ROOTS)
    # Cut inside the signature's update: what is left reads as the unsigned original
    # followed by debris, which must not be reported as a plain unsigned document.
    assert result.error is not None and "truncated or damaged" in result.error


def test_broken_xref_is_repaired_but_never_passed(signed: Path, tmp_path: Path) -> None:
    """Viewers rebuild a broken table by scanning for objects; signsvc reads such a file
    with qpdf's repairing reader (issue 13, tests/verify/test_tolerant.py) and never
    passes it. Here the offsets changed are signed bytes: a digest failure."""
    data = re.sub(rb"(\d{10})( \d{5} n)",
                  lambda m: b"%010d" % (int(m.group(1)) + 7) + m.group(2), signed.read_bytes())
    result = verify_pdf(_write(tmp_path, "broken.pdf", data), trust=ROOTS)
    assert not result.passed
    assert result.sub_indication is SubIndication.HASH_FAILURE
    assert result.signatures[0].notes[0].startswith("read by qpdf's tolerant reader")


def test_encrypted_unsigned_file(tmp_path: Path) -> None:
    """An encrypted document is read (signatures in encrypted PDFs are verified:
    tests/verify/test_encrypted.py); this one, the unsigned sample, has none."""
    path = badpdfs.encrypted(tmp_path)
    result = verify_pdf(path, trust=ROOTS)
    assert result.error is None
    assert result.indication is Indication.INDETERMINATE
    assert result.reason == "the document has no signature"


def test_deeply_nested_object_is_refused(tmp_path: Path) -> None:
    depth = 200_000
    catalog = b"<< /Type /Catalog /Pages 2 0 R /X " + b"[" * depth + b"]" * depth + b" >>"
    result = verify_pdf(_write(tmp_path, "deep.pdf", classic_pdf([catalog, *PAGE])),
                        trust=ROOTS)
    assert result.error is not None and "nested deeper" in result.error


def test_compression_bomb_is_refused(tmp_path: Path) -> None:
    bomb = zlib.compress(b"\0" * (256 * 1024 * 1024), 9)  # 256 MiB in ~250 KB
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb + (
        b"\nendstream")
    catalog = b"<< /Type /Catalog /Pages 2 0 R /DSS << /Certs [4 0 R] >> >>"
    result = verify_pdf(_write(tmp_path, "bomb.pdf", classic_pdf([catalog, *PAGE, stream])),
                        trust=ROOTS)
    assert result.error is not None and "size limit" in result.error


def _fields_pdf(count: int) -> bytes:
    first = 4
    refs = b" ".join(b"%d 0 R" % (first + i) for i in range(count))
    catalog = b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [" + refs + b"] >> >>"
    fields = [b"<< /FT /Sig /T (Sig%d) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] >>" % i
              for i in range(count)]
    return classic_pdf([catalog, *PAGE, *fields])


def test_thousands_of_empty_signature_fields(tmp_path: Path) -> None:
    result = verify_pdf(_write(tmp_path, "many.pdf", _fields_pdf(3000)), trust=ROOTS)
    assert result.unsigned and result.reason == "the document has no signature"


def test_too_many_fields_is_refused(tmp_path: Path) -> None:
    result = verify_pdf(_write(tmp_path, "toomany.pdf", _fields_pdf(10_050)), trust=ROOTS)
    assert result.error is not None and "form fields" in result.error


def test_signature_value_pointing_nowhere(tmp_path: Path) -> None:
    catalog = b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>"
    field = b"<< /FT /Sig /T (Signature1) /V 99 0 R /Rect [0 0 0 0] >>"
    result = verify_pdf(_write(tmp_path, "nowhere.pdf", classic_pdf([catalog, *PAGE, field])),
                        trust=ROOTS)
    # A reference to nothing is null (ISO 32000-1 §7.3.10), but in a signature field it
    # is a forgery attempt: reported as a signature that fails, not as an unsigned file.
    assert result.indication is Indication.TOTAL_FAILED
    assert result.signatures[0].reason == "/V refers to object 99 0, which does not exist"
