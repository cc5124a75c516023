"""The three appearance primitives: the font (signsvc.appearance._fonts), text search on a page
(signsvc.appearance._textfind) and page text in an incremental update (signsvc._pagetext).

Everything is checked from the outside: what poppler renders (``pdftoppm``) and
extracts (``pdftotext``, ``pdffonts``), what pyHanko's validator says, and glyph widths
computed with fontTools straight from the font's ``hmtx`` and ``glyf`` tables.
"""

from __future__ import annotations

import io
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from fontTools.ttLib import TTFont
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.stamp import TextStampStyle

from drivers import Pkcs12Key
from signsvc.appearance import _fonts, _textfind
from signsvc.appearance._textfind import (
    TextBox,
    find_text,
    page_box,
    page_count,
    page_size,
    text_lines,
)
from signsvc.errors import AppearanceError, BadInputError
from signsvc.sign._pyhanko_signer import as_pyhanko_signer
from tests.support import badpdfs
from tests.support.paths import ROOT
from tests.support.pdfcheck import pyhanko_validate
from tests.support.pdfs import one_page_pdf
from tests.support.tools import need

SAMPLES = ROOT / "samples"
NAME = "Nguyễn Thị Lấp Lánh Ánh"
STRINGS = [
    NAME,
    "Ủy ban nhân dân quận Ô Môn",
    "ngày 12 tháng 3 năm 2014",
    "ẫ ặ ỗ Ấ",
    "2014-03-12T20:53:00+07:00",
]
DPI = 150

# samples/README.md, "Signature space": x0, y0, x1, y1 (page numbers there are 1-based).
SPACE_123 = (286.3, 153.4, 513.1, 238.4)
SPACE_124 = (286.3, 135.4, 513.1, 220.4)
SPACE_125 = (286.3, 418.2, 513.1, 503.2)


@pytest.fixture(scope="module")
def signer() -> Any:
    key = Pkcs12Key.load(ROOT / "certs_test/official-rsa2048.p12", "1234")
    return as_pyhanko_signer(key)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


# --- outside measurements --------------------------------------------------------------


def ink_extent(pdf: Path, page: int,
               rect: tuple[float, float, float, float]) -> tuple[float, float] | None:
    """Leftmost and rightmost x (points) of dark pixels that pdftoppm renders inside
    ``rect`` (user space) of ``page`` (0-based); None when the area is blank."""
    need("pdftoppm")
    page_height = page_size(pdf.read_bytes(), page)[1]
    x0, y0, x1, y1 = rect
    scale = DPI / 72
    left, top = round(x0 * scale), round((page_height - y1) * scale)
    w, h = round((x1 - x0) * scale), round((y1 - y0) * scale)
    out = subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-gray", "-f", str(page + 1), "-l", str(page + 1),
         "-x", str(left), "-y", str(top), "-W", str(w), "-H", str(h), str(pdf)],
        capture_output=True, check=True).stdout
    width, height, pixels = read_pgm(out)
    columns = [c for c in range(width)
               if any(pixels[r * width + c] < 128 for r in range(height))]
    if not columns:
        return None
    return (left + columns[0]) / scale, (left + columns[-1] + 1) / scale


def read_pgm(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and 8-bit pixels of a binary PGM (P5), as pdftoppm -gray writes."""
    fields_ = data.split(maxsplit=4)
    assert fields_[0] == b"P5" and fields_[3] == b"255"
    width, height = int(fields_[1]), int(fields_[2])
    return width, height, fields_[4][: width * height]


def hmtx_ink_width(text: str, size: float) -> float:
    """Ink width of ``text`` set without kerning, from the font's tables: the advances
    of every glyph but the last, minus the first glyph's left bearing, plus the last
    glyph's right edge (glyf xMin/xMax)."""
    font = TTFont(_fonts.default_font_path())
    cmap, hmtx, glyf = font.getBestCmap(), font["hmtx"], font["glyf"]
    upem = font["head"].unitsPerEm
    names = [cmap[ord(c)] for c in unicodedata.normalize("NFC", text)]
    advances = sum(hmtx[n][0] for n in names[:-1])
    first, last = glyf[names[0]], glyf[names[-1]]
    return (advances - first.xMin + last.xMax) * size / upem


def pdftotext_area(pdf: Path, page: int, rect: tuple[float, float, float, float]) -> str:
    need("pdftotext")
    page_height = page_size(pdf.read_bytes(), page)[1]
    x0, y0, x1, y1 = rect
    proc = subprocess.run(
        ["pdftotext", "-f", str(page + 1), "-l", str(page + 1), "-r", "72",
         "-x", str(int(x0)), "-y", str(int(page_height - y1)), "-W", str(int(x1 - x0)),
         "-H", str(int(y1 - y0)), str(pdf), "-"],
        capture_output=True, check=True, text=True)
    return proc.stdout.strip()


def pdffonts(pdf: Path) -> list[list[str]]:
    need("pdffonts")
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, check=True,
                         text=True).stdout
    return [line.split() for line in out.splitlines()[2:]]


