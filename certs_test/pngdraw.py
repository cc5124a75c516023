"""PNG signature and seal images for the TEST ONLY PKI (stdlib only, no Pillow).

Used by :mod:`generate`; the images are committed under ``certs_test/images/``.
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from collections.abc import Callable, Sequence

DPI = 300

def png_bytes(width: int, height: int, rows: Sequence[bytes], dpi: int = DPI,
              comment: str = "TEST ONLY") -> bytes:
    """Encode 8-bit RGBA rows (``width * 4`` bytes each) as PNG with a pHYs chunk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ppm = round(dpi / 0.0254)  # pHYs is in pixels per metre: 300 dpi -> 11811
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (None) on every row
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1))
            + chunk(b"tEXt", b"Comment\x00" + comment.encode("latin-1"))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


class Canvas:
    """A coverage mask (0..1 per pixel) painted with anti-aliased shapes."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.cov = [0.0] * (width * height)

    def dab(self, x: float, y: float, r: float) -> None:
        """Stamp a disc; its edge is anti-aliased over one pixel (pixel centres at +0.5)."""
        cov, w = self.cov, self.width
        for py in range(max(0, int(y - r - 1)), min(self.height, int(y + r + 2))):
            dy2, base = (py + 0.5 - y) ** 2, py * w
            for px in range(max(0, int(x - r - 1)), min(w, int(x + r + 2))):
                c = r + 0.5 - math.sqrt((px + 0.5 - x) ** 2 + dy2)
                if c > cov[base + px]:
                    cov[base + px] = min(c, 1.0)

    def stroke(self, pts: Sequence[tuple[float, float]], radius: Callable[[float], float]
               ) -> None:
        """Dab along a polyline every 0.5 px; ``radius(t)`` with t in 0..1 gives pressure."""
        dense = [pts[0]]
        for (x0, y0), (x1, y1) in itertools.pairwise(pts):
            n = max(1, int(math.hypot(x1 - x0, y1 - y0) * 2))
            dense += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1)]
        for i, (x, y) in enumerate(dense):
            self.dab(x, y, radius(i / max(1, len(dense) - 1)))

    def fill(self, coverage: Callable[[float, float], float], box: tuple[int, int, int, int]
             ) -> None:
        """Max-combine an analytic ``coverage(x, y)`` over ``box`` = (x0, y0, x1, y1)."""
        x0, y0, x1, y1 = box
        for py in range(y0, y1):
            base = py * self.width
            for px in range(x0, x1):
                c = coverage(px + 0.5, py + 0.5)
                if c > self.cov[base + px]:
                    self.cov[base + px] = min(c, 1.0)

    def rows(self, rgb: tuple[int, int, int]) -> list[bytes]:
        """RGBA rows: one colour, alpha = coverage; uncovered pixels are (0, 0, 0, 0)."""
        lut = [bytes((*rgb, a)) if a else b"\0\0\0\0" for a in range(256)]
        w = self.width
        return [b"".join(lut[int(c * 255 + 0.5)] for c in self.cov[y * w:(y + 1) * w])
                for y in range(self.height)]


def catmull_rom(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Smooth curve through ``points`` (uniform Catmull-Rom), sampled about every 0.3 px."""
    pts = [points[0], *points, points[-1]]
    out: list[tuple[float, float]] = []
    for i in range(1, len(pts) - 2):
        (ax, ay), (bx, by), (cx, cy), (dx, dy) = pts[i - 1:i + 3]
        n = max(2, int(math.hypot(cx - bx, cy - by) * 3))
        for k in range(n + 1):
            t = k / n
            t2, t3 = t * t, t * t * t
            out.append((0.5 * (2 * bx + (cx - ax) * t + (2 * ax - 5 * bx + 4 * cx - dx) * t2
                               + (3 * bx - ax - 3 * cx + dx) * t3),
                        0.5 * (2 * by + (cy - ay) * t + (2 * ay - 5 * by + 4 * cy - dy) * t2
                               + (3 * by - ay - 3 * cy + dy) * t3)))
    return out


def draw_signature() -> bytes:
    """A blue cursive-looking signature (about 6 px pen) on a transparent 600x240 canvas."""
    canvas = Canvas(600, 240)
    # Control points of a made-up signature: a tall looped capital, lower-case humps
    # with one loop, then an underline swash that sweeps back under the name.
    name_stroke = [(48, 182), (62, 110), (92, 42), (116, 36), (110, 92), (84, 160), (96, 172),
                   (132, 108), (158, 78), (168, 124), (160, 166), (190, 132), (214, 104),
                   (226, 140), (250, 152), (272, 118), (262, 96), (246, 122), (268, 150),
                   (300, 128), (322, 96), (336, 54), (330, 40), (318, 88), (322, 150),
                   (350, 120), (374, 102), (386, 138), (410, 148), (438, 112), (452, 126),
                   (470, 148), (500, 118), (530, 84), (548, 92)]
    swash = [(552, 70), (520, 150), (430, 190), (300, 204), (170, 198), (110, 190), (150, 180),
             (300, 176), (450, 182), (560, 170)]

    def pressure(t: float) -> float:
        # ~3 px radius (6 px pen) with a gentle wobble and tapered ends, like ink.
        taper = min(1.0, t / 0.04, (1.0 - t) / 0.06)
        return (2.6 + 0.5 * math.sin(t * 23.0)) * (0.45 + 0.55 * taper)

    canvas.stroke(catmull_rom(name_stroke), pressure)
    canvas.stroke(catmull_rom(swash), lambda t: pressure(t) * 0.85)
    return png_bytes(canvas.width, canvas.height, canvas.rows((20, 50, 170)),
                     comment="TEST ONLY synthetic signature")


