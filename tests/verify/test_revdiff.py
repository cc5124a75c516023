"""The difference analysis on documents made with pyHanko and by hand: each update after
a signature is allowed or disallowed for the reason the rules give
(signsvc/verify/_revdiff.py, _revrules.py), and real producers' patterns pass.

The Vietnamese producers' pattern is reproduced byte for byte: an incremental update
with a cross-reference *stream* that lists its own object number as a free entry of
generation 65534, followed by another signature (what the issue's government decree
had in every revision).
"""

from __future__ import annotations

import io
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields
from pyhanko.sign.fields import MDPPerm

from signsvc import Indication, TrustStore, verify_pdf
from signsvc.verify.results import ModificationLevel
from tests.support.attacks._base import (
    GOV_ROOT,
    VALIDATION_TIME,
    append_update,
    base_document,
    last_startxref,
    serialize,
    sign,
    written,
)
from tests.support.attacks.allowed import allowed_form_fill, form_document
from tests.support.tools import need


@pytest.fixture(scope="module")
def trust() -> TrustStore:
    return TrustStore.from_paths([GOV_ROOT])


def _verify(tmp_path: Path, data: bytes, trust: TrustStore, name: str = "doc.pdf"):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(data)
    return verify_pdf(path, trust=trust, at=VALIDATION_TIME)


def _levels(result) -> list[ModificationLevel]:  # type: ignore[no-untyped-def]
    return [s.modification.level for s in result.signatures]


def _details(result, which: int = 0) -> str:  # type: ignore[no-untyped-def]
    return " | ".join(result.signatures[which].modification.details)


def _xref_stream_update(data: bytes, objects: dict[int, bytes], *, info: int | None = None
                        ) -> bytes:
    """An incremental update in the Vietnamese producers' style: the objects, then a
    cross-reference stream whose own number is listed as free with generation 65534."""
    import re

    out = bytearray(data if data.endswith(b"\n") else data + b"\n")
    offsets = {}
    for num, body in objects.items():
        offsets[num] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (num, body)
    size_old = int(re.findall(rb"/Size (\d+)", data)[-1])
    xnum = max(size_old, *(n + 1 for n in objects))
    rows = {n: b"\x01" + off.to_bytes(4, "big") + b"\x00\x00" for n, off in offsets.items()}
    rows[xnum] = b"\x00" + (0).to_bytes(4, "big") + (65534).to_bytes(2, "big")
    index: list[int] = []
    body = bytearray()
    for n in sorted(rows):
        if index and index[-2] + index[-1] == n:
            index[-1] += 1
        else:
            index += [n, 1]
        body += rows[n]
    packed = zlib.compress(bytes(body))
    root = re.findall(rb"/Root (\d+ \d+ R)", data)[-1]
    extra = b" /Info %d 0 R" % info if info is not None else b""
    at = len(out)
    out += (b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Index [%s] /Root %s%s "
            b"/Prev %d /Filter /FlateDecode /Length %d >>\nstream\n"
            % (xnum, xnum + 1, b" ".join(b"%d" % i for i in index), root, extra,
               last_startxref(data), len(packed)))
    out += packed + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % at
    return bytes(out)


def test_vietnamese_producer_pattern_keeps_every_signature(tmp_path: Path,
                                                           trust: TrustStore) -> None:
    """Three signatures, one per revision; between them an update written with a
    cross-reference stream that frees its own number (gen 65534) and rewrites /Info:
    every signature is intact, the first two ALLOWED, the document TOTAL-PASSED."""
    one = sign(base_document(), field="Signature1")
    info = b"<< /Producer (VGCA Sign Service - TEST ONLY) /ModDate (D:20260531100000+07'00') >>"
    stepped = _xref_stream_update(one, {40: info}, info=40)
    two = sign(stepped, field="Signature2", strict=False)
    three = sign(_xref_stream_update(two, {41: info.replace(b"10", b"11")}, info=41),
                 field="Signature3", strict=False)
    result = _verify(tmp_path, three, trust)
    assert [s.integrity.intact for s in result.signatures] == [True, True, True]
    assert _levels(result) == [ModificationLevel.ALLOWED, ModificationLevel.ALLOWED,
                               ModificationLevel.NONE]
    assert "signature 'Signature2' added" in _details(result, 0)
    assert "metadata: document information (/Info)" in _details(result, 0)
    assert result.indication is Indication.TOTAL_PASSED, result.reason


