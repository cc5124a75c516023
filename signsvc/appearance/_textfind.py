"""Find text on the pages of a PDF: where the signer's name, the title line or an
e-office placeholder such as ``[[KY_SO]]`` is, in PDF user space.

Example::

    >>> data = Path("samples/quyet-dinh-124-placeholder.pdf").read_bytes()  # doctest: +SKIP
    >>> [box] = find_text(data, "[[KY_SO]]")  # doctest: +SKIP
    >>> box.page, round(box.centre_x, 1)  # doctest: +SKIP
    (0, 399.7)
    >>> [line.text for line in text_lines(data, 0) if line.x0 > 300][-3:]  # doctest: +SKIP
    ['CHỦ TỊCH', '[[KY_SO]]', 'Nguyễn Thị Lấp Lánh Ánh']

pdfminer.six reads the text: it interprets the content streams (Form XObjects
included) and decodes each glyph through the font's ToUnicode map or encoding
(ISO 32000-1 §9.10.2), giving one box per glyph (``LTChar``), which is what a tight
match box needs; poppler's ``pdftotext -bbox`` only gives words and lines, and pyHanko
has no text extraction.

Speed: about 25 ms per page (``samples/quyet-dinh-123.pdf``, one A4 page of 13 pt
text, parse and layout included; Python 3.11). Results of the last pages analysed
are kept (keyed by the document's SHA-256), so asking for the title line, then the
name, then the placeholder of one document analyses each page once.

Coordinates: PDF user space of the page, in points, as ISO 32000-1 §8.3.2.3 defines
it (origin bottom left unless the ``/MediaBox`` says otherwise): the frame that pyHanko
field boxes use. A glyph's box spans its
advance width horizontally and, vertically, from the font's descent below the baseline
to one font size above that (pdfminer's character box): for Liberation Serif at 13 pt,
2.8 pt below to 10.2 pt above the baseline, so capital accents (Ấ) reach about 1.8 pt
above the box.

Out of scope: ``/Rotate`` is ignored, so text is matched as it runs in user space;
text that reads upright only once a viewer turns the page (a scan placed sideways and
rotated by ``/Rotate``) is not found, and text drawn at an angle gets the axis-aligned
hull of its glyphs at best.
"""

from __future__ import annotations

import functools
import hashlib
import io
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from signsvc.errors import BadInputError

__all__ = ["TextBox", "find_text", "page_box", "page_count", "page_size", "text_lines"]


@dataclass(frozen=True)
class TextBox:
    """Where a piece of text is on a page."""

    page: int
    """0-based page index."""
    x0: float
    """Left edge, points from the left of user space."""
    y0: float
    """Bottom edge (the font's descent below the baseline), points from the bottom."""
    x1: float
    """Right edge."""
    y1: float
    """Top edge."""
    text: str
    """The text in the box, NFC, whitespace collapsed to single spaces."""

    @property
    def width(self) -> float:
        """``x1 - x0`` in points."""
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        """``y1 - y0`` in points."""
        return self.y1 - self.y0

    @property
    def centre_x(self) -> float:
        """The horizontal middle, where centred text was centred."""
        return (self.x0 + self.x1) / 2


_Rect = tuple[float, float, float, float]


@dataclass(frozen=True)
class _Unit:
    """One glyph as read (or a virtual space between words and lines)."""

    text: str
    box: _Rect | None


@dataclass(frozen=True)
class _Line:
    box: _Rect
    text: str


@dataclass(frozen=True)
class _Block:
    """A pdfminer text box: lines that belong together (a paragraph, a heading)."""

    units: tuple[_Unit, ...]
    lines: tuple[_Line, ...]


_CACHE_SIZE = 64
_cache: OrderedDict[tuple[bytes, int], tuple[_Block, ...]] = OrderedDict()
"""Analysed pages by (SHA-256 of the document and of the password, page index); the
password itself is not kept, and a wrong password never meets a cached page."""
_cache_lock = threading.Lock()


def find_text(pdf: bytes, needle: str, *, page: int | None = None,
              password: str | None = None) -> list[TextBox]:
    """Every occurrence of ``needle`` on the pages of ``pdf``.

    Matching is case-sensitive, on NFC text with every run of whitespace (line breaks
    included) taken as one space; a match may run over the lines of one paragraph but
    not from one text block to another (the two header columns never join).

    Args:
        pdf: the document.
        needle: the text to find, e.g. "Nguyễn Thị Lấp Lánh Ánh" or "[[KY_SO]]".
        page: look on this 0-based page only; default every page.
        password: user password of an encrypted document.

    Returns:
        The tight box of each match (the matched glyphs, not the whole line), in page
        order and top to bottom within a page; empty when there is none.

    Raises:
        BadInputError: the document cannot be parsed, the password is wrong, or
            ``page`` does not exist.
    """
    wanted = _collapse(unicodedata.normalize("NFC", needle))
    if not wanted:
        raise BadInputError("empty search text")
    found: list[TextBox] = []
    for index, blocks in _pages(pdf, password, page):
        matches = [box for block in blocks for box in _search(block, wanted, index)]
        found += sorted(matches, key=lambda b: (-round(b.y1, 1), b.x0))
    return found


