"""Allowed updates after signing: the counterparts the attacks must not be confused with.

Mladenov et al., "1 Trillion Dollar Refund: How to Spoof PDF Signatures" (ACM CCS 2019)
and Mainka et al., "Shadow Attacks" (NDSS 2021) both rest on incremental updates, and a
verifier that rejected every update would be useless: a second signature, PAdES B-LTA
validation data and time-stamps, and form filling under DocMDP P=2 must pass with
modification ``allowed``.

Example::

    filled = allowed_form_fill(certified_form())   # permitted by P=2
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import MDPPerm

from tests.support.attacks._base import (
    _PAGES,
    GENUINE,
    GOV_ROOT,
    HELVETICA,
    PKI,
    TITLE,
    _page,
    amount_line,
    base_document,
    build_pdf,
    sign,
    stream,
    written,
)


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
    return written(writer)


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
