"""How a signature looks on the page: the Decree 30/2020/NĐ-CP Appendix I profiles.

=============  ==========================================  =============================
profile        where                                        what
=============  ==========================================  =============================
invisible      nowhere (no widget)                          nothing
personal       at the signature position: a page box, or    the signer's handwritten
               centred between the title line and the       signature (blue PNG), optional
               printed name found by ``anchor``             small text
organisation   over the personal signature, covering about  the red seal at real size,
               its left third (App. I §II.7.b)              organisation name and time
attachment,    top right of page 1 (App. I §II.8)           number and symbol, signing
appendix                                                    time ISO 8601 +07:00, 10 pt
copy           top right of page 1 (App. I §II.9)           copy form, organisation, time
=============  ==========================================  =============================

Issuance (``doc_number`` / ``doc_date`` with the organisation profile) first writes the
number and the place-and-date line as real page text into the places the drafter left,
in the same incremental update, so the organisation signature covers them.

Example::

    >>> look = AppearanceOptions(profile="personal", signature_image=Path("chu-ky.png"),
    ...                          anchor="Nguyễn Thị Lấp Lánh Ánh")
    >>> sign_pdf(src, out, key, appearance=look)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import re
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from signsvc._time import vietnam_iso
from signsvc.errors import AppearanceError, BadInputError

__all__ = ["COPY_FORMS", "MM", "AppearanceMaker", "AppearanceOptions", "AppearancePlan", "Profile"]

MM = 72 / 25.4
"""PDF points per millimetre (ISO 32000-1 §8.3.2.3: 1 unit = 1/72 inch)."""

_VIETNAM_OFFSET = "+07:00"
_PLACEHOLDER = re.compile(r"^(\[\[.*\]\]|\{\{.*\}\}|<<.*>>|\$\{.*\})$")


class Profile(StrEnum):
    """Decree 30/2020 Appendix I signature kinds."""

    INVISIBLE = "invisible"
    PERSONAL = "personal"
    ORGANISATION = "organisation"
    ATTACHMENT = "attachment"
    APPENDIX = "appendix"
    COPY = "copy"


COPY_FORMS = ("SAO Y", "SAO LỤC", "TRÍCH SAO")
"""Copy forms of Decree 30/2020 Art. 25."""


@dataclass(frozen=True)
class AppearanceOptions:
    """What the signature looks like; the same for every document of a batch."""

    profile: Profile = Profile.INVISIBLE
    """Which Appendix I appearance."""
    signature_image: Path | None = None
    """personal: the handwritten signature, PNG with transparency."""
    anchor: str | None = None
    """personal: text to place the image by: the signer's printed name (image centred
    between the line above it and the name) or a placeholder such as ``[[KY_SO]]``
    (bracketed: image centred on it, placeholder hidden)."""
    page: int | None = None
    """personal/organisation: page number (1-based) for ``box_mm``; negative counts
    from the end (-1 = last page)."""
    box_mm: tuple[float, float, float, float] | None = None
    """personal/organisation: x, y, width, height in mm from the page's top-left."""
    show_text: bool = False
    """personal: small text under the image (signer, organisation, time)."""
    seal_image: Path | None = None
    """organisation: the red seal, PNG with transparency."""
    seal_size_mm: float | None = None
    """organisation: the seal's real diameter in mm."""
    org_name: str | None = None
    """organisation/copy: the organisation's name."""
    doc_number: str | None = None
    """issuance, attachment: number and symbol, e.g. ``Số: 123/QĐ-UBND``."""
    doc_date: str | None = None
    """issuance: the place-and-date line, e.g. ``Cần Thơ, ngày 12 tháng 3 năm 2014``."""
    number_anchor: str | None = None
    """issuance: placeholder text where the number goes."""
    date_anchor: str | None = None
    """issuance: placeholder text where the date line goes."""
    number_box_mm: tuple[float, float, float, float] | None = None
    """issuance: or a box (x, y, w, h in mm from the top-left of the seal's page)."""
    date_box_mm: tuple[float, float, float, float] | None = None
    """issuance: or a box for the date line, as ``number_box_mm``."""
    copy_form: str | None = None
    """copy: ``SAO Y``, ``SAO LỤC`` or ``TRÍCH SAO``."""
    font: Path | None = None
    """TrueType font for text; default Liberation Serif (Times New Roman metrics)."""
    force: bool = False
    """organisation: sign even when no personal signature is present."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "profile", Profile(self.profile))
        problem = self._problem()
        if problem:
            raise BadInputError(f"profile {self.profile.value}: {problem}")

    def _problem(self) -> str | None:
        profile = self.profile
        if profile is Profile.PERSONAL:
            if self.signature_image is None:
                return "needs a signature image"
            if (self.anchor is None) == (self.box_mm is None):
                return "needs exactly one of an anchor text or a page box"
        if profile is Profile.ORGANISATION:
            if self.seal_image is None or not self.seal_size_mm:
                return "needs a seal image and its size in mm"
            if not self.org_name:
                return "needs the organisation name"
            for what, text, anchor, box in (
                    ("number", self.doc_number, self.number_anchor, self.number_box_mm),
                    ("date line", self.doc_date, self.date_anchor, self.date_box_mm)):
                if (text is None) != (anchor is None and box is None):
                    return f"the {what} needs exactly one place: an anchor or a box"
                if anchor is not None and box is not None:
                    return f"the {what} needs exactly one place: an anchor or a box"
        if profile in (Profile.ATTACHMENT, Profile.APPENDIX) and not self.doc_number:
            return "needs the document number and symbol"
        if profile is Profile.COPY:
            if self.copy_form not in COPY_FORMS:
                return f"the copy form must be one of {', '.join(COPY_FORMS)}"
            if not self.org_name:
                return "needs the copying organisation's name"
        if self.box_mm is not None and (self.box_mm[2] <= 0 or self.box_mm[3] <= 0):
            return "the box needs a positive width and height"
        return None


@dataclass(frozen=True)
class AppearancePlan:
    """What pyHanko gets for one document."""

    page: int
    """0-based page of the widget."""
    box: tuple[float, float, float, float]
    """Widget rectangle (x0, y0, x1, y1) in PDF points."""
    stamp_style: Any
    """pyHanko stamp style drawing the appearance."""
    text_params: dict[str, str]
    """Values for the stamp text."""


@dataclass
class _Images:
    signature: Any = None
    seal: Any = None


class AppearanceMaker:
    """Loads images and the font once, then plans each document's appearance."""

    def __init__(self, options: AppearanceOptions) -> None:
        self.options = options
        self._images = _Images()
        if options.signature_image is not None:
            self._images.signature = _load_png(options.signature_image, "signature image")
        if options.seal_image is not None:
            self._images.seal = _load_png(options.seal_image, "seal image")
        self._font: Any = None

    @property
    def visible(self) -> bool:
        return self.options.profile is not Profile.INVISIBLE

    def font(self) -> Any:
        from signsvc.appearance import _fonts

        if self._font is None:
            self._font = _fonts.font_factory(self.options.font)
        return self._font

    def plan(self, *, writer: Any, data: bytes, input: Path, password: str | None,
             signer_name: str, organisation: str | None, moment: datetime
             ) -> list[AppearancePlan]:
        """The widgets and stamps of this document's signatures, one per signature to
        make, in order: empty when invisible; two when issuance text falls on another
        page than the seal (a widget lives on one page, so the number and date get a
        signature of their own, made first)."""
        profile = self.options.profile
        if profile is Profile.INVISIBLE:
            return []
        local = vietnam_iso(moment)
        if profile is Profile.PERSONAL:
            return [self._personal(writer, data, input, password, signer_name,
                                   organisation, local)]
        if profile is Profile.ORGANISATION:
            return self._organisation(writer, data, input, password, local)
        return [self._top_right(writer, data, input, password, local)]

    # -- profiles -------------------------------------------------------------------

    def _personal(self, writer: Any, data: bytes, input: Path, password: str | None,
                  signer: str, organisation: str | None, local: str) -> AppearancePlan:
        from signsvc.appearance import _fonts, _textfind
        from signsvc.appearance._stamp import Part

        o = self.options
        image = self._images.signature
        natural_w, natural_h = _physical_size(image)
        size = 7.0
        lines: list[str] = []
        if o.show_text:
            lines = [f"Ký bởi: {signer}"] + ([organisation] if organisation else []) + [
                f"Thời gian ký: {local}"]
            _fonts.require_glyphs("".join(lines), o.font, document=input)
        text_h = len(lines) * size * 1.2
        parts: list[Part] = []
        if o.box_mm is not None:
            page, (x0, y0, x1, y1) = self._page_box(data, input, password)
            cx, cy, max_w, max_h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
        else:
            assert o.anchor is not None
            hits = _textfind.find_text(data, o.anchor, password=password)
            if not hits:
                raise AppearanceError(f"anchor text {o.anchor!r} not found", path=input)
            hit = hits[-1]  # the signature block closes the document
            page = hit.page
            max_w = 70 * MM
            if _PLACEHOLDER.match(o.anchor.strip()):
                # The placeholder is painted over inside the widget, not on the page.
                parts.append(Part("cover", hit.x0 - 1, hit.y0 - 2, hit.width + 2,
                                  hit.height + 4))
                cx, cy, max_h = hit.centre_x, (hit.y0 + hit.y1) / 2, 40 * MM
            else:
                cx, cy, max_h = _space_above(hit, _textfind.text_lines(data, page,
                                                                     password=password))
        scale = min(1.0, max(0.05, (max_h - text_h) / natural_h), max_w / natural_w)
        w, h = natural_w * scale, natural_h * scale
        top = cy + (h + text_h) / 2
        parts.append(Part("image", cx - w / 2, top - h, w, h, image=image))
        for number, line in enumerate(lines):
            width = _text_width([line], size)
            parts.append(Part("text", cx - width / 2, top - h - (number + 1) * size * 1.2 + 2,
                              text=line, size=size))
        return self._composite(page, parts)

    def _organisation(self, writer: Any, data: bytes, input: Path, password: str | None,
                      local: str) -> list[AppearancePlan]:
        from signsvc.appearance import _fonts
        from signsvc.appearance._stamp import Part

        o = self.options
        assert o.seal_size_mm is not None and o.org_name is not None
        lines = [o.org_name, local]
        _fonts.require_glyphs("".join(lines), o.font, document=input)
        seal = o.seal_size_mm * MM
        size = 7.0
        personal = _personal_widget(writer)
        if o.box_mm is not None:
            page, (x0, y0, x1, y1) = self._page_box(data, input, password)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        elif personal is not None:
            page, (px0, py0, px1, py1) = personal
            # App. I §II.7.b: the seal covers about one third of the signature image,
            # on its left: the seal's right edge sits a third into the image.
            cx = px0 + (px1 - px0) / 3 - seal / 2
            cy = (py0 + py1) / 2
        else:
            raise AppearanceError(
                "no personal signature to place the organisation's seal over (Decree "
                "30/2020 Art. 14: the organisation signs after the competent person); "
                "give a page box, or force it", path=input)
        if personal is None and not o.force:
            raise AppearanceError(
                "the document carries no personal signature; the organisation signs "
                "only after the competent person (use force to override)", path=input)
        sx0, sy0 = cx - seal / 2, cy - seal / 2
        parts = [Part("image", sx0, sy0, seal, seal, image=self._images.seal)]
        # The name and time go left of the seal, bottom-aligned: under it they would
        # run over the signer's printed name, above it over the title line.
        text_x = max(0.0, sx0 - _text_width(lines, size))
        parts += [Part("text", text_x, sy0 + 2 + (len(lines) - 1 - n) * size * 1.2,
                       text=line, size=size) for n, line in enumerate(lines)]
        plans = []
        for where, issued in self._issuance(data, input, password, page).items():
            if where == page:
                parts += issued
            else:
                plans.append(self._composite(where, issued))
        return [*plans, self._composite(page, parts)]

    def _issuance(self, data: bytes, input: Path, password: str | None,
                  page: int) -> dict[int, list[Any]]:
        """The number and the date line over their placeholders (or boxes on the
        seal's page), as appearance parts by page: every earlier signature then sees
        "a signature was added", never a change to the page content it signed."""
        from signsvc.appearance import _fonts, _textfind
        from signsvc.appearance._stamp import Part

        o = self.options
        by_page: dict[int, list[Part]] = {}
        descent = _fonts.font_metrics(o.font).descent
        for text, anchor, box_mm in ((o.doc_number, o.number_anchor, o.number_box_mm),
                                     (o.doc_date, o.date_anchor, o.date_box_mm)):
            if text is None:
                continue
            _fonts.require_glyphs(text, o.font, document=input)
            if anchor is not None:
                hits = _textfind.find_text(data, anchor, password=password)
                if not hits:
                    raise AppearanceError(f"issuance: placeholder {anchor!r} not found",
                                          path=input)
                where, x0, y0, x1, y1 = hits[0].page, *_box_of(hits[0])
                size = max(8.0, min(14.0, y1 - y0))
                by_page.setdefault(where, []).append(
                    Part("cover", x0 - 1, y0 - 2, x1 - x0 + 2, y1 - y0 + 4))
            else:
                assert box_mm is not None
                where, (x0, y0, x1, y1) = self._page_box(data, input, password,
                                                         box_mm=box_mm, page=page)
                size = max(8.0, min(14.0, (y1 - y0) * 0.8))
            by_page.setdefault(where, []).append(
                Part("text", x0, y0 - descent * size, text=text, size=size))
        return by_page

    def _composite(self, page: int, parts: list[Any]) -> AppearancePlan:
        from signsvc.appearance._stamp import CompositeStampStyle

        boxes = [_part_box(p) for p in parts]
        # Whole points: pyHanko takes the widget rectangle as integers.
        box = (float(math.floor(min(b[0] for b in boxes))),
               float(math.floor(min(b[1] for b in boxes))),
               float(math.ceil(max(b[2] for b in boxes))),
               float(math.ceil(max(b[3] for b in boxes))))
        style = CompositeStampStyle(parts=tuple(parts), origin=(box[0], box[1]),
                                    font=self.font() if any(
                                        p.kind == "text" for p in parts) else None)
        return AppearancePlan(page, box, style, {})

    def _top_right(self, writer: Any, data: bytes, input: Path, password: str | None,
                   local: str) -> AppearancePlan:
        from signsvc.appearance import _fonts, _textfind

        o = self.options
        if o.profile is Profile.COPY:
            assert o.copy_form is not None and o.org_name is not None
            lines = [o.copy_form, o.org_name, local]
        else:
            assert o.doc_number is not None
            lines = [o.doc_number, local]
        _fonts.require_glyphs("".join(lines), o.font, document=input)
        width, height = _textfind.page_size(data, 0)
        # App. I §II.8-9: top right of page 1, Times New Roman 10 pt, black; inside the
        # Decree 30 margins (top 20-25 mm, right 15-20 mm).
        w, h = 75 * MM, len(lines) * 12.0 + 4
        x1, y1 = width - 15 * MM, height - 8 * MM
        box = (x1 - w, y1 - h, x1, y1)
        return AppearancePlan(0, box, self._stamp(None, lines, h, 10.0, align="right"), {})

    # -- helpers --------------------------------------------------------------------

    def _page_box(self, data: bytes, input: Path, password: str | None, *,
                  box_mm: tuple[float, float, float, float] | None = None,
                  page: int | None = None) -> tuple[int, tuple[float, float, float, float]]:
        """A box in mm from the top-left of a page, in points; ``page`` (0-based)
        overrides the options' 1-based page."""
        from signsvc.appearance import _textfind

        o = self.options
        box_mm = box_mm or o.box_mm
        assert box_mm is not None
        count = _textfind.page_count(data)
        number = page + 1 if page is not None else (o.page if o.page is not None else 1)
        index = number - 1 if number > 0 else count + number
        if not 0 <= index < count:
            raise AppearanceError(f"page {number} does not exist (the document has "
                                  f"{count})", path=input)
        width, height = _textfind.page_size(data, index)
        x, y, w, h = (v * MM for v in box_mm)
        box = (x, height - y - h, x + w, height - y)
        if box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height:
            raise AppearanceError(
                f"the box {box_mm} mm lies partly off page {number} "
                f"({width / MM:.0f} x {height / MM:.0f} mm)", path=input)
        return index, box

    def _stamp(self, image: Any, lines: list[str], text_h: float, size: float, *,
               align: str = "centre", image_align: str = "centre") -> Any:
        from pyhanko.pdf_utils import layout
        from pyhanko.pdf_utils.images import PdfImage
        from pyhanko.pdf_utils.text import TextBoxStyle
        from pyhanko.stamp import StaticStampStyle, TextStampStyle

        background = PdfImage(image) if image is not None else None
        background_layout = layout.SimpleBoxLayoutRule(
            x_align=(layout.AxisAlignment.ALIGN_MAX if image_align == "right"
                     else layout.AxisAlignment.ALIGN_MID),
            y_align=layout.AxisAlignment.ALIGN_MAX,
            margins=layout.Margins(bottom=round(text_h)),
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT)
        if not lines:
            return StaticStampStyle(background=background, border_width=0,
                                    background_opacity=1.0,
                                    background_layout=background_layout)
        x_align = {"right": layout.AxisAlignment.ALIGN_MAX,
                   "left": layout.AxisAlignment.ALIGN_MIN}.get(
            align if image_align == "centre" else "left", layout.AxisAlignment.ALIGN_MID)
        return TextStampStyle(
            stamp_text="\n".join(_escape(line) for line in lines),
            text_box_style=TextBoxStyle(font=self.font(), font_size=round(size),
                                        leading=round(size * 1.2)),
            inner_content_layout=layout.SimpleBoxLayoutRule(
                x_align=x_align, y_align=layout.AxisAlignment.ALIGN_MIN,
                margins=layout.Margins(1, 1, 1, 1),
                inner_content_scaling=layout.InnerScaling.NO_SCALING),
            background=background, background_opacity=1.0, border_width=0,
            background_layout=background_layout)