def test_freed_object_still_in_use_is_a_modification(tmp_path: Path,
                                                     trust: TrustStore) -> None:
    """Freeing is allowed only for what the new revision does not reach: freeing the
    page's content stream empties the page a viewer shows."""
    signed = sign(base_document())
    # Object 4 is the page content; an xref table entry marking it free (gen 1).
    out = bytearray(signed)
    at = len(out)
    out += (b"xref\n4 1\n0000000000 00001 f \ntrailer\n<< /Size 6 /Root 1 0 R /Prev %d >>\n"
            b"startxref\n%d\n%%%%EOF\n" % (last_startxref(signed), at))
    result = _verify(tmp_path, bytes(out), trust)
    assert _levels(result) == [ModificationLevel.DISALLOWED]
    assert "page object 3: /Contents changed" in _details(result)
    assert result.indication is Indication.TOTAL_FAILED


def test_unchanged_rewrite_is_allowed(tmp_path: Path, trust: TrustStore) -> None:
    """An update that rewrites the page with the same value (another tool re-saving)
    changes nothing a viewer shows."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    signed = sign(base_document())
    page = serialize(PdfFileReader(io.BytesIO(signed), strict=False).get_object(
        generic.Reference(3, 0)))
    result = _verify(tmp_path, append_update(signed, {3: page + b"  "}), trust)
    assert _levels(result) == [ModificationLevel.ALLOWED]
    assert _details(result) == "updates that rewrite objects without changing them"


def _catalog_with(signed: bytes, extra: bytes) -> bytes:
    """The signed document's catalog (object 1) with more entries."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    root = serialize(PdfFileReader(io.BytesIO(signed), strict=False).get_object(
        generic.Reference(1, 0)))
    return root[: root.rindex(b">>")] + extra + b" >>"


def _add_text_annotation(data: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    page = writer.root["/Pages"]["/Kids"][0]
    annot = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/Text"),
        generic.NameObject("/Rect"): generic.ArrayObject(
            [generic.NumberObject(v) for v in (500, 780, 520, 800)]),
        generic.NameObject("/Contents"): generic.TextStringObject("Đã xem - TEST ONLY"),
    }))
    annots = page.get("/Annots", generic.ArrayObject())
    annots.append(annot)
    page[generic.NameObject("/Annots")] = annots
    writer.update_container(page)
    return written(writer)


@pytest.mark.parametrize(("certify", "allowed"), [
    (None, False), (MDPPerm.FILL_FORMS, False), (MDPPerm.ANNOTATE, True),
])
def test_annotations_need_docmdp_p3(tmp_path: Path, trust: TrustStore,
                                    certify: MDPPerm | None, allowed: bool) -> None:
    result = _verify(tmp_path, _add_text_annotation(sign(base_document(), certify=certify)),
                     trust)
    assert _levels(result) == [ModificationLevel.ALLOWED if allowed
                               else ModificationLevel.DISALLOWED]
    assert "Text annotation added" in _details(result)
    if certify is None:
        assert "only a certification signature with DocMDP P=3" in _details(result)


