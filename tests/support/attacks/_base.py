"""Shared pieces of the attack corpus: the base document, signing, byte surgery.

The corpus (see :mod:`tests.support.attacks`) reproduces the attack classes of Mladenov, Mainka,
Meyer zu Selhausen, Grothe, Schwenk, "1 Trillion Dollar Refund: How to Spoof PDF
Signatures", ACM CCS 2019, and of Mainka, Mladenov, Rohlmann, "Shadow Attacks: Hiding
and Replacing Content in Signed PDFs", NDSS 2021. Every generator starts from a document
signed here with pyHanko (not with signsvc, so the corpus does not depend on the code
under test). Generators whose point is malformed structure use the byte surgery helpers
below, keeping every object at its offset (same-length edits padded with spaces) so that
only the attacked part is wrong.

Example::

    base = signed_base()                      # one page, "1.000.000 VND", signed
    lay = sig_layout(base)                    # where /ByteRange and /Contents sit
    assert lay.byte_range[0] == 0 and GENUINE in base
"""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator import ValidationContext

from tests.support.paths import PKI

GOV_ROOT = PKI / "gov-root-g2.crt.pem"
"""The trust anchor of every signer used here."""

GENUINE = b"1.000.000"
"""The amount the signer saw (ASCII in an uncompressed content stream)."""
FORGED = b"9.000.000"
"""What the attacked document shows instead; same length, so in-place edits keep
every object at its offset."""
SIGNING_TIME = datetime(2026, 5, 31, 9, 0, tzinfo=UTC)
"""Claimed signing time of the B-B signatures made here (/M): after the ``revoked``
leaf's revocation (2026-03-15), before the fixed validation time the tests use."""
VALIDATION_TIME = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
"""Fixed validation time for B-B documents: the certs_test CRLs' thisUpdate is
2026-06-01, every good leaf is valid 2025-01-01 to 2045-12-31."""


# --------------------------------------------------------------------------------------
# Hand-made PDFs (classic xref, uncompressed streams: the bytes are easy to reason about)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    """The body of a stream object with ``data`` and optional extra dictionary entries."""
    return b"<< /Length %d %s>>\nstream\n%s\nendstream" % (len(data), extra, data)


def _xref_section(offsets: dict[int, int], *, with_free_head: bool) -> bytes:
    """Classic xref subsections (ISO 32000-1 §7.5.4), one per run of numbers."""
    entries = {n: b"%010d 00000 n \n" % off for n, off in offsets.items()}
    if with_free_head:
        entries[0] = b"0000000000 65535 f \n"
    out = bytearray(b"xref\n")
    numbers = sorted(entries)
    start = 0
    while start < len(numbers):
        end = start
        while end + 1 < len(numbers) and numbers[end + 1] == numbers[end] + 1:
            end += 1
        out += b"%d %d\n" % (numbers[start], end - start + 1)
        out += b"".join(entries[n] for n in numbers[start:end + 1])
        start = end + 1
    return bytes(out)


FILE_ID = b"<5349474e535643415454414b3a544f4e>"


def build_pdf(objects: list[tuple[int, bytes]], *, root: int = 1) -> bytes:
    """Objects in the given order, then a classic xref table and trailer.

    A number may appear twice: the xref points at the *last* definition, so the first
    one stays in the file, unreferenced (the shadow objects of hide-and-replace).
    Numbers missing from the list are free entries.
    """
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number, body in objects:
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    size = max(offsets) + 1
    table = {n: offsets[n] for n in offsets}
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for n in range(1, size):
        out += (b"%010d 00000 n \n" % table[n]) if n in table else b"0000000000 00000 f \n"
    out += (b"trailer\n<< /Size %d /Root %d 0 R /ID [%s %s] >>\nstartxref\n%d\n%%%%EOF\n"
            % (size, root, FILE_ID, FILE_ID, xref))
    return bytes(out)


HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
TITLE = b"BT /F1 16 Tf 72 780 Td (QUYET DINH so 45/QD-UBND - TEST ONLY) Tj ET\n"


def amount_line(amount: bytes, y: int = 740) -> bytes:
    """Page content that shows the amount in Helvetica 12 at (72, y)."""
    return b"BT /F1 12 Tf 72 %d Td (Chi tra so tien: %s VND) Tj ET\n" % (y, amount)


def _page(resources: bytes = b"/Font << /F1 5 0 R >>", extra: bytes = b"") -> bytes:
    return (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << %s >> "
            b"/Contents 4 0 R %s>>" % (resources, extra))


_CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
_PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"


