"""Write real text onto a page in the incremental update being prepared: the number
and date a registry clerk fills in when issuing a document.

Example::

    >>> writer = IncrementalPdfFileWriter(io.BytesIO(data))  # doctest: +SKIP
    >>> [hole] = _anchor.find_text(data, "Số: ....../QĐ-UBND")  # doctest: +SKIP
    >>> draw_text(writer, hole.page, "Số: 123/QĐ-UBND", x=hole.x0, y=hole.y0 + 2.8,
    ...           cover=(hole.x0, hole.y0, hole.x1, hole.y1))  # doctest: +SKIP
    >>> # then sign with pyHanko's PdfSigner on the same writer: one revision

The text is page content (a content stream appended to ``/Contents``), not an
annotation, so every viewer prints it and text extraction returns it. The font is the
one of :func:`signsvc._fonts.font_factory`: one TrueType subset per writer and font,
shared by every call, embedded when the writer is written.

Caution for issuance after a personal signature: pyHanko's difference analysis
classifies a page content change in a later revision as ``OTHER`` (not a form fill or
an annotation), so validators report the earlier signature's document as modified
after signing (the "incremental saving attack" class they must flag). Draw before the
first signature, or expect that report.
"""

from __future__ import annotations

import unicodedata
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from signsvc._anchor import TextBox
from signsvc._fonts import font_factory, font_metrics, require_glyphs
from signsvc.errors import AppearanceError

__all__ = ["draw_text"]


@dataclass
class _WriterState:
    """What one writer already has: font engines, wrapped pages, resource names."""

    engines: dict[Path, Any] = field(default_factory=dict)
    wrapped: set[int] = field(default_factory=set)
    """Pages whose original contents are already wrapped in ``q`` ... ``Q``."""
    names: dict[tuple[int, Path], str] = field(default_factory=dict)
    """The font resource name given to each font on each page."""


_states: weakref.WeakKeyDictionary[Any, _WriterState] = weakref.WeakKeyDictionary()