def _box_of(hit: Any) -> tuple[float, float, float, float]:
    return hit.x0, hit.y0, hit.x1, hit.y1


def _part_box(part: Any) -> tuple[float, float, float, float]:
    if part.kind == "text":
        return (part.x, part.y - 0.25 * part.size,
                part.x + _text_width([part.text], part.size), part.y + part.size)
    return (part.x, part.y, part.x + part.width, part.y + part.height)


def _text_width(lines: list[str], size: float) -> float:
    """Generous width of ``lines`` at ``size`` (a serif averages under 0.5 em a letter)."""
    return max(len(line) for line in lines) * size * 0.52 + 4


def _escape(text: str) -> str:
    # The stamp text is a %-template (``%(ts)s``); our text is literal.
    return unicodedata.normalize("NFC", text).replace("%", "%%")


def _load_png(path: Path, what: str) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        with path.open("rb") as handle:
            image = Image.open(handle)
            image.load()
    except OSError as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise AppearanceError(f"{what} is not an image", path=path) from exc
        raise AppearanceError(f"{what} cannot be read: {exc.strerror or exc}",
                              path=path) from exc
    if image.format != "PNG":
        raise AppearanceError(f"{what} must be a PNG (got {image.format})", path=path)
    if "A" not in image.getbands() and "transparency" not in image.info:
        warnings.warn(f"{path}: {what} has no transparency; it will hide what is under it",
                      stacklevel=2)
    if image.mode not in ("RGBA", "LA", "RGB", "L"):
        return image.convert("RGBA")
    return image