def text_lines(pdf: bytes, page: int, *, password: str | None = None) -> list[TextBox]:
    """Every line of text on ``page`` (0-based) with its tight box, top to bottom,
    then left to right (lines side by side in two columns are two lines).

    Raises:
        BadInputError: the document cannot be parsed or ``page`` does not exist.
    """
    [(_, blocks)] = list(_pages(pdf, password, page))
    lines = [TextBox(page, *line.box, line.text) for block in blocks for line in block.lines]
    return sorted(lines, key=lambda b: (-round(b.y1, 1), b.x0))


def page_size(pdf: bytes, page: int, *, password: str | None = None) -> tuple[float, float]:
    """Width and height in points of the ``/MediaBox`` of ``page`` (0-based), inherited
    from the page tree when the page has none (ISO 32000-1 §7.7.3.4).

    The media box, not the ``/CropBox``: it is the frame of user space that
    :func:`find_text` boxes and drawn content use. The producers of administrative
    documents (Word, LibreOffice, reportlab) set no crop box; :func:`page_box` gives
    the visible rectangle when one is set.

    Raises:
        BadInputError: the document cannot be parsed or ``page`` does not exist.
    """
    x0, y0, x1, y1 = _page_attrs(pdf, page, password)[0]
    return abs(x1 - x0), abs(y1 - y0)


def page_box(pdf: bytes, page: int, *, password: str | None = None) -> _Rect:
    """The visible rectangle of ``page`` in user space: its ``/CropBox`` clipped to the
    ``/MediaBox`` (ISO 32000-1 §14.11.2), the media box when there is no crop box.

    Raises:
        BadInputError: the document cannot be parsed or ``page`` does not exist.
    """
    media, crop = _page_attrs(pdf, page, password)
    return (max(media[0], crop[0]), max(media[1], crop[1]),
            min(media[2], crop[2]), min(media[3], crop[3]))


def page_count(pdf: bytes, *, password: str | None = None) -> int:
    """Number of pages of ``pdf``.

    Raises:
        BadInputError: the document cannot be parsed.
    """
    from pdfminer.pdfpage import PDFPage

    with _opened(pdf, password) as document:
        return sum(1 for _ in PDFPage.create_pages(document))


# --- reading --------------------------------------------------------------------------


@contextmanager
def _opened(pdf: bytes, password: str | None) -> Iterator[Any]:
    """A pdfminer document over ``pdf``; every parse failure is a :class:`BadInputError`."""
    from pdfminer.pdfdocument import PDFDocument, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFParser

    # ISO 32000-1 §7.5.2 puts the header first; readers accept it in the first 1 KiB.
    if b"%PDF-" not in pdf[:1024]:
        raise BadInputError(f"not a PDF ({'empty' if not pdf else 'no %PDF- header'})")
    try:
        document = PDFDocument(PDFParser(io.BytesIO(pdf)), password=password or "")
    except PDFPasswordIncorrect as exc:
        raise BadInputError("encrypted; the document password is wrong" if password else
                            "encrypted; give the document password") from exc
    except Exception as exc:
        raise _damaged(exc) from exc
    try:
        yield document
    except BadInputError:
        raise
    except Exception as exc:
        raise _damaged(exc) from exc


def _damaged(exc: BaseException) -> BadInputError:
    # pdfminer raises its PSException tree, but also ValueError, KeyError, TypeError,
    # zlib.error... on damaged input: every one is "this PDF cannot be read".
    return BadInputError(f"damaged PDF ({type(exc).__name__}: {exc})")


def _page_attrs(pdf: bytes, page: int, password: str | None) -> tuple[_Rect, _Rect]:
    """The media box and crop box of ``page``, inheritance resolved by pdfminer."""
    from pdfminer.pdfpage import PDFPage

    _check_index(page)
    with _opened(pdf, password) as document:
        count = 0
        for count, candidate in enumerate(PDFPage.create_pages(document), start=1):
            if count - 1 == page:
                return _normal(candidate.mediabox), _normal(candidate.cropbox)
    raise BadInputError(f"page {page} does not exist (the document has {count} pages, "
                        "numbered from 0)")


def _check_index(page: int) -> None:
    if page < 0:
        raise BadInputError(f"page {page}: pages are numbered from 0")