def test_form_filling_under_p1_is_refused(tmp_path: Path, trust: TrustStore) -> None:
    filled_p2 = allowed_form_fill(sign(form_document(), certify=MDPPerm.FILL_FORMS))
    filled_p1 = allowed_form_fill(sign(form_document(), certify=MDPPerm.NO_CHANGES))
    ok = _verify(tmp_path, filled_p2, trust, "p2.pdf")
    bad = _verify(tmp_path, filled_p1, trust, "p1.pdf")
    assert _levels(ok) == [ModificationLevel.ALLOWED]
    assert "form field 'SoKyHieu' filled (value)" in _details(ok)
    assert _levels(bad) == [ModificationLevel.DISALLOWED]
    assert "DocMDP P=1" in _details(bad)


def test_field_locked_by_the_signature_cannot_be_filled(tmp_path: Path,
                                                        trust: TrustStore) -> None:
    """A FieldMDP lock (the signature field's /Lock, ISO 32000-2 §12.8.2.4) on the text
    field: filling it afterwards is a disallowed modification; a lock on another field
    leaves it fillable."""
    def locked(names: list[str]) -> bytes:
        w = IncrementalPdfFileWriter(io.BytesIO(form_document()))
        spec = fields.SigFieldSpec("Signature1", box=(300, 700, 500, 760),
                                   field_mdp_spec=fields.FieldMDPSpec(
                                       fields.FieldMDPAction.INCLUDE, fields=names))
        fields.append_signature_field(w, spec)
        return sign(written(w), field="Signature1")

    bad = _verify(tmp_path, allowed_form_fill(locked(["SoKyHieu"])), trust, "lock.pdf")
    ok = _verify(tmp_path, allowed_form_fill(locked(["Other"])), trust, "other.pdf")
    assert _levels(bad) == [ModificationLevel.DISALLOWED]
    assert "form field 'SoKyHieu' is locked by this signature" in _details(bad)
    assert _levels(ok) == [ModificationLevel.ALLOWED]


def test_removed_field_and_new_text_field_are_refused(tmp_path: Path,
                                                      trust: TrustStore) -> None:
    signed = sign(form_document(), field="Signature1")
    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    form = w.root["/AcroForm"]
    form["/Fields"] = generic.ArrayObject(
        [f for f in form["/Fields"] if f.get_object().get("/T") != "SoKyHieu"])
    w.update_container(form)
    removed = _verify(tmp_path, written(w), trust, "removed.pdf")
    assert _levels(removed) == [ModificationLevel.DISALLOWED]
    assert "form field 'SoKyHieu' removed" in _details(removed)

    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    new = w.add_object(generic.DictionaryObject({
        generic.NameObject("/FT"): generic.NameObject("/Tx"),
        generic.NameObject("/T"): generic.TextStringObject("SoTien"),
        generic.NameObject("/V"): generic.TextStringObject("9.000.000"),
    }))
    form = w.root["/AcroForm"]
    form["/Fields"].append(new)
    w.update_container(form)
    w.update_container(form["/Fields"])
    added = _verify(tmp_path, written(w), trust, "added.pdf")
    assert _levels(added) == [ModificationLevel.DISALLOWED]
    assert "form field 'SoTien' added" in _details(added)


def test_certification_after_approval_is_refused(tmp_path: Path, trust: TrustStore) -> None:
    """A /Perms /DocMDP entry appearing after an approval signature (pyHanko's signer
    refuses to make one; iText's certificationSignatureAfterApproval.pdf has it)."""
    approved = sign(form_document(), field="Signature1")
    sig = (b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached "
           b"/Reference [<< /Type /SigRef /TransformMethod /DocMDP "
           b"/TransformParams << /P 1 /V /1.2 >> >>] >>")
    update = append_update(approved, {
        40: sig, 1: _catalog_with(approved, b" /Perms << /DocMDP 40 0 R >>")})
    result = _verify(tmp_path, update, trust)
    assert _levels(result) == [ModificationLevel.DISALLOWED]
    assert "a certification signature was added after this signature" in _details(result)