def base_document() -> bytes:
    """One A4 page: a decision title and the amount :data:`GENUINE`. Objects: 1 catalog,
    2 pages, 3 page, 4 content, 5 font."""
    return build_pdf([(1, _CATALOG), (2, _PAGES), (3, _page()),
                      (4, stream(TITLE + amount_line(GENUINE))), (5, HELVETICA)])


# --------------------------------------------------------------------------------------
# Signing with pyHanko


class _FixedTimePdfSigner(signers.PdfSigner):
    """pyHanko's PdfSigner with a chosen claimed signing time (/M), so B-B documents
    can be validated at a fixed time that comes after their signing."""

    def __init__(self, *args: object, signing_time: datetime, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._signing_time = signing_time

    def init_signing_session(self, pdf_out, existing_fields_only=False):  # type: ignore[no-untyped-def]
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self._signing_time
        return session


@functools.cache
def pkcs12_signer(name: str) -> signers.SimpleSigner:
    """A pyHanko signer for ``certs_test/<name>.p12`` (password 1234)."""
    signer = signers.SimpleSigner.load_pkcs12(PKI / f"{name}.p12", passphrase=b"1234")
    assert signer is not None, name
    return signer


def sign(
    data: bytes,
    *,
    signer: str = "official-rsa2048",
    field: str = "Signature1",
    signing_time: datetime | None = SIGNING_TIME,
    certify: MDPPerm | None = None,
    timestamper: TimeStamper | None = None,
    validation_context: ValidationContext | None = None,
    strict: bool = True,
) -> bytes:
    """Sign ``data`` with pyHanko (PAdES subfilter ETSI.CAdES.detached).

    Args:
        signing_time: claimed time (/M); None for now (needed with a real TSA or
            embedded revocation data, which carry the real time).
        certify: make it a certification signature with this DocMDP permission.
        timestamper: add a signature time-stamp (PAdES B-T).
        validation_context: embed revocation data in a DSS (PAdES B-LT).
    """
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        certify=certify is not None,
        docmdp_permissions=certify or MDPPerm.FILL_FORMS,
        embed_validation_info=validation_context is not None,
        validation_context=validation_context,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=strict)
    if signing_time is None:
        pdf_signer = signers.PdfSigner(meta, pkcs12_signer(signer), timestamper=timestamper)
    else:
        pdf_signer = _FixedTimePdfSigner(meta, pkcs12_signer(signer), timestamper=timestamper,
                                         signing_time=signing_time)
    out = pdf_signer.sign_pdf(writer)
    return bytes(out.getvalue())


@functools.cache
def signed_base() -> bytes:
    """:func:`base_document` signed by ``official-rsa2048`` (B-B, /M = SIGNING_TIME):
    the starting point of most attacks."""
    return sign(base_document())


# --------------------------------------------------------------------------------------
# Byte surgery helpers


@dataclass(frozen=True)
class SigLayout:
    """Where the (last) signature dictionary's values sit in the file."""

    byte_range: tuple[int, int, int, int]
    br_slot: tuple[int, int]
    """From ``[`` to the end of the padding spaces pyHanko leaves after ``]``."""
    br_key: int
    """Offset of ``/ByteRange``."""
    contents: tuple[int, int]
    """The ``<...>`` hex string, delimiters included."""
    contents_key: int


def sig_layout(data: bytes, which: int = -1) -> SigLayout:
    """A signature dictionary written by pyHanko (``/Contents`` then ``/ByteRange``):
    the ``which``-th in file order, by default the last."""
    br = list(re.finditer(rb"/ByteRange\s*(\[\s*(\d+) (\d+) (\d+) (\d+)\s*\] *)", data))[which]
    ct = list(re.finditer(rb"/Contents\s*(<[0-9A-Fa-f]*>)", data[: br.start()]))[-1]
    values = (int(br.group(2)), int(br.group(3)), int(br.group(4)), int(br.group(5)))
    return SigLayout(byte_range=values, br_slot=br.span(1), br_key=br.start(),
                     contents=ct.span(1), contents_key=ct.start())


def replace_padded(data: bytes, start: int, end: int, new: bytes) -> bytes:
    """Put ``new`` in ``data[start:end]``, padded with spaces to the same length, so
    that no object moves and the xref stays right."""
    if len(new) > end - start:
        raise ValueError(f"{new[:40]!r}... does not fit in {end - start} bytes")
    return data[:start] + new.ljust(end - start, b" ") + data[end:]


def forge_in_place(data: bytes) -> bytes:
    """Show :data:`FORGED` instead of :data:`GENUINE`, editing the content stream in place
    (same length: /Length and the xref stay right)."""
    assert data.count(GENUINE) == 1
    return data.replace(GENUINE, FORGED)


def last_startxref(data: bytes) -> int:
    return int(list(re.finditer(rb"startxref\s+(\d+)", data))[-1].group(1))