def _normal(rect: Sequence[float]) -> _Rect:
    x0, y0, x1, y1 = (float(v) for v in rect)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _pages(pdf: bytes, password: str | None,
           only: int | None) -> Iterator[tuple[int, tuple[_Block, ...]]]:
    """(index, blocks) of the wanted pages, each analysed at most once while cached."""
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams
    from pdfminer.pdfinterp import PDFResourceManager
    from pdfminer.pdfpage import PDFPage

    digest = (hashlib.sha256(pdf).digest()
              + hashlib.sha256((password or "").encode()).digest())
    if only is not None:
        _check_index(only)
        with _cache_lock:
            hit = _cache.get((digest, only))
            if hit is not None:
                _cache.move_to_end((digest, only))
        if hit is not None:
            yield only, hit
            return
    results: list[tuple[int, tuple[_Block, ...]]] = []
    count = 0
    with _opened(pdf, password) as document:
        resources = PDFResourceManager()
        # all_texts: also group the text inside Form XObjects (stamps, pages imported
        # as forms) into lines, not only the page's own text.
        device = PDFPageAggregator(resources, laparams=LAParams(all_texts=True))
        interpreter = _interpreter_class()(resources, device)
        for index, pdf_page in enumerate(PDFPage.create_pages(document)):
            count = index + 1
            if only is not None and index != only:
                continue
            with _cache_lock:
                blocks = _cache.get((digest, index))
            if blocks is None:
                interpreter.process_page(pdf_page)
                blocks = _blocks(device.get_result())
                with _cache_lock:
                    _cache[(digest, index)] = blocks
                    while len(_cache) > _CACHE_SIZE:
                        _cache.popitem(last=False)
            results.append((index, blocks))
            if only is not None:
                break
    if only is not None and not results:
        raise BadInputError(f"page {only} does not exist (the document has {count} pages, "
                            "numbered from 0)")
    yield from results


@functools.cache
def _interpreter_class() -> type[Any]:
    from pdfminer.pdfinterp import PDFPageInterpreter

    class UserSpaceInterpreter(PDFPageInterpreter):
        """pdfminer lays a page out as displayed: media box moved to the origin, turned
        by ``/Rotate``. Here the identity: boxes come out in user space, and text is
        grouped into lines as it runs in user space (ISO 32000-1 §8.3.2.3)."""

        def process_page(self, page: Any) -> None:
            ctm = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
            self.device.begin_page(page, ctm)
            self.render_contents(page.resources, page.contents, ctm=ctm)
            self.device.end_page(page)

    return UserSpaceInterpreter


def _blocks(layout: Any) -> tuple[_Block, ...]:
    from pdfminer.layout import LTAnno, LTChar, LTContainer, LTTextBox, LTTextLine

    blocks: list[_Block] = []

    def block_of(lines: Sequence[Any]) -> None:
        units: list[_Unit] = []
        read: list[_Line] = []
        for line in lines:
            line_units: list[_Unit] = []
            for item in line:
                if isinstance(item, LTChar):
                    _add(line_units, _Unit(item.get_text(), _normal(item.bbox)))
                elif isinstance(item, LTAnno):
                    line_units.append(_Unit(item.get_text(), None))
            text = _collapse(unicodedata.normalize("NFC", "".join(u.text for u in line_units)))
            boxes = [u.box for u in line_units if u.box is not None and u.text.strip()]
            if text and boxes:
                read.append(_Line(_union(boxes), text))
            units += line_units
            units.append(_Unit(" ", None))  # a line break is a space
        if read:
            blocks.append(_Block(tuple(units), tuple(read)))

    def walk(item: Any) -> None:
        if isinstance(item, LTTextBox):
            block_of(list(item))
        elif isinstance(item, LTTextLine):
            block_of([item])
        elif isinstance(item, LTContainer):
            for child in item:
                walk(child)

    walk(layout)
    return tuple(blocks)


def _add(units: list[_Unit], unit: _Unit) -> None:
    """Append a glyph; a combining mark drawn as a glyph of its own joins the glyph
    before it, so NFC composition (ISO/IEC 10646, Unicode §3.11) can see both."""
    if units and unit.text and unicodedata.combining(unit.text[0]) and units[-1].box:
        last = units[-1]
        assert last.box is not None and unit.box is not None
        units[-1] = _Unit(last.text + unit.text, _union([last.box, unit.box]))
    else:
        units.append(unit)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _union(boxes: Sequence[_Rect]) -> _Rect:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def _search(block: _Block, wanted: str, page: int) -> Iterator[TextBox]:
    # The block's text, NFC per glyph, whitespace collapsed, with the glyph each
    # character came from.
    chars: list[str] = []
    owner: list[int] = []
    for index, unit in enumerate(block.units):
        text = unicodedata.normalize("NFC", unit.text)
        if not text:
            continue
        if text.isspace():
            if chars and chars[-1] != " ":
                chars.append(" ")
                owner.append(index)
            continue
        for char in text:
            chars.append(char)
            owner.append(index)
    haystack = "".join(chars)
    start = haystack.find(wanted)
    while start >= 0:
        end = start + len(wanted)
        boxes = [block.units[i].box for i in sorted(set(owner[start:end]))]
        glyphs = [b for b in boxes if b is not None]
        if glyphs:
            yield TextBox(page, *_union(glyphs), wanted)
        start = haystack.find(wanted, end)
