"""A signature appearance drawn from explicit parts: images, text runs, white covers.

pyHanko's stamp styles lay one text box over one background; the organisation's
signature needs more: the seal at its real size, its name and time beside it, and, at
issuance, the number and the date line written over the drafter's placeholders. All of
it goes into the signature widget's appearance stream (ISO 32000-1 §12.5.5), so adding
it is "a signature field was added" for every earlier signature, never a change to the
page content they signed (which validators report as a modification).

Coordinates of :class:`Part` are page coordinates; the stamp subtracts the widget's
origin.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from pyhanko.pdf_utils import content
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.stamp import BaseStampStyle
from pyhanko.stamp.base import BaseStamp

__all__ = ["CompositeStampStyle", "Part"]


@dataclass(frozen=True)
class Part:
    """One element of the appearance, in page coordinates (points)."""

    kind: str
    """"image", "text" or "cover"."""
    x: float
    """Left edge (image, cover) or left end of the baseline (text)."""
    y: float
    """Bottom edge (image, cover) or baseline (text)."""
    width: float = 0.0
    """Image or cover width."""
    height: float = 0.0
    """Image or cover height."""
    text: str = ""
    size: float = 10.0
    """Font size of a text part."""
    image: Any = None
    """PIL image of an image part."""


@dataclass(frozen=True)
class CompositeStampStyle(BaseStampStyle):
    """Draws :attr:`parts` (page coordinates) relative to the widget at :attr:`origin`."""

    parts: tuple[Part, ...] = ()
    origin: tuple[float, float] = (0.0, 0.0)
    font: Any = None
    """pyHanko font engine factory for the text parts
    (:func:`signsvc.appearance._fonts.font_factory`)."""
    border_width: int = 0
    background: Any = None
    images: dict[int, Any] = field(default_factory=dict, compare=False)

    def create_stamp(self, writer: Any, box: Any, text_params: dict[str, Any]) -> BaseStamp:
        return _CompositeStamp(writer=writer, style=self, box=box)


class _CompositeStamp(BaseStamp):
    def _render_inner_content(self) -> list[bytes]:
        style: CompositeStampStyle = self.style
        ox, oy = style.origin
        ops: list[bytes] = []
        engine = None
        for number, part in enumerate(style.parts):
            x, y = part.x - ox, part.y - oy
            if part.kind == "cover":
                # ISO 32000-1 §8.6.8 DeviceGray white, §8.5.2.1 rectangle fill.
                ops.append(b"q 1 g %s %s %s %s re f Q" % (
                    _num(x), _num(y), _num(part.width), _num(part.height)))
            elif part.kind == "image":
                image = PdfImage(part.image, writer=self.writer)
                name = pdf_name(f"/Im{number}")
                self.set_resource(category=content.ResourceType.XOBJECT, name=name,
                                  value=image.image_ref)
                # §8.9.5: an image fills the unit square; cm scales it to its size.
                ops.append(b"q %s 0 0 %s %s %s cm %s Do Q" % (
                    _num(part.width), _num(part.height), _num(x), _num(y),
                    name.encode()))
            else:
                if engine is None:
                    engine = style.font.create_font_engine(self.writer)
                    self.set_resource(category=content.ResourceType.FONT,
                                      name=pdf_name("/SF"), value=engine.as_resource())
                engine.font_size = part.size
                shaped = engine.shape(unicodedata.normalize("NFC", part.text))
                ops.append(b"q 0 g BT /SF %s Tf %s %s Td " % (
                    _num(part.size), _num(x), _num(y)) + shaped.graphics_ops + b" ET Q")
        return ops


def _num(value: float) -> bytes:
    # ISO 32000-1 §7.3.3: reals without exponent.
    return (b"%.3f" % value).rstrip(b"0").rstrip(b".") or b"0"