def test_open_action_added_after_signing_is_refused(tmp_path: Path, trust: TrustStore) -> None:
    """A catalog entry the rules do not name (here /OpenAction) is a modification."""
    signed = sign(base_document())
    catalog = _catalog_with(signed, b" /OpenAction << /S /JavaScript /JS (1) >>")
    result = _verify(tmp_path, append_update(signed, {1: catalog}), trust)
    assert _levels(result) == [ModificationLevel.DISALLOWED]
    assert "catalog /OpenAction changed" in _details(result)
    assert result.signatures[0].sub_indication is not None
    assert result.signatures[0].sub_indication.name != "HASH_FAILURE"


def test_timestamp_and_dss_after_signing_are_allowed(tmp_path: Path, trust: TrustStore) -> None:
    """A DSS added after signing (validation data, ETSI EN 319 142-1 §5.4)."""
    signed = sign(base_document())
    dss = b"<< /Type /DSS /Certs [] >>"
    result = _verify(tmp_path, append_update(signed, {
        40: dss, 1: _catalog_with(signed, b" /DSS 40 0 R")}), trust)
    assert _levels(result) == [ModificationLevel.ALLOWED]
    assert "validation data (DSS)" in _details(result)


def _sign_visible(data: bytes, field: str, box: tuple[int, int, int, int]) -> bytes:
    """A visible signature in a new field (pyHanko draws its appearance)."""
    w = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    fields.append_signature_field(w, fields.SigFieldSpec(field, box=box))
    return sign(written(w), field=field, strict=False)


def test_compressed_document_signed_three_times(tmp_path: Path, trust: TrustStore) -> None:
    """A document rewritten by qpdf with object streams and a cross-reference stream,
    then signed three times with visible appearances (each update adds a field, its
    widget on the page, an appearance, fonts): every signature TOTAL-PASSED."""
    need("qpdf")
    plain, packed = tmp_path / "plain.pdf", tmp_path / "packed.pdf"
    plain.write_bytes(base_document())
    subprocess.run(["qpdf", "--object-streams=generate", str(plain), str(packed)],
                   check=True)
    data = packed.read_bytes()
    assert b"/ObjStm" in data and b"/XRef" in data
    for k, box in enumerate(((72, 600, 272, 660), (320, 600, 520, 660),
                             (72, 500, 272, 560)), start=1):
        data = _sign_visible(data, f"ChuKy{k}", box)
    result = _verify(tmp_path, data, trust)
    assert [s.integrity.intact for s in result.signatures] == [True, True, True]
    assert _levels(result) == [ModificationLevel.ALLOWED, ModificationLevel.ALLOWED,
                               ModificationLevel.NONE]
    assert "signature 'ChuKy3' added" in _details(result, 0)
    assert result.indication is Indication.TOTAL_PASSED, result.reason


def test_a_disallowed_change_is_explained_in_vietnamese(tmp_path: Path) -> None:
    """The analysis's findings are English in the result (JSON, store, reports) and
    said in Vietnamese by `signsvc --lang vi verify` (signsvc._i18n.localize)."""
    path = tmp_path / "annotated.pdf"
    path.write_bytes(_add_text_annotation(sign(base_document())))
    args = [sys.executable, str(Path(__file__).resolve().parents[2] / "cli.py"), "--lang",
            "vi", "verify", str(path), "--trust", str(GOV_ROOT), "--at",
            VALIDATION_TIME.isoformat(), "--store", str(tmp_path / "s.sqlite3")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert ("Signature1: văn bản đã bị sửa sau khi ký: đối tượng trang 3: đã thêm chú "
            "thích Text (chỉ chữ ký chứng nhận có DocMDP P=3 mới cho phép thêm, sửa chú "
            "thích)") in done.stdout
    assert ("=> Không hợp lệ: tài liệu đã bị sửa sau khi ký, theo cách chữ ký không cho "
            "phép") in done.stdout
    json_run = subprocess.run([*args, "--json"], capture_output=True, text=True,
                              timeout=120, check=False)
    assert "page object 3: Text annotation added" in json_run.stdout
