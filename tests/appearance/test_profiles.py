"""Decree 30/2020 appearances, checked on the rendered page (pdftoppm pixels), by text
extraction (pdftotext), font embedding (pdffonts) and pyHanko's validator."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader

import signsvc
from drivers import Pkcs12Key
from signsvc.appearance.profiles import MM, AppearanceOptions
from tests.support.paths import PKI, ROOT
from tests.support.pdfcheck import pyhanko_validate

SAMPLES = ROOT / "samples"
SIGNATURE = PKI / "images" / "signature.png"
SEAL = PKI / "images" / "seal.png"
NAME = "Nguyễn Thị Lấp Lánh Ánh"
ORG = "Ủy ban nhân dân quận Ô Môn"
SIGNATURE_SPACE = (286.3, 153.4, 513.1, 238.4)  # samples/README.md, quyet-dinh-123


def p12(name: str) -> Pkcs12Key:
    return Pkcs12Key.load(PKI / f"{name}.p12", "1234")


def render(pdf: Path, page: int = 1) -> Image.Image:
    """The page at 72 dpi: one pixel per PDF point, row 0 at the top."""
    prefix = pdf.with_suffix("")
    subprocess.run(["pdftoppm", "-r", "72", "-png", "-f", str(page), "-l", str(page),
                    "-singlefile", str(pdf), str(prefix)], check=True)
    return Image.open(f"{prefix}.png").convert("RGB")


def pixels(image: Image.Image, kind: str) -> list[tuple[int, int]]:
    """(x, y_from_bottom) of clearly blue (ink) or red (seal) pixels."""
    found = []
    data = image.load()
    assert data is not None
    for y in range(image.height):
        for x in range(image.width):
            r, g, b = data[x, y]
            if (kind == "blue" and b > 120 and r < 110 and g < 130 and b - r > 60) or (
                    kind == "red" and r > 140 and g < 90 and b < 90):
                found.append((x, image.height - y))
    return found


def widgets(pdf: Path) -> dict[str, tuple[int, tuple[float, ...]]]:
    with pdf.open("rb") as handle:
        reader = PdfFileReader(handle)
        pages = {reader.find_page_for_modification(i)[0].idnum: i
                 for i in range(int(reader.root["/Pages"]["/Count"]))}
        out = {}
        for sig in reader.embedded_signatures:
            field = sig.sig_field
            rect = tuple(float(v) for v in field["/Rect"])
            out[sig.field_name] = (pages[field.raw_get("/P").idnum], rect)
        return out


def pdftotext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


def personal(tmp_path: Path, sample: str = "quyet-dinh-123.pdf", **kw: object) -> Path:
    out = tmp_path / f"personal-{sample}"
    look = AppearanceOptions(profile="personal", signature_image=SIGNATURE,
                             **({"anchor": NAME} | kw))  # type: ignore[arg-type]
    signsvc.sign_pdf(SAMPLES / sample, out, p12("official-rsa2048"), appearance=look)
    return out


def test_personal_by_name_sits_in_the_signature_space(tmp_path: Path) -> None:
    out = personal(tmp_path)
    page, (x0, y0, x1, y1) = widgets(out)["Signature1"]
    sx0, sy0, sx1, sy1 = SIGNATURE_SPACE
    assert page == 0
    assert sx0 <= x0 < x1 <= sx1 and sy0 - 2 <= y0 < y1 <= sy1 + 2
    assert abs((x0 + x1) / 2 - (sx0 + sx1) / 2) < 12  # centred over the name
    blue = pixels(render(out), "blue")
    assert len(blue) > 200
    inside = [p for p in blue if x0 - 1 <= p[0] <= x1 + 1 and y0 - 1 <= p[1] <= y1 + 1]
    assert len(inside) == len(blue)  # the ink is in the box and nowhere else
    [status] = pyhanko_validate(out)
    assert status.intact and status.valid


def test_personal_on_a_placeholder_hides_it(tmp_path: Path) -> None:
    out = personal(tmp_path, "quyet-dinh-124-placeholder.pdf", anchor="[[KY_SO]]")
    _, (x0, y0, x1, y1) = widgets(out)["Signature1"]
    assert 286 <= x0 < x1 <= 514 and 135 <= y0 < y1 <= 221
    assert len(pixels(render(out), "blue")) > 200


def test_personal_by_page_box_on_page_two(tmp_path: Path) -> None:
    out = personal(tmp_path, "quyet-dinh-125-hai-trang.pdf", anchor=None, page=2,
                   box_mm=(110.0, 120.0, 60.0, 24.0))
    page, (x0, _, x1, y1) = widgets(out)["Signature1"]
    assert page == 1
    # The image keeps its real size (600 x 240 px at 300 dpi = 50.8 x 20.3 mm), centred
    # in the 60 x 24 mm box.
    assert 110 <= x0 / MM and x1 / MM <= 170 and abs((x0 + x1) / 2 / MM - 140) < 1
    assert abs((x1 - x0) / MM - 50.8) < 1.5
    assert 120 <= (841.89 - y1) / MM < 125
    assert len(pixels(render(out, 2), "blue")) > 200
    assert pixels(render(out, 1), "blue") == []


def test_personal_text_renders_vietnamese(tmp_path: Path) -> None:
    out = personal(tmp_path, show_text=True)
    text = pdftotext(out)
    assert f"Ký bởi: {NAME}" in text
    assert "+07:00" in text
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True,
                           check=True).stdout
    assert any("Liberation" in line and line.split()[-5:-2] == ["yes", "yes", "yes"]
               for line in fonts.splitlines()), fonts


def test_organisation_seal_covers_the_left_third_of_the_personal_signature(
        tmp_path: Path) -> None:
    leader = personal(tmp_path)
    out = tmp_path / "issued.pdf"
    look = AppearanceOptions(profile="organisation", seal_image=SEAL, seal_size_mm=36,
                             org_name=ORG)
    signsvc.sign_pdf(leader, out, p12("org-omon"), appearance=look)
    boxes = widgets(out)
    _, (px0, _, px1, _) = boxes["Signature1"]
    page, (_, sy0, _, sy1) = boxes["Signature2"]
    assert page == 0 and round((sy1 - sy0) / MM) == 36  # the seal's real size
    image = render(out)
    red = pixels(image, "red")
    assert len(red) > 500
    right = max(x for x, _ in red)
    third = px0 + (px1 - px0) / 3
    assert abs(right - third) < 6  # the seal's right edge a third into the signature
    assert min(x for x, _ in red) >= 0 and right <= image.width
    assert len(pixels(image, "blue")) > 100  # the signature still shows beside the seal
    text = pdftotext(out)
    assert ORG in text and "+07:00" in text
    assert [s.intact and s.valid for s in pyhanko_validate(out)] == [True, True]


def test_organisation_without_personal_is_refused_unless_forced(tmp_path: Path) -> None:
    look = AppearanceOptions(profile="organisation", seal_image=SEAL, seal_size_mm=36,
                             org_name=ORG)
    with pytest.raises(signsvc.AppearanceError, match="no personal signature"):
        signsvc.sign_pdf(SAMPLES / "quyet-dinh-123.pdf", tmp_path / "o.pdf", p12("org-omon"),
                         appearance=look)
    forced = AppearanceOptions(profile="organisation", seal_image=SEAL, seal_size_mm=36,
                               org_name=ORG, force=True, page=1, box_mm=(100, 220, 40, 40))
    signsvc.sign_pdf(SAMPLES / "quyet-dinh-123.pdf", tmp_path / "o.pdf", p12("org-omon"),
                     appearance=forced)
    assert len(pixels(render(tmp_path / "o.pdf"), "red")) > 500


@pytest.mark.parametrize(("profile", "extra", "expected"), [
    ("attachment", {"doc_number": "Số: 123/QĐ-UBND"}, ["Số: 123/QĐ-UBND"]),
    ("appendix", {"doc_number": "Số: 123/QĐ-UBND"}, ["Số: 123/QĐ-UBND"]),
    ("copy", {"copy_form": "SAO Y", "org_name": ORG}, ["SAO Y", ORG]),
])
def test_top_right_profiles(tmp_path: Path, profile: str, extra: dict[str, str],
                            expected: list[str]) -> None:
    out = tmp_path / "out.pdf"
    look = AppearanceOptions(profile=profile, **extra)  # type: ignore[arg-type]
    result = signsvc.sign_pdf(SAMPLES / "phu-luc-123.pdf", out, p12("org-omon"),
                              appearance=look)
    page, (_, y0, x1, y1) = widgets(out)["Signature1"]
    assert page == 0 and x1 > 595.28 / 2 and y0 > 841.89 - 40 * MM  # top right
    assert x1 <= 595.28 and y1 <= 841.89
    text = pdftotext(out)
    for line in expected:
        assert line in text
    assert result.signing_time is not None
    local = result.signing_time.astimezone(signsvc._time.VIETNAM_TIME)
    assert local.isoformat() in text  # e.g. 2026-11-27T19:20:00+07:00


def test_issuance_writes_number_and_date_before_the_seal(tmp_path: Path) -> None:
    from tests.support.pdfs import write_one_page_pdf

    draft = write_one_page_pdf(tmp_path / "draft.pdf", "So: [[SO]]   Ngay: [[NGAY]]")
    leader = tmp_path / "leader.pdf"
    signsvc.sign_pdf(draft, leader, p12("official-rsa2048"), appearance=AppearanceOptions(
        profile="personal", signature_image=SIGNATURE, page=1, box_mm=(120, 60, 50, 20)))
    out = tmp_path / "issued.pdf"
    look = AppearanceOptions(profile="organisation", seal_image=SEAL, seal_size_mm=30,
                             org_name=ORG, doc_number="123/QĐ-UBND", number_anchor="[[SO]]",
                             doc_date="Cần Thơ, ngày 12 tháng 3 năm 2014",
                             date_anchor="[[NGAY]]")
    signsvc.sign_pdf(leader, out, p12("org-omon"), appearance=look)
    text = pdftotext(out)
    assert "123/QĐ-UBND" in text and "ngày 12 tháng 3 năm 2014" in text
    first, second = pyhanko_validate(out)
    # The number and date live in the organisation signature's appearance: for the
    # leader's signature that is "a signature was added", not a page modification.
    assert first.bottom_line and first.modification_level in ("NONE", "FORM_FILLING")
    assert second.bottom_line and second.coverage == "ENTIRE_FILE"
    image = render(out)
    placeholder_gone = pdftotext(out)
    assert "123/QĐ-UBND" in placeholder_gone
    assert len(pixels(image, "red")) > 300


def test_issuance_on_page_one_when_the_seal_is_on_page_two(tmp_path: Path) -> None:
    """A widget lives on one page: the number and date get a signature of their own."""
    leader = personal(tmp_path, "quyet-dinh-125-hai-trang.pdf")
    out = tmp_path / "issued.pdf"
    look = AppearanceOptions(profile="organisation", seal_image=SEAL, seal_size_mm=36,
                             org_name=ORG, doc_number="126/QĐ-UBND",
                             number_anchor="125/QĐ-UBND", doc_date="ngày 12 tháng 3 năm 2014",
                             date_anchor="ngày 27 tháng 11 năm 2026")
    signsvc.sign_pdf(leader, out, p12("org-omon"), appearance=look)
    boxes = widgets(out)
    assert [boxes[name][0] for name in ("Signature1", "Signature2", "Signature3")] == [1, 0, 1]
    statuses = pyhanko_validate(out)
    assert [s.signer_common_name for s in statuses] == [
        NAME, "UBND quận Ô Môn", "UBND quận Ô Môn"]
    assert all(s.bottom_line for s in statuses), [s.summary for s in statuses]
    page_one = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(out), "-"],
                              capture_output=True, text=True, check=True).stdout
    assert "126/QĐ-UBND" in page_one and "ngày 12 tháng 3 năm 2014" in page_one
    assert len(pixels(render(out, 2), "red")) > 300 and pixels(render(out, 1), "red") == []


def test_issuance_by_boxes(tmp_path: Path) -> None:
    leader = personal(tmp_path)
    out = tmp_path / "issued.pdf"
    look = AppearanceOptions(profile="organisation", seal_image=SEAL, seal_size_mm=36,
                             org_name=ORG, doc_number="Số: 777/QĐ-UBND",
                             number_box_mm=(30.0, 60.0, 60.0, 6.0))
    signsvc.sign_pdf(leader, out, p12("org-omon"), appearance=look)
    assert "Số: 777/QĐ-UBND" in pdftotext(out)
    assert len(widgets(out)) == 2


def test_bad_appearance_inputs(tmp_path: Path) -> None:
    key = p12("official-rsa2048")
    source = SAMPLES / "quyet-dinh-123.pdf"
    with pytest.raises(signsvc.AppearanceError, match="cannot be read"):
        signsvc.sign_pdf(source, tmp_path / "a.pdf", key, appearance=AppearanceOptions(
            profile="personal", signature_image=tmp_path / "none.png", anchor=NAME))
    (tmp_path / "x.png").write_text("not an image")
    with pytest.raises(signsvc.AppearanceError, match="not an image"):
        signsvc.sign_pdf(source, tmp_path / "b.pdf", key, appearance=AppearanceOptions(
            profile="personal", signature_image=tmp_path / "x.png", anchor=NAME))
    Image.new("RGB", (60, 20), "blue").save(tmp_path / "opaque.png")
    with pytest.warns(UserWarning, match="no transparency"):
        signsvc.sign_pdf(source, tmp_path / "c.pdf", key, appearance=AppearanceOptions(
            profile="personal", signature_image=tmp_path / "opaque.png", anchor=NAME))
    with pytest.raises(signsvc.BadInputError, match="exactly one"):
        AppearanceOptions(profile="personal", signature_image=SIGNATURE)


def test_per_document_appearance_failures_do_not_stop_the_batch(tmp_path: Path) -> None:
    look = AppearanceOptions(profile="personal", signature_image=SIGNATURE, anchor=NAME)
    docs = [SAMPLES / "quyet-dinh-123.pdf", SAMPLES / "phu-luc-123.pdf",
            SAMPLES / "quyet-dinh-125-hai-trang.pdf"]
    results = signsvc.sign_batch(docs, tmp_path / "out", p12("official-rsa2048"),
                                 appearance=look)
    assert [r.status for r in results] == ["signed", "failed", "signed"]
    assert "phu-luc-123.pdf" in (results[1].error or "") and "not found" in (
        results[1].error or "")
    off = AppearanceOptions(profile="personal", signature_image=SIGNATURE, page=1,
                            box_mm=(190, 10, 50, 20))
    far = AppearanceOptions(profile="personal", signature_image=SIGNATURE, page=9,
                            box_mm=(10, 10, 50, 20))
    assert "off page" in (signsvc.sign_batch([docs[0]], tmp_path / "o2", p12(
        "official-rsa2048"), appearance=off)[0].error or "")
    assert "does not exist" in (signsvc.sign_batch([docs[0]], tmp_path / "o3", p12(
        "official-rsa2048"), appearance=far)[0].error or "")
    cjk = AppearanceOptions(profile="copy", copy_form="SAO Y", org_name="中文机构")
    failed = signsvc.sign_batch([docs[1]], tmp_path / "o4", p12("org-omon"), appearance=cjk)
    assert failed[0].status == "failed" and "中" in (failed[0].error or "")


def test_batch_of_personal_signatures_in_worker_processes(tmp_path: Path) -> None:
    """Images and anchors travel to forked workers; each document finds its own anchor."""
    look = AppearanceOptions(profile="personal", signature_image=SIGNATURE, anchor=NAME)
    docs = [SAMPLES / "quyet-dinh-123.pdf", SAMPLES / "quyet-dinh-125-hai-trang.pdf"]
    results = signsvc.sign_batch(docs, tmp_path / "out", p12("official-rsa2048"), jobs=2,
                                 executor="process", appearance=look)
    assert [r.status for r in results if r.status != "signed"] == []
    pages = {r.input.name: widgets(r.output)["Signature1"][0] for r in results
             if r.output is not None}
    assert pages == {"quyet-dinh-123.pdf": 0, "quyet-dinh-125-hai-trang.pdf": 1}