def draw_text(
    writer: Any,
    page: int,
    text: str,
    *,
    x: float,
    y: float,
    size: float = 13.0,
    font: Path | None = None,
    align: Literal["left", "centre", "right"] = "left",
    cover: tuple[float, float, float, float] | None = None,
) -> TextBox:
    """Draw one line of ``text`` on ``page`` (0-based) of a pyHanko
    ``IncrementalPdfFileWriter``, black, in ``font`` (default Liberation Serif).

    Args:
        writer: the writer the signature will be made with afterwards.
        page: 0-based page index.
        text: one line; NFC-normalised. Empty: only ``cover`` is painted.
        x: the left end, centre or right end of the text (per ``align``), in points
            of user space.
        y: the baseline, in points of user space (origin bottom left).
        size: font size in points.
        font: a TrueType/OpenType file; default :func:`signsvc._fonts.default_font_path`.
        align: which point of the text ``x`` is.
        cover: (x0, y0, x1, y1) painted white first, over the old content, to hide a
            placeholder. Painting hides it from the eye only: the old text stays in the
            old content stream, and text extraction still returns it.

    Returns:
        The box the text occupies, as :func:`signsvc._anchor.find_text` would report
        it: its advance width, from the font's descent below the baseline to one size
        above that.

    Raises:
        AppearanceError: a line break in ``text``, a character the font cannot draw,
            a font that cannot be loaded, a page that does not exist.
    """
    from pyhanko.pdf_utils import generic

    text = unicodedata.normalize("NFC", text)
    if "\n" in text or "\r" in text:
        raise AppearanceError("draw_text draws one line; call it once per line")
    if size <= 0:
        raise AppearanceError(f"font size must be positive (got {size})")
    font_path = font_metrics(font).path
    require_glyphs(text, font_path)
    pages = int(writer.root["/Pages"]["/Count"])
    if not 0 <= page < pages:
        raise AppearanceError(f"page {page} does not exist (the document has {pages} "
                              "pages, numbered from 0)")
    state = _states.setdefault(writer, _WriterState())

    ops = [b"q"]
    if cover is not None:
        x0, y0, x1, y1 = cover
        # ISO 32000-1 §8.6.8 DeviceGray white ("g"), §8.5.2.1 rectangle and fill.
        ops.append(b"1 g %s %s %s %s re f" % (_num(min(x0, x1)), _num(min(y0, y1)),
                                            _num(abs(x1 - x0)), _num(abs(y1 - y0))))
    width = 0.0
    left = x
    resources = None
    if text:
        engine = state.engines.get(font_path)
        if engine is None:
            engine = font_factory(font_path).create_font_engine(writer)
            state.engines[font_path] = engine
        # pyHanko's engine converts HarfBuzz positions with its font size (Td moves in
        # complex positioning); it must equal the Tf size.
        engine.font_size = size
        shaped = engine.shape(text)
        width = float(shaped.x_advance) * size
        left = {"left": x, "centre": x - width / 2, "right": x - width}[align]
        name = state.names.get((page, font_path))
        if name is None:
            name = _free_font_name(writer, page, state)
            state.names[(page, font_path)] = name
            dictionary: Any = generic.DictionaryObject
            resources = dictionary({generic.NameObject("/Font"): dictionary(
                {generic.NameObject("/" + name): engine.as_resource()})})
        # §8.6.8 black fill; §9.3.1 text state parameters (character and word
        # spacing, horizontal scaling, rise, fill rendering) set, not inherited.
        ops += [b"0 g BT", b"/%s %s Tf 0 Tc 0 Tw 100 Tz 0 Ts 0 Tr" % (name.encode(), _num(size)),
                b"%s %s Td" % (_num(left), _num(y)), shaped.graphics_ops, b"ET"]
    ops.append(b"Q")

    if page not in state.wrapped:
        # ISO 32000-1 §8.4.2: the graphics state the old content leaves (a cm outside
        # q/Q, a fill colour, a text rendering mode: all legal) would apply to ours;
        # q before the old content and Q before ours restores the page's initial
        # state. §7.8.2: a page's content streams are one sequence, split between
        # tokens, so the q and the Q may sit in streams of their own. Once per page:
        # later calls start from that state too, each in its own q ... Q.
        _add_stream(writer, page, b"q\n", None, prepend=True)
        ops.insert(0, b"Q")
        state.wrapped.add(page)
    _add_stream(writer, page, b"\n".join(ops) + b"\n", resources, prepend=False)

    descent = font_metrics(font_path).descent * size
    return TextBox(page=page, x0=left, y0=y + descent, x1=left + width,
                   y1=y + descent + size, text=text)


def _num(value: float) -> bytes:
    # ISO 32000-1 §7.3.3: real numbers without exponent.
    return (b"%.4f" % value).rstrip(b"0").rstrip(b".") or b"0"


def _add_stream(writer: Any, page: int, data: bytes, resources: Any, *, prepend: bool) -> None:
    from pyhanko.pdf_utils import generic

    stream: Any = generic.StreamObject(stream_data=data)
    stream.compress()
    writer.add_stream_to_page(page, writer.add_object(stream), resources=resources,
                              prepend=prepend)


def _free_font_name(writer: Any, page: int, state: _WriterState) -> str:
    """A /Font resource name the page does not use yet (pyHanko refuses to merge a
    name that exists)."""
    _, resources = writer.find_page_for_modification(page)
    fonts = resources.get_object().get("/Font") if resources is not None else None
    taken = {str(k).lstrip("/") for k in fonts.get_object().keys()} if fonts is not None else set()
    taken |= {name for (p, _), name in state.names.items() if p == page}
    number = 1
    while f"SgF{number}" in taken:
        number += 1
    return f"SgF{number}"