def sign_with_stamp(signer: Any, data: bytes, text: str, box: tuple[int, int, int, int],
                    size: int, font: Any, out: Path) -> Path:
    """A visible pyHanko signature whose appearance is ``text`` alone, left aligned,
    no border, no background."""
    style = TextStampStyle(
        stamp_text="%(line)s", border_width=0, background=None,
        text_box_style=TextBoxStyle(
            font=font, font_size=size,
            box_layout_rule=layout.SimpleBoxLayoutRule(
                x_align=layout.AxisAlignment.ALIGN_MIN,
                y_align=layout.AxisAlignment.ALIGN_MID,
                margins=layout.Margins(0, 0, 0, 0))))
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    pdf_signer = signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name="Sig1"), signer, stamp_style=style,
        new_field_spec=fields.SigFieldSpec("Sig1", box=box))
    buffer = io.BytesIO()
    pdf_signer.sign_pdf(writer, output=buffer, appearance_text_params={"line": text})
    out.write_bytes(buffer.getvalue())
    return out


# --- the font ----------------------------------------------------------------------------


def test_default_font_is_liberation_serif() -> None:
    path = _fonts.default_font_path()
    assert path.name == "LiberationSerif-Regular.ttf"
    metrics = _fonts.font_metrics()
    # 2048 units per em: the case pyHanko 0.38 gets wrong (see the width tests).
    assert metrics.units_per_em == 2048
    assert metrics.ascent == pytest.approx(1825 / 2048)
    assert metrics.descent == pytest.approx(-443 / 2048)
    assert _fonts.font_factory() is _fonts.font_factory(path)  # one factory per file


def test_default_font_missing_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fonts, "_search_dirs", lambda: [])
    monkeypatch.setenv("PATH", "/nonexistent")  # no fc-match either
    with pytest.raises(AppearanceError, match="fonts-liberation2"):
        _fonts.default_font_path()


def test_missing_glyphs() -> None:
    assert _fonts.missing_glyphs(" ".join(STRINGS)) == []
    # Decomposed input (NFD, as some macOS tools write) is composed first.
    assert _fonts.missing_glyphs(unicodedata.normalize("NFD", NAME)) == []
    assert _fonts.missing_glyphs("Hà Nội 中文 中 ☃") == ["中", "文", "☃"]
    with pytest.raises(AppearanceError) as caught:
        _fonts.require_glyphs("Trần 中", document=Path("in.pdf"))
    assert caught.value.characters == ("中",)
    assert caught.value.path == Path("in.pdf")
    assert "U+4E2D" in caught.value.reason


def test_unusable_font_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.ttf"
    bogus.write_bytes(b"not a font")
    with pytest.raises(AppearanceError) as caught:
        _fonts.font_factory(bogus)
    assert caught.value.path == bogus
    with pytest.raises(AppearanceError, match="not found"):
        _fonts.missing_glyphs("a", tmp_path / "absent.ttf")