# 5x7 bitmap glyphs for the ring text; "." is a centred bullet.
_GLYPHS = {
    "T": ["11111", "00100", "00100", "00100", "00100", "00100", "00100"],
    "E": ["11111", "10000", "10000", "11110", "10000", "10000", "11111"],
    "S": ["01111", "10000", "10000", "01110", "00001", "00001", "11110"],
    "O": ["01110", "10001", "10001", "10001", "10001", "10001", "01110"],
    "N": ["10001", "11001", "10101", "10011", "10001", "10001", "10001"],
    "L": ["10000", "10000", "10000", "10000", "10000", "10000", "11111"],
    "Y": ["10001", "10001", "01010", "00100", "00100", "00100", "00100"],
    ".": ["00000", "00000", "01110", "01110", "01110", "00000", "00000"],
    " ": ["00000"] * 7,
}


def _ring(cx: float, cy: float, r_mid: float, half: float) -> Callable[[float, float], float]:
    """Coverage of an annulus of half-width ``half`` around radius ``r_mid``."""
    return lambda x, y: half + 0.5 - abs(math.hypot(x - cx, y - cy) - r_mid)


def _polygon(vertices: Sequence[tuple[float, float]]) -> Callable[[float, float], float]:
    """Coverage of a polygon from its signed distance (even-odd inside test)."""
    edges = list(zip(vertices, [*vertices[1:], vertices[0]], strict=True))

    def coverage(x: float, y: float) -> float:
        inside, best = False, math.inf
        for (ax, ay), (bx, by) in edges:
            if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
                inside = not inside
            ex, ey = bx - ax, by - ay
            t = max(0.0, min(1.0, ((x - ax) * ex + (y - ay) * ey) / (ex * ex + ey * ey)))
            best = min(best, math.hypot(x - ax - t * ex, y - ay - t * ey))
        return 0.5 + best if inside else 0.5 - best

    return coverage


def draw_glyph(canvas: Canvas, ch: str, cx: float, cy: float, theta: float, radius: float,
               unit: float) -> None:
    """Draw a 5x7 glyph centred at ``radius`` from (cx, cy), angle ``theta`` clockwise
    from the top, its top pointing away from the centre; ``unit`` is the cell pitch."""
    ux, uy = math.sin(theta), -math.cos(theta)  # outward: the glyph's "up"
    tx, ty = -uy, ux                            # clockwise tangent: the glyph's "right"
    gx, gy = cx + radius * ux, cy + radius * uy
    bitmap = _GLYPHS[ch]

    def at(col: int, row: int) -> tuple[float, float]:
        dx, dy = (col - 2) * unit, (3 - row) * unit
        return gx + tx * dx + ux * dy, gy + ty * dx + uy * dy

    def pen(_t: float) -> float:
        return unit * 0.53

    for row, bits in enumerate(bitmap):
        for col, bit in enumerate(bits):
            if bit != "1":
                continue
            # A dot per set cell, joined to set right/lower neighbours so strokes are solid.
            for dc, dr in ((0, 0), (1, 0), (0, 1)):
                if col + dc < 5 and row + dr < 7 and bitmap[row + dr][col + dc] == "1":
                    canvas.stroke([at(col, row), at(col + dc, row + dr)], pen)


def draw_seal(size: int = 472) -> bytes:
    """A red round seal, 40 mm at 300 dpi: two rings, ring text and a central star."""
    canvas, c = Canvas(size, size), size / 2
    canvas.fill(_ring(c, c, 226.0, 7.0), (0, 0, size, size))   # outer ring, ~1.2 mm
    canvas.fill(_ring(c, c, 176.0, 3.0), (0, 0, size, size))   # inner ring
    # Five-pointed star: outer radius 82 px, inner radius at the golden-ratio proportion.
    star = [(c + r * math.sin(k * math.pi / 5), c - r * math.cos(k * math.pi / 5))
            for k, r in ((k, 82.0 if k % 2 == 0 else 82.0 * 0.381966) for k in range(10))]
    canvas.fill(_polygon(star), (int(c - 84), int(c - 84), int(c + 84), int(c + 84)))
    # Ring text, read clockwise with letter tops outward (as on real seals).
    text = "TEST ONLY . " * 4
    for i, ch in enumerate(text):
        theta = 2 * math.pi * i / len(text)
        draw_glyph(canvas, ch, c, c, theta, radius=199.0, unit=3.6)
    return png_bytes(size, size, canvas.rows((200, 20, 30)), comment="TEST ONLY synthetic seal")


