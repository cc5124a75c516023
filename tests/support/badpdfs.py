"""Bad and awkward input documents, built at test time from a committed good sample.

Each function writes one file into ``directory`` and returns its path. They model what
officials and systems actually feed a signing tool: a picture saved as ``.pdf``, a
download cut short, a password-protected file, a damaged cross-reference table, an
archival PDF/A, a document that already carries a signature.

Example::

    path = badpdfs.encrypted(tmp_path)          # AES-256, user password "matkhau"
    assert "Encrypted: yes" in pdfinfo(path)

Encryption uses pyHanko's ``StandardSecurityHandler`` (through ``PdfFileWriter.encrypt``),
not qpdf, so no extra system package is needed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.model import NS, ExpandedName, XmpStructure, XmpValue
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign import fields, signers

from tests.support.paths import PKI, ROOT
from tests.support.pdfs import classic_pdf

SAMPLES = ROOT / "samples"

GOOD = SAMPLES / "quyet-dinh-123.pdf"
"""The good one-page decision every bad input is derived from, unless told otherwise."""
USER_PASSWORD = "matkhau"
OWNER_PASSWORD = "chu-so-huu-2026"
SIGNER_P12 = PKI / "official-rsa2048.p12"
SIGNER_P12_PASSWORD = b"1234"
SRGB_ICC = Path("/usr/share/color/icc/sRGB.icc")
"""sRGB ICC v2 profile from Debian's ``icc-profiles-free`` (the OutputIntent of
:func:`pdfa`)."""


def not_a_pdf(directory: Path, *, kind: Literal["html", "png"] = "html") -> Path:
    """A file named ``.pdf`` that is not a PDF.

    ``html``: the error page a document-management system returns when a session has
    expired, saved under the document's name. ``png``: the official picked the
    signature image (certs_test/images/signature.png) instead of the decision.
    """
    path = directory / f"not-a-pdf-{kind}.pdf"
    if kind == "png":
        path.write_bytes((PKI / "images" / "signature.png").read_bytes())
    else:
        path.write_text(
            "<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">"
            "<title>Phiên làm việc đã hết hạn</title></head>\n<body><h1>Phiên làm việc "
            "đã hết hạn</h1><p>Vui lòng đăng nhập lại hệ thống quản lý văn bản.</p>"
            "</body></html>\n",
            encoding="utf-8",
        )
    return path


def truncated(directory: Path, *, source: Path = GOOD, fraction: float = 0.6) -> Path:
    """The first ``fraction`` of a good PDF: a download or copy cut short (no xref,
    no trailer, no ``%%EOF``)."""
    data = source.read_bytes()
    path = directory / "truncated.pdf"
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def empty_file(directory: Path) -> Path:
    """A zero-byte ``.pdf``: a failed upload, or a file still being written."""
    path = directory / "empty.pdf"
    path.write_bytes(b"")
    return path


def encrypted(
    directory: Path,
    *,
    source: Path = GOOD,
    user_password: str = USER_PASSWORD,
    owner_password: str = OWNER_PASSWORD,
) -> Path:
    """A password-protected copy: AES-256 (ISO 32000-2 §7.6.4, revision 6).

    Models a citizen's dossier file protected before upload. With the default user
    password it cannot be opened without ``matkhau``; ``user_password=""`` gives the
    other common case, a file that opens freely but is owner-protected.
    """
    with source.open("rb") as f:
        writer = copy_into_new_writer(PdfFileReader(f))
        writer.encrypt(owner_password, user_password)
        path = directory / "encrypted.pdf"
        with path.open("wb") as out:
            writer.write(out)
    return path


def broken_xref(directory: Path, *, source: Path = GOOD, shift: int = 7) -> Path:
    """A PDF whose classic xref table points ``shift`` bytes past every object.

    Models a file edited by a tool that changed bytes without rewriting the offsets
    (a common "repaired" or hand-edited file). Viewers silently reconstruct the table
    by scanning for ``N 0 obj``; a signer must either do the same or refuse clearly,
    and must never compute a ByteRange from the broken offsets.
    """
    data = source.read_bytes()
    start = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    header = re.compile(rb"xref\s+(\d+) (\d+)\s*\n").match(data, start)
    if header is None:
        raise ValueError(f"{source} has no classic xref table at startxref")
    out = bytearray(data)
    pos = header.end()
    # ISO 32000-1 §7.5.4: each entry is exactly 20 bytes, "nnnnnnnnnn ggggg n\r\n";
    # keeping the width keeps startxref right, so only the entries are wrong.
    for _ in range(int(header.group(2))):
        entry = data[pos:pos + 20]
        if entry[17:18] == b"n":
            out[pos:pos + 10] = b"%010d" % (int(entry[:10]) + shift)
        pos += 20
    path = directory / "broken-xref.pdf"
    path.write_bytes(bytes(out))
    return path


def pdfa(directory: Path, *, source: Path = GOOD, icc_profile: Path = SRGB_ICC) -> Path:
    """A copy declared PDF/A-2b (ISO 19005-2): XMP ``pdfaid:part=2``,
    ``pdfaid:conformance=B`` and an sRGB OutputIntent (``GTS_PDFA1``).

    Models an archival copy (archives keep documents as PDF/A). The file *declares*
    conformance; it was not checked with a PDF/A validator (none is packaged here).
    Signing must keep the declaration intact (incremental update, XMP untouched).
    """
    with source.open("rb") as f:
        reader = PdfFileReader(f)
        info = reader.trailer["/Info"]
        writer = copy_into_new_writer(reader)
        # PDF/A (ISO 19005-2, metadata): every Info entry must equal its XMP
        # equivalent. pyHanko writes both from ``document_meta``, but would append
        # itself to reportlab's /Producer (XMP gets its name alone) and stamp /ModDate
        # twice; without those two in Info it writes a /Producer equal to XMP's.
        info_copy = writer.trailer_view["/Info"].get_object()
        for key in ("/Producer", "/ModDate"):
            info_copy.pop(key, None)
        meta = writer.document_meta
        meta.title = str(info["/Title"])
        meta.author = str(info["/Author"])
        meta.subject = str(info["/Subject"])
        meta.creator = str(info["/Creator"])
        meta.created = generic.parse_pdf_date(str(info["/CreationDate"]))
        meta.last_modified = meta.created
        pdfaid = NS["pdfaid"]
        meta.xmp_extra = [XmpStructure.of(
            (ExpandedName(ns=pdfaid, local_name="part"), XmpValue("2")),
            (ExpandedName(ns=pdfaid, local_name="conformance"), XmpValue("B")),
        )]
        icc = generic.StreamObject(
            {generic.pdf_name("/N"): generic.NumberObject(3)},
            stream_data=icc_profile.read_bytes(),
        )
        icc.compress()
        intent = generic.DictionaryObject({
            generic.pdf_name("/Type"): generic.pdf_name("/OutputIntent"),
            generic.pdf_name("/S"): generic.pdf_name("/GTS_PDFA1"),
            generic.pdf_name("/OutputConditionIdentifier"):
                generic.TextStringObject("sRGB IEC61966-2.1"),
            generic.pdf_name("/Info"): generic.TextStringObject("sRGB IEC61966-2.1"),
            generic.pdf_name("/RegistryName"): generic.TextStringObject("http://www.color.org"),
            generic.pdf_name("/DestOutputProfile"): writer.add_object(icc),
        })
        writer.root["/OutputIntents"] = generic.ArrayObject([writer.add_object(intent)])
        writer.update_root()
        path = directory / "pdfa-2b.pdf"
        with path.open("wb") as out:
            writer.write(out)
    return path


def already_signed(directory: Path, *, source: Path = GOOD,
                   field_name: str = "Signature1") -> Path:
    """The sample signed once (invisible PAdES B-B signature, SHA-256) by
    ``official-rsa2048`` (Nguyễn Thị Lấp Lánh Ánh), in an incremental update.

    Models the registry clerk's input (Decree 30/2020 Art. 14, 17): the leader has
    signed, and the organisation's signature must be added without breaking the first.
    """
    signer = signers.SimpleSigner.load_pkcs12(SIGNER_P12, passphrase=SIGNER_P12_PASSWORD)
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    path = directory / "already-signed.pdf"
    with source.open("rb") as f, path.open("wb") as out:
        signers.sign_pdf(IncrementalPdfFileWriter(f), meta, signer=signer, output=out)
    return path


def zero_pages(directory: Path) -> Path:
    """A syntactically valid PDF whose page tree is empty (``/Count 0``).

    Models a broken export (an empty report, a generator that crashed after writing
    the catalogue). There is no page to place a visible signature on.
    """
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
    ]
    path = directory / "zero-pages.pdf"
    path.write_bytes(_classic_pdf(objects))
    return path


def huge_page_count(directory: Path, *, pages: int = 5000) -> Path:
    """A ``pages``-page PDF (default 5,000) in a flat page tree, all pages sharing one
    content stream: a scanned dossier or archive volume.

    Small on disk (under 100 bytes a page) and quick to build; what it tests is that
    signing and verification do not walk or rewrite every page.
    """
    content = b"BT /F1 12 Tf 72 770 Td (Trang ho so - TEST ONLY) Tj ET"
    first_page = 5
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> >>" % pages,
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        # Pages inherit MediaBox and Resources from the tree (ISO 32000-1 §7.7.3.4).
        *[b"<< /Type /Page /Parent 2 0 R /Contents 3 0 R >>"] * pages,
    ]
    path = directory / "huge-page-count.pdf"
    path.write_bytes(_classic_pdf(objects))
    return path


def _classic_pdf(objects: list[bytes]) -> bytes:
    return classic_pdf(objects, file_id=b"<5349474e535643424144504446533031>")