@pytest.mark.parametrize("text", STRINGS)
def test_stamp_text_renders_exactly(signer: Any, tmp_path: Path, text: str) -> None:
    box = (60, 500, 560, 560)
    size = 20
    signed = sign_with_stamp(signer, one_page_pdf(), text, box, size,
                             _fonts.font_factory(), tmp_path / "stamp.pdf")
    assert pdftotext_area(signed, 0, box) == text
    cid_fonts = [row for row in pdffonts(signed) if "Identity-H" in row]
    assert len(cid_fonts) == 1
    assert cid_fonts[0][-5:-2] == ["yes", "yes", "yes"]  # emb sub uni
    extent = ink_extent(signed, 0, box)
    assert extent is not None
    rendered = extent[1] - extent[0]
    expected = hmtx_ink_width(text, size)
    # Measured within 0.3 % (kerning, anti-aliasing); double spacing is +100 %.
    assert rendered == pytest.approx(expected, rel=0.03), (rendered, expected)
    [status] = pyhanko_validate(signed)
    assert status.intact and status.valid and status.bottom_line


def test_stock_pyhanko_factory_doubles_letter_spacing(signer: Any, tmp_path: Path) -> None:
    """The pyHanko 0.38 defect _fonts works around: widths in font units, 2048 per em
    taken as 1000. When this fails, pyHanko is fixed: drop the rescaling in
    signsvc.appearance._fonts._Accumulator."""
    box = (60, 500, 560, 560)
    text = "Lấp Lánh Ánh"
    stock = GlyphAccumulatorFactory(str(_fonts.default_font_path()))
    signed = sign_with_stamp(signer, one_page_pdf(), text, box, 16, stock,
                             tmp_path / "stock.pdf")
    extent = ink_extent(signed, 0, box)
    assert extent is not None
    ratio = (extent[1] - extent[0]) / hmtx_ink_width(text, 16)
    assert ratio > 1.6, ratio


# --- text on the page ----------------------------------------------------------------


def test_signature_block_positions_match_samples_readme() -> None:
    data = sample("quyet-dinh-123.pdf")
    [title] = find_text(data, "CHỦ TỊCH")
    [name] = find_text(data, NAME)
    x0, y0, x1, y1 = SPACE_123
    for box in (title, name):
        assert box.page == 0
        assert box.centre_x == pytest.approx((x0 + x1) / 2, abs=1)
    # The space runs from just above the name's capitals to just below the title.
    assert title.y0 == pytest.approx(y1, abs=3) and title.y0 >= y1
    assert name.y1 == pytest.approx(y0, abs=3)
    assert name.text == NAME and title.text == "CHỦ TỊCH"
    # Tight: the glyphs of the match, not the line.
    [part] = find_text(data, "Lấp Lánh")
    assert name.x0 < part.x0 < part.x1 < name.x1
    assert part.height == pytest.approx(13, abs=0.01)  # 13 pt bold, pdfminer's box


def test_placeholder_is_centred_in_the_signature_space() -> None:
    data = sample("quyet-dinh-124-placeholder.pdf")
    [hit] = find_text(data, "[[KY_SO]]")
    x0, y0, x1, y1 = SPACE_124
    assert hit.page == 0
    assert hit.centre_x == pytest.approx((x0 + x1) / 2, abs=1)
    assert (hit.y0 + hit.y1) / 2 == pytest.approx((y0 + y1) / 2, abs=3)
    assert hit.height == pytest.approx(11, abs=0.01)


def test_second_page_of_two() -> None:
    data = sample("quyet-dinh-125-hai-trang.pdf")
    assert page_count(data) == 2
    [name] = find_text(data, NAME)
    [title] = find_text(data, "CHỦ TỊCH", page=1)
    assert name.page == title.page == 1
    assert find_text(data, NAME, page=0) == []
    x0, y0, x1, y1 = SPACE_125
    assert name.centre_x == pytest.approx((x0 + x1) / 2, abs=1)
    assert title.y0 == pytest.approx(y1, abs=3)
    assert name.y1 == pytest.approx(y0, abs=3)


def test_text_lines_give_the_title_above_the_name() -> None:
    data = sample("quyet-dinh-123.pdf")
    lines = text_lines(data, 0)
    assert lines[0].text == "ỦY BAN NHÂN DÂN"  # top left first
    assert [line.y1 for line in lines] == sorted((line.y1 for line in lines), reverse=True)
    name = next(line for line in lines if line.text == NAME)
    above = [line for line in lines
             if line.y0 > name.y1 and line.x0 < name.x1 and line.x1 > name.x0]
    assert [line.text for line in above[-2:]] == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]
    # The left column on the same height is a line of its own.
    assert any(line.text == "Nơi nhận:" for line in lines)