def _last_trailer(data: bytes) -> bytes:
    return list(re.finditer(rb"trailer\s*<<(.*?)>>\s*startxref", data, re.S))[-1].group(1)


def _trailer_for_update(data: bytes, *, size: int, prev: int | None,
                        root: int | None = None) -> bytes:
    """A trailer like the last one, with a new /Size and /Prev (and /Root)."""
    old = _last_trailer(data)
    keep = [m.group(0) for m in re.finditer(rb"/(Root|Info) \d+ \d+ R|/ID\s*\[[^\]]*\]", old)]
    if root is not None:
        keep = [k for k in keep if not k.startswith(b"/Root")] + [b"/Root %d 0 R" % root]
    out = b"trailer\n<< /Size %d %s" % (size, b" ".join(keep))
    if prev is not None:
        out += b" /Prev %d" % prev
    return out + b" >>\n"


def _size(data: bytes) -> int:
    return int(re.search(rb"/Size (\d+)", _last_trailer(data)).group(1))  # type: ignore[union-attr]


def append_update(
    data: bytes,
    objects: dict[int, bytes],
    *,
    xref: bool = True,
    prev: bool = True,
    full_xref: bool = False,
    root: int | None = None,
) -> bytes:
    """Append an incremental update (ISO 32000-1 §7.5.6) defining ``objects``.

    Args:
        xref: write an xref section, trailer and startxref; False leaves the objects
            after ``%%EOF`` with nothing pointing at them (ISA variant 2).
        prev: link the new trailer to the previous xref with /Prev.
        full_xref: the new section lists every object of the document (with the
            offsets the previous sections give), so it stands alone without /Prev.
        root: a new /Root for the trailer.
    """
    out = bytearray(data if data.endswith(b"\n") else data + b"\n")
    offsets: dict[int, int] = {}
    for number, body in objects.items():
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    if not xref:
        return bytes(out)
    if full_xref:
        offsets = {**object_offsets(data), **offsets}
    size = max(_size(data), max(offsets) + 1)
    at = len(out)
    out += _xref_section(offsets, with_free_head=full_xref)
    out += _trailer_for_update(data, size=size, prev=last_startxref(data) if prev else None,
                               root=root)
    out += b"startxref\n%d\n%%%%EOF\n" % at
    return bytes(out)


def object_offsets(data: bytes) -> dict[int, int]:
    """Offset of every in-use object, following the classic xref chain (startxref, then
    each trailer's /Prev) from the newest section to the oldest."""
    sections: list[dict[int, int]] = []
    pos: int | None = last_startxref(data)
    while pos is not None and len(sections) < 64:
        end = data.index(b"trailer", pos)
        sections.append(_parse_xref_lines(data[pos + len(b"xref"):end]))
        prev = re.match(rb"trailer\s*<<(.*?)>>", data[end:], re.S)
        found = re.search(rb"/Prev (\d+)", prev.group(1)) if prev else None
        pos = int(found.group(1)) if found else None
    out: dict[int, int] = {}
    for section in reversed(sections):
        out.update(section)
    return out


def serialize(obj: generic.PdfObject) -> bytes:
    """An object's body as pyHanko would write it (unencrypted)."""
    buf = io.BytesIO()
    obj.write_to_stream(buf, None)
    return buf.getvalue()


def _reader(data: bytes) -> PdfFileReader:
    return PdfFileReader(io.BytesIO(data), strict=False)


def _page_ref(data: bytes) -> generic.Reference:
    page = _reader(data).root["/Pages"]["/Kids"].raw_get(0)
    return page.reference  # type: ignore[no-any-return]


def _parse_xref_lines(section: bytes) -> dict[int, int]:
    lines = section.split(b"\n")
    out: dict[int, int] = {}
    i = 0
    while i < len(lines):
        head = lines[i].split()
        if len(head) == 2:
            first, count = int(head[0]), int(head[1])
            for k in range(count):
                off, _, kind = lines[i + 1 + k].split()
                if kind == b"n":
                    out[first + k] = int(off)
            i += 1 + count
        else:
            i += 1
    return out


def _forged_content(signed: bytes) -> bytes:
    """The page's content stream bytes with the forged amount."""
    page = _reader(signed).root["/Pages"]["/Kids"][0]
    data: bytes = page["/Contents"].data
    assert GENUINE in data
    return data.replace(GENUINE, FORGED)


def _page_ref_in(writer: IncrementalPdfFileWriter) -> generic.IndirectObject:
    return writer.root["/Pages"]["/Kids"].raw_get(0)  # type: ignore[no-any-return]


def written(writer: Any) -> bytes:
    """The bytes of an incremental writer's update (the original plus the update)."""
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