def _physical_size(image: Any) -> tuple[float, float]:
    """Image size in points from its pixel density (PNG pHYs), 300 dpi by default."""
    dpi = image.info.get("dpi", (300, 300))[0] or 300
    return image.width * 72 / dpi, image.height * 72 / dpi


def _space_above(name: Any, lines: list[Any]) -> tuple[float, float, float]:
    """Centre and height of the gap between the printed name and the line above it
    (the title line, e.g. "CHỦ TỊCH"), horizontally overlapping it."""
    above = [line for line in lines
             if line.y0 >= name.y1 - 0.5 and line.x1 > name.x0 - 20 and line.x0 < name.x1 + 20]
    top = min((line.y0 for line in above), default=name.y1 + 90.0)
    top = min(top, name.y1 + 120.0)
    return name.centre_x, (name.y1 + top) / 2, max(10.0, top - name.y1 - 4)


def _personal_widget(writer: Any) -> tuple[int, tuple[float, float, float, float]] | None:
    """Page and rectangle of the last filled signature field with a visible widget."""
    from pyhanko.sign.fields import enumerate_sig_fields

    found = None
    pages = {page.idnum: index for index, page in enumerate(_page_refs(writer))}
    for _name, value, field_ref in enumerate_sig_fields(writer, filled_status=True):
        field = field_ref.get_object()
        rect = field.get("/Rect")
        if value is None or rect is None:
            continue
        x0, y0, x1, y1 = (float(v) for v in rect)
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        page_ref = field.raw_get("/P") if "/P" in field else None
        page = pages.get(page_ref.idnum, 0) if page_ref is not None else 0
        found = (page, (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    return found


def _page_refs(writer: Any) -> list[Any]:
    refs = []
    for index in range(int(writer.root["/Pages"]["/Count"])):
        ref, _resources = writer.find_page_for_modification(index)
        refs.append(ref)
    return refs