def test_matching_is_nfc_whitespace_collapsed_and_case_sensitive() -> None:
    data = sample("quyet-dinh-123.pdf")
    [plain] = find_text(data, NAME)
    [decomposed] = find_text(data, unicodedata.normalize("NFD", "Nguyễn  Thị\nLấp Lánh Ánh"))
    assert decomposed == plain
    assert find_text(data, NAME.lower()) == []
    # A match may run from one line of a paragraph to the next; its box covers both.
    [across] = find_text(data, "năm 2015; Luật sửa đổi")
    assert across.height > 25
    # Every occurrence, top to bottom.
    hits = find_text(data, "Căn cứ")
    assert len(hits) == 4
    assert [h.y1 for h in hits] == sorted((h.y1 for h in hits), reverse=True)


def test_page_geometry() -> None:
    data = sample("phu-luc-123.pdf")
    assert page_count(data) == 1
    assert page_size(data, 0) == pytest.approx((595.2756, 841.8898))
    assert page_box(data, 0) == pytest.approx((0, 0, 595.2756, 841.8898))
    with pytest.raises(BadInputError, match="page 1 does not exist"):
        page_size(data, 1)
    with pytest.raises(BadInputError, match="page 3 does not exist"):
        find_text(data, "x", page=3)


def _with_page_entries(data: bytes, entries: dict[str, Any]) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    page_ref, _ = writer.find_page_for_modification(0)
    page = page_ref.get_object()
    for key, value in entries.items():
        page[generic.NameObject(key)] = value
    writer.mark_update(page_ref)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_rotated_page_boxes_stay_in_user_space(rotate: int) -> None:
    data = sample("quyet-dinh-123.pdf")
    rotated = _with_page_entries(data, {"/Rotate": generic.NumberObject(rotate)})
    [upright] = find_text(data, NAME)
    [turned] = find_text(rotated, NAME)
    assert turned.text == NAME
    assert (turned.x0, turned.y0, turned.x1, turned.y1) == pytest.approx(
        (upright.x0, upright.y0, upright.x1, upright.y1), abs=0.01)


def test_media_box_origin_and_crop_box() -> None:
    data = sample("quyet-dinh-123.pdf")
    numbers = [generic.FloatObject(v) for v in (-50, -60, 600, 850)]
    crop = [generic.FloatObject(v) for v in (10, 20, 580, 830)]
    moved = _with_page_entries(data, {"/MediaBox": generic.ArrayObject(numbers),
                                      "/CropBox": generic.ArrayObject(crop)})
    [before] = find_text(data, NAME)
    [after] = find_text(moved, NAME)
    assert after.x0 == pytest.approx(before.x0) and after.y0 == pytest.approx(before.y0)
    assert page_size(moved, 0) == pytest.approx((650, 910))
    assert page_box(moved, 0) == pytest.approx((10, 20, 580, 830))


def test_bad_input(tmp_path: Path) -> None:
    for bad in (b"", b"<html>not a pdf</html>", sample("quyet-dinh-123.pdf")[:5000]):
        with pytest.raises(BadInputError):
            find_text(bad, NAME)
    with pytest.raises(BadInputError):
        page_count(b"%PDF-1.7\n garbage")
    encrypted = badpdfs.encrypted(tmp_path).read_bytes()
    with pytest.raises(BadInputError, match="password"):
        find_text(encrypted, NAME)
    with pytest.raises(BadInputError, match="password is wrong"):
        find_text(encrypted, NAME, password="sai")
    [hit] = find_text(encrypted, NAME, password=badpdfs.USER_PASSWORD)
    assert hit.text == NAME
    assert page_count(encrypted, password=badpdfs.USER_PASSWORD) == 1


# --- page text in an incremental update ---------------------------------------------------


def test_textbox_properties() -> None:
    box = TextBox(page=0, x0=10, y0=20, x1=30, y1=50, text="x")
    assert (box.width, box.height, box.centre_x) == (20, 30, 20)
    assert _textfind.__all__ == ["TextBox", "find_text", "page_box", "page_count",
                               "page_size", "text_lines"]
