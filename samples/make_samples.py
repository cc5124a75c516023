"""Generate the sample decisions in samples/ (Decree 30/2020/NĐ-CP, Appendix I layout).

Developer-only: needs reportlab (``pip install -e '.[samples]'``) and Liberation Serif
(Debian ``fonts-liberation2``). Output is byte-for-byte reproducible for a given
reportlab and fontTools version (``invariant=1`` fixes the creation date and the
file ID).

Example::

    .venv/bin/python samples/make_samples.py            # write the four PDFs
    .venv/bin/python samples/make_samples.py --check    # and verify them with poppler

``--check`` runs ``pdftotext -layout`` on every file and requires every Vietnamese
string the script placed to come back exactly (NFC, every diacritic), and ``pdffonts``
to report every font embedded, subset and with a ToUnicode map. It also prints the
signature space of each sample, the numbers quoted in samples/README.md.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

HERE = Path(__file__).resolve().parent
FONT_DIR = Path("/usr/share/fonts/truetype/liberation2")

# Liberation Serif is metric-compatible with Times New Roman, the font Decree 30/2020
# App. I §I.1 prescribes (TCVN 6909:2001 Unicode), and covers every Vietnamese letter.
SERIF = "LiberationSerif"
FACES = {
    SERIF: "LiberationSerif-Regular.ttf",
    f"{SERIF}-Bold": "LiberationSerif-Bold.ttf",
    f"{SERIF}-Italic": "LiberationSerif-Italic.ttf",
    f"{SERIF}-BoldItalic": "LiberationSerif-BoldItalic.ttf",
}
REGULAR, BOLD, ITALIC, BOLD_ITALIC = FACES

# Decree 30/2020 App. I §I.2, §I.4: A4, top/bottom margins 20-25 mm, left 30-35 mm,
# right 15-20 mm.
PAGE_W, PAGE_H = A4
LEFT, RIGHT, TOP, BOTTOM = 30 * mm, 20 * mm, 20 * mm, 20 * mm
TEXT_W = PAGE_W - LEFT - RIGHT
# The two header columns (agency | national title), as in the Word templates that
# accompany the Decree: roughly 6 cm and the rest of the line.
LEFT_COL_W = 62 * mm
LEFT_COL_X = LEFT + LEFT_COL_W / 2
RIGHT_COL_X = LEFT + LEFT_COL_W + (TEXT_W - LEFT_COL_W) / 2
HEADER_H = 36 * mm
"""Height of the page-1 header band (agency, national title, number, place/date)."""

SIGNATURE_SPACE_H = 30 * mm
"""Blank height between the signer's title and full name: room for the handwritten
signature image and the red seal over it (Decree 30/2020 App. I §II.7, §II.8)."""
SIGNATURE_COL_W = 80 * mm

AGENCY = ("ỦY BAN NHÂN DÂN", "QUẬN Ô MÔN")
NATIONAL_TITLE = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
PLACE_DATE = "Ô Môn, ngày 27 tháng 11 năm 2026"
SIGNER_ROLE = ("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH")
SIGNER = "Nguyễn Thị Lấp Lánh Ánh"
PLACEHOLDER = "[[KY_SO]]"

CAN_CU_CHUNG = [
    "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015; Luật sửa đổi, "
    "bổ sung một số điều của Luật Tổ chức Chính phủ và Luật Tổ chức chính quyền địa "
    "phương ngày 22 tháng 11 năm 2019;",
    "Căn cứ Luật Giao dịch điện tử ngày 22 tháng 6 năm 2023;",
    "Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ về công "
    "tác văn thư;",
]


@dataclass
class Decision:
    """One sample document and the strings it must show."""

    filename: str
    number: str
    subject: str
    title: str = "QUYẾT ĐỊNH"
    grounds: list[str] = field(default_factory=list)
    articles: list[tuple[str, list[str]]] = field(default_factory=list)
    """(heading such as "Điều 1.", [first paragraph, further paragraphs...])."""
    recipients: list[str] = field(default_factory=list)
    placeholder: str | None = None


@dataclass
class Appendix:
    """A separate-file appendix (Phụ lục): a title and a table, no signature block."""

    filename: str
    heading: str
    title: str
    attached_to: str
    columns: list[str]
    rows: list[list[str]]
    note: str


RECIPIENTS = [
    "- Như Điều 3;",
    "- UBND thành phố Cần Thơ;",
    "- Sở Khoa học và Công nghệ;",
    "- TT. Quận ủy, TT. HĐND quận;",
    "- CT, các PCT UBND quận;",
    "- Lưu: VT, VHTT.",
]

EXECUTION = (
    "Chánh Văn phòng Hội đồng nhân dân và Ủy ban nhân dân quận, Trưởng phòng Văn hóa và "
    "Thông tin quận, Thủ trưởng các cơ quan, đơn vị thuộc quận và Chủ tịch Ủy ban nhân dân "
    "các phường chịu trách nhiệm thi hành Quyết định này./."
)

SAMPLES: list[Decision | Appendix] = [
    Decision(
        filename="quyet-dinh-123.pdf",
        number="Số: 123/QĐ-UBND",
        subject="Về việc ban hành Kế hoạch ứng dụng chữ ký số trong hoạt động của cơ quan "
        "hành chính nhà nước trên địa bàn quận năm 2027",
        grounds=[
            *CAN_CU_CHUNG,
            "Căn cứ Nghị định số 68/2024/NĐ-CP ngày 25 tháng 6 năm 2024 của Chính phủ "
            "quy định về chữ ký số chuyên dùng công vụ;",
            "Theo đề nghị của Trưởng phòng Văn hóa và Thông tin quận.",
        ],
        articles=[
            ("Điều 1.", [
                "Ban hành kèm theo Quyết định này Kế hoạch ứng dụng chữ ký số trong hoạt "
                "động của cơ quan hành chính nhà nước trên địa bàn quận Ô Môn năm 2027.",
            ]),
            ("Điều 2.", ["Quyết định này có hiệu lực thi hành kể từ ngày ký."]),
            ("Điều 3.", [EXECUTION]),
        ],
        recipients=RECIPIENTS,
    ),
    Decision(
        filename="quyet-dinh-124-placeholder.pdf",
        number="Số: 124/QĐ-UBND",
        subject="Về việc thành lập Tổ công tác triển khai chữ ký số chuyên dùng công vụ "
        "quận Ô Môn",
        grounds=[
            "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015;",
            "Căn cứ Nghị định số 68/2024/NĐ-CP ngày 25 tháng 6 năm 2024 của Chính phủ "
            "quy định về chữ ký số chuyên dùng công vụ;",
            "Theo đề nghị của Chánh Văn phòng HĐND và UBND quận.",
        ],
        articles=[
            ("Điều 1.", [
                "Thành lập Tổ công tác triển khai chữ ký số chuyên dùng công vụ quận Ô Môn "
                "gồm các ông, bà có tên sau đây:",
                "1. Ông Trần Văn Đức, Phó Chủ tịch Ủy ban nhân dân quận, Tổ trưởng;",
                "2. Bà Lê Thị Ngọc Ẩn, Trưởng phòng Văn hóa và Thông tin quận, Tổ phó;",
                "3. Ông Đặng Quốc Hưng, Phó Chánh Văn phòng HĐND và UBND, thành viên;",
                "4. Bà Phạm Thị Thu Hường, văn thư Văn phòng HĐND và UBND quận, thư ký.",
            ]),
            ("Điều 2.", [
                "Tổ công tác hướng dẫn các cơ quan, đơn vị đăng ký, quản lý thiết bị lưu "
                "khóa bí mật, kiểm tra việc ký số văn bản đi và tự giải thể sau khi hoàn "
                "thành nhiệm vụ.",
            ]),
            ("Điều 3.", [
                "Quyết định này có hiệu lực thi hành kể từ ngày ký. Chánh Văn phòng Hội "
                "đồng nhân dân và Ủy ban nhân dân quận, Thủ trưởng các cơ quan, đơn vị có "
                "liên quan và các ông, bà có tên tại Điều 1 chịu trách nhiệm thi hành "
                "Quyết định này./.",
            ]),
        ],
        recipients=["- Như Điều 3;", "- CT, các PCT UBND quận;", "- Lưu: VT, VP."],
        placeholder=PLACEHOLDER,
    ),
    Decision(
        filename="quyet-dinh-125-hai-trang.pdf",
        number="Số: 125/QĐ-UBND",
        subject="Về việc quy định ký số và phát hành văn bản điện tử tại Ủy ban nhân dân "
        "quận Ô Môn",
        grounds=[
            *CAN_CU_CHUNG,
            "Căn cứ Nghị định số 68/2024/NĐ-CP ngày 25 tháng 6 năm 2024 của Chính phủ "
            "quy định về chữ ký số chuyên dùng công vụ;",
            "Theo đề nghị của Chánh Văn phòng Hội đồng nhân dân và Ủy ban nhân dân quận.",
        ],
        articles=[
            ("Điều 1. Phạm vi và đối tượng áp dụng", [
                "Quyết định này quy định việc ký số, phát hành và lưu trữ văn bản điện tử "
                "của Ủy ban nhân dân quận, Chủ tịch Ủy ban nhân dân quận và các cơ quan "
                "chuyên môn thuộc Ủy ban nhân dân quận Ô Môn.",
            ]),
            ("Điều 2. Nguyên tắc ký số", [
                "1. Người có thẩm quyền ký số văn bản bằng chứng thư số cá nhân trước; văn "
                "thư chỉ ký số của cơ quan lên văn bản đã có chữ ký số của người có thẩm "
                "quyền.",
                "2. Hình ảnh chữ ký của người có thẩm quyền là chữ ký trên văn bản giấy, màu "
                "xanh, định dạng PNG nền trong suốt, đặt canh giữa chức vụ và họ tên người "
                "ký.",
                "3. Hình ảnh con dấu của cơ quan màu đỏ, đúng kích thước thực tế, trùm lên "
                "khoảng 1/3 hình ảnh chữ ký của người có thẩm quyền về phía bên trái.",
                "4. Không sử dụng thuật toán băm SHA-1 để ký số văn bản mới; mật khẩu thiết "
                "bị lưu khóa bí mật không được ghi lại hoặc chia sẻ cho người khác.",
            ]),
            ("Điều 3. Trách nhiệm của văn thư", [
                "Văn thư kiểm tra thể thức, ghi số, ký hiệu, ngày, tháng, năm của văn bản; "
                "ký số của cơ quan và phát hành văn bản trong ngày văn bản được ký, chậm "
                "nhất là ngày làm việc tiếp theo. Phụ lục kèm theo văn bản ở tệp tin riêng "
                "được ký số của cơ quan tại vị trí trên cùng, góc phải trang đầu.",
            ]),
            ("Điều 4. Trách nhiệm của các cơ quan, đơn vị", [
                "Thủ trưởng các cơ quan, đơn vị quản lý thiết bị lưu khóa bí mật được cấp; "
                "khi thiết bị bị mất, hư hỏng hoặc người được cấp nghỉ việc, chuyển công "
                "tác phải báo cáo ngay để thu hồi chứng thư số.",
            ]),
            ("Điều 5. Hiệu lực thi hành", [
                "Quyết định này có hiệu lực thi hành kể từ ngày 01 tháng 01 năm 2027 và "
                "thay thế Quyết định số 45/QĐ-UBND ngày 15 tháng 3 năm 2021 của Ủy ban "
                "nhân dân quận.",
            ]),
            ("Điều 6. Tổ chức thực hiện", [EXECUTION]),
        ],
        recipients=[
            "- Như Điều 6;",
            "- UBND thành phố Cần Thơ;",
            "- Ban Cơ yếu Chính phủ;",
            "- TT. Quận ủy, TT. HĐND quận;",
            "- CT, các PCT UBND quận;",
            "- Cổng thông tin điện tử quận;",
            "- Lưu: VT, VP.",
        ],
    ),
    Appendix(
        filename="phu-luc-123.pdf",
        heading="Phụ lục",
        title="DANH MỤC NHIỆM VỤ ỨNG DỤNG CHỮ KÝ SỐ NĂM 2027",
        attached_to="(Kèm theo Quyết định số 123/QĐ-UBND ngày 27 tháng 11 năm 2026 của "
        "Ủy ban nhân dân quận Ô Môn)",
        columns=["STT", "Nhiệm vụ", "Cơ quan chủ trì", "Thời hạn"],
        rows=[
            ["1", "Rà soát, đề nghị cấp chứng thư số cá nhân", "Văn phòng", "Quý I/2027"],
            ["2", "Cấp chứng thư số cho các phường", "Phòng VHTT", "Quý I/2027"],
            ["3", "Ký số toàn bộ văn bản đi của quận", "Văn phòng", "Quý II/2027"],
            ["4", "Ký số hồ sơ thủ tục hành chính", "Bộ phận Một cửa", "Quý II/2027"],
            ["5", "Tập huấn ký số cho lãnh đạo, văn thư", "Phòng Nội vụ", "Quý III/2027"],
            ["6", "Kiểm tra, đánh giá kết quả thực hiện", "Phòng VHTT", "Quý IV/2027"],
        ],
        note="Ghi chú: Văn phòng Hội đồng nhân dân và Ủy ban nhân dân quận tổng hợp kết quả, "
        "báo cáo Chủ tịch Ủy ban nhân dân quận trước ngày 15 tháng 12 năm 2027.",
    ),
]


# Latin and Vietnamese (Unicode blocks Basic Latin, Latin-1, Latin Extended-A/B for
# Ơ ơ Ư ư Đ đ, combining marks, Latin Extended Additional) and general punctuation.
VIETNAMESE_RANGES = [(0x20, 0x7E), (0xA0, 0xFF), (0x100, 0x17F), (0x1A0, 0x1B0),
                     (0x300, 0x323), (0x1EA0, 0x1EF9), (0x2010, 0x2026)]


def register_fonts(workdir: Path) -> None:
    """Register the four Liberation Serif faces with reportlab, without hinting.

    TrueType hinting instructions are half of Liberation's glyph data and only help
    rasterisers at small pixel sizes; dropping them (fontTools) keeps each sample
    under 60 KB. reportlab then embeds a subset of the used glyphs with a ToUnicode
    map, so text extraction returns the exact Vietnamese strings.
    """
    from fontTools import subset

    # FontForge's private FFTM table is dropped with a warning per face: expected.
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
    options = subset.Options()
    options.hinting = False
    options.layout_features = []  # reportlab does no shaping: GSUB/GPOS unused
    options.name_IDs = ["*"]
    options.recalc_timestamp = False  # reproducible output
    unicodes = [u for lo, hi in VIETNAMESE_RANGES for u in range(lo, hi + 1)]
    for name, file in FACES.items():
        font = subset.load_font(str(FONT_DIR / file), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=unicodes)
        subsetter.subset(font)
        out = workdir / file
        subset.save_font(font, str(out), options)
        pdfmetrics.registerFont(TTFont(name, str(out)))
    pdfmetrics.registerFontFamily(SERIF, normal=REGULAR, bold=BOLD, italic=ITALIC,
                                  boldItalic=BOLD_ITALIC)


def _style(name: str, font: str, size: float = 13, **kw: object) -> ParagraphStyle:
    kw.setdefault("leading", size * 1.25)
    return ParagraphStyle(name, fontName=font, fontSize=size, **kw)  # type: ignore[arg-type]


# Decree 30/2020 App. I §II: title 13-14 bold; subject 13-14 bold; body 13-14,
# justified, first-line indent 1-1.27 cm, paragraph spacing >= 6 pt; "Nơi nhận" 12
# bold italic, its list 11; signer's title and name 13-14 bold.
TITLE = _style("title", BOLD, 14, alignment=TA_CENTER)
SUBJECT = _style("subject", BOLD, 14, alignment=TA_CENTER)
AUTHORITY = _style("authority", BOLD, 13, alignment=TA_CENTER, spaceBefore=12, spaceAfter=6)
GROUND = _style("ground", ITALIC, 13, alignment=TA_JUSTIFY, firstLineIndent=10 * mm,
                spaceAfter=3)
DECIDES = _style("decides", BOLD, 13, alignment=TA_CENTER, spaceBefore=6, spaceAfter=6)
BODY = _style("body", REGULAR, 13, alignment=TA_JUSTIFY, firstLineIndent=10 * mm,
              spaceAfter=6)
CELL = _style("cell", REGULAR, 12, leading=14.5)
CELL_CENTRED = _style("cell-centred", REGULAR, 12, leading=14.5, alignment=TA_CENTER)
CELL_HEAD = _style("cell-head", BOLD, 12, leading=14.5, alignment=TA_CENTER)
NOTE = _style("note", ITALIC, 12, alignment=TA_JUSTIFY, spaceBefore=10)


class Rule(Flowable):  # type: ignore[misc]
    """A centred horizontal rule (the line under the subject, App. I §II.5.b)."""

    def __init__(self, width: float, space_before: float = 5, space_after: float = 6) -> None:
        super().__init__()
        self.rule_w, self.before, self.after = width, space_before, space_after

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        self.avail_w = avail_w
        return avail_w, self.before + self.after

    def draw(self) -> None:
        x0 = (self.avail_w - self.rule_w) / 2
        self.canv.setLineWidth(0.6)
        self.canv.line(x0, self.after, x0 + self.rule_w, self.after)


@dataclass
class SignatureSpace:
    """Where the blank signature space of a decision ended up."""

    page: int
    """1-based page number."""
    box: tuple[float, float, float, float]
    """x0, y0, x1, y1 in PDF points, origin bottom left of the page."""


class ClosingBlock(Flowable):  # type: ignore[misc]
    """Recipients ("Nơi nhận") at the bottom left, the signature block at the right."""

    def __init__(self, recipients: list[str], placeholder: str | None,
                 record: list[SignatureSpace]) -> None:
        super().__init__()
        self.recipients, self.placeholder, self.record = recipients, placeholder, record
        self.line = 16.0
        right = 2 * self.line + SIGNATURE_SPACE_H + self.line
        left = 15 + 13 * len(recipients)
        self.height = max(right, left) + 12

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        return avail_w, self.height

    def draw(self) -> None:
        c = self.canv
        top = self.height - 12  # 12 pt space above the block
        # Recipients: "Nơi nhận:" 12 pt bold italic, the list 11 pt (App. I §II.9).
        c.setFont(BOLD_ITALIC, 12)
        c.drawString(0, top - 12, "Nơi nhận:")
        c.setFont(REGULAR, 11)
        for i, item in enumerate(self.recipients):
            c.drawString(0, top - 12 - 13 * (i + 1), item)
        # Signature block centred in the right column.
        cx = RIGHT_COL_X - LEFT
        c.setFont(BOLD, 13)
        y = top - 13
        for role in SIGNER_ROLE:
            c.drawCentredString(cx, y, role)
            y -= self.line
        space_top = y + self.line - 4  # below the descenders of "CHỦ TỊCH"
        name_y = space_top - SIGNATURE_SPACE_H - 10
        space_bottom = name_y + 10  # above the capitals of the name
        c.drawCentredString(cx, name_y, SIGNER)
        if self.placeholder:
            c.setFont(REGULAR, 11)
            c.drawCentredString(cx, (space_top + space_bottom) / 2 - 4, self.placeholder)
        x0, y0 = c.absolutePosition(cx - SIGNATURE_COL_W / 2, space_bottom)
        x1, y1 = c.absolutePosition(cx + SIGNATURE_COL_W / 2, space_top)
        self.record.append(SignatureSpace(c.getPageNumber(),
                                          (round(x0, 1), round(y0, 1),
                                           round(x1, 1), round(y1, 1))))


def draw_header(c: Canvas, number: str) -> None:
    """Agency and number (left), national title, motto and place/date (right)."""
    top = PAGE_H - TOP
    c.setFont(BOLD, 13)
    c.drawCentredString(LEFT_COL_X, top - 13, AGENCY[0])
    c.drawCentredString(LEFT_COL_X, top - 29, AGENCY[1])
    # App. I §II.2: a rule 1/3 to 1/2 the length of the agency name, centred below it.
    c.setLineWidth(0.6)
    c.line(LEFT_COL_X - 20, top - 36, LEFT_COL_X + 20, top - 36)
    c.setFont(REGULAR, 13)
    c.drawCentredString(LEFT_COL_X, top - 56, number)
    c.setFont(BOLD, 12)
    c.drawCentredString(RIGHT_COL_X, top - 13, NATIONAL_TITLE)
    c.setFont(BOLD, 13)
    c.drawCentredString(RIGHT_COL_X, top - 29, MOTTO)
    # App. I §II.1: the motto is underlined over its full length.
    half = pdfmetrics.stringWidth(MOTTO, BOLD, 13) / 2
    c.line(RIGHT_COL_X - half, top - 36, RIGHT_COL_X + half, top - 36)
    c.setFont(ITALIC, 13)
    c.drawCentredString(RIGHT_COL_X, top - 56, PLACE_DATE)


def draw_page_number(c: Canvas) -> None:
    # App. I §I.6: page numbers from page 2, centred in the top margin.
    c.setFont(REGULAR, 13)
    c.drawCentredString(LEFT + TEXT_W / 2, PAGE_H - TOP + 18, str(c.getPageNumber()))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _doc(path: Path, title: str, subject: str, first_top_gap: float) -> BaseDocTemplate:
    doc = BaseDocTemplate(
        str(path), pagesize=A4, leftMargin=LEFT, rightMargin=RIGHT, topMargin=TOP,
        bottomMargin=BOTTOM, title=title, author="Ủy ban nhân dân quận Ô Môn",
        subject=subject, creator="signsvc samples/make_samples.py",
        invariant=1, pageCompression=1, lang="vi-VN", initialFontName=REGULAR,
    )
    first = Frame(LEFT, BOTTOM, TEXT_W, PAGE_H - TOP - BOTTOM - first_top_gap,
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, id="first")
    later = Frame(LEFT, BOTTOM, TEXT_W, PAGE_H - TOP - BOTTOM,
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, id="later")
    doc.addPageTemplates([
        PageTemplate("first", [first], autoNextPageTemplate="later"),
        PageTemplate("later", [later], onPage=lambda c, d: draw_page_number(c)),
    ])
    return doc


def build_decision(sample: Decision, out: Path) -> list[SignatureSpace]:
    record: list[SignatureSpace] = []
    doc = _doc(out, f"Quyết định {sample.number[4:]}", sample.subject, HEADER_H)
    doc.pageTemplates[0].onPage = lambda c, d: draw_header(c, sample.number)
    story: list[Flowable] = [
        Paragraph(sample.title, TITLE),
        Paragraph(_escape(sample.subject), SUBJECT),
        Rule(50 * mm),
        Paragraph(" ".join(AGENCY), AUTHORITY),
        *(Paragraph(_escape(g), GROUND) for g in sample.grounds),
        Paragraph("QUYẾT ĐỊNH:", DECIDES),
    ]
    for heading, paragraphs in sample.articles:
        first, *rest = paragraphs
        if heading.endswith("."):
            story.append(Paragraph(f"<b>{_escape(heading)}</b> {_escape(first)}", BODY))
        else:  # a titled article: "Điều 1. Phạm vi ..." in bold on its own line
            story.append(Paragraph(f"<b>{_escape(heading)}</b>", BODY))
            rest = [first, *rest]
        story.extend(Paragraph(_escape(p), BODY) for p in rest)
    # Recipients and signature stay together on one page, as on paper.
    story.append(KeepTogether([ClosingBlock(sample.recipients, sample.placeholder, record)]))
    doc.build(story)
    return record


def build_appendix(sample: Appendix, out: Path) -> list[SignatureSpace]:
    # Decree 30/2020 App. I §II.8: an appendix in a separate file carries the
    # organisation's digital signature at the top right of page 1, so that corner is
    # left empty (no header band) and the appendix has no personal signature block.
    doc = _doc(out, sample.title.capitalize(), sample.attached_to, 14 * mm)
    table = Table(
        [[Paragraph(_escape(h), CELL_HEAD) for h in sample.columns],
         *([Paragraph(_escape(n), CELL_CENTRED), *(Paragraph(_escape(v), CELL) for v in rest)]
           for n, *rest in sample.rows)],
        colWidths=[14 * mm, 80 * mm, 38 * mm, TEXT_W - 132 * mm],
        repeatRows=1,
    )
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), REGULAR, 12),  # else reportlab references Helvetica
        ("GRID", (0, 0), (-1, -1), 0.5, (0, 0, 0)),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ]))
    story: list[Flowable] = [
        Paragraph(_escape(sample.heading), TITLE),
        Paragraph(_escape(sample.title), SUBJECT),
        Paragraph(_escape(sample.attached_to), _style("attached", ITALIC, 13,
                                                      alignment=TA_CENTER)),
        Rule(40 * mm, space_after=10),
        Spacer(0, 4),
        table,
        Paragraph(_escape(sample.note), NOTE),
    ]
    doc.build(story)
    return []


def expected_strings(sample: Decision | Appendix) -> list[str]:
    """Every string the sample shows, each of which must survive text extraction."""
    if isinstance(sample, Appendix):
        return [sample.heading, sample.title, sample.attached_to, *sample.columns,
                *(v for row in sample.rows for v in row), sample.note]
    strings = [*AGENCY, sample.number, NATIONAL_TITLE, MOTTO, PLACE_DATE, sample.title,
               sample.subject, " ".join(AGENCY), *sample.grounds, "QUYẾT ĐỊNH:",
               "Nơi nhận:", *sample.recipients, *SIGNER_ROLE, SIGNER]
    for heading, paragraphs in sample.articles:
        strings.append(heading)
        strings.extend(paragraphs)
    if sample.placeholder:
        strings.append(sample.placeholder)
    return strings


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def check(path: Path, sample: Decision | Appendix) -> list[str]:
    """Problems found by poppler in ``path``; empty when the sample is right."""
    problems = []
    raw = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
                         check=True, capture_output=True, text=True).stdout
    if unicodedata.normalize("NFC", raw) != raw:
        problems.append("pdftotext output is not NFC")
    # A paragraph split over two pages has the page number (App. I §I.6) in between.
    text = _collapse(re.sub(r"(?m)^\s*\d+\s*$", " ", raw))
    # Table cells wrap inside their column, so in layout mode a cell's lines are
    # interleaved with its neighbours'; each table cell here fits on one line.
    for s in expected_strings(sample):
        if _collapse(s) not in text:
            problems.append(f"not extracted: {s!r}")
    fonts = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True,
                           text=True).stdout.splitlines()[2:]
    for line in fonts:
        # name type encoding emb sub uni object-id: emb, sub and uni must all be yes.
        if line.split()[-5:-2] != ["yes", "yes", "yes"]:
            problems.append(f"font not embedded+subset+ToUnicode: {line}")
    if not fonts:
        problems.append("no fonts")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output directory")
    parser.add_argument("--check", action="store_true",
                        help="verify the output with pdftotext and pdffonts")
    args = parser.parse_args(argv)
    if args.check and shutil.which("pdftotext") is None:
        print("pdftotext missing (apt-get install poppler-utils)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    failed = False
    with tempfile.TemporaryDirectory() as workdir:
        register_fonts(Path(workdir))
        for sample in SAMPLES:
            for s in expected_strings(sample):
                assert unicodedata.normalize("NFC", s) == s, s
            out = args.out / sample.filename
            if isinstance(sample, Decision):
                spaces = build_decision(sample, out)
            else:
                spaces = build_appendix(sample, out)
            where = "; ".join(f"signature space page {s.page} box {s.box}" for s in spaces)
            print(f"{out.name}: {out.stat().st_size} bytes{'; ' + where if where else ''}")
            if args.check:
                for problem in check(out, sample):
                    failed = True
                    print(f"  FAIL {problem}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
