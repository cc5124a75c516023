"""The font of visible signatures and issued page text: Liberation Serif, found,
checked for coverage and shaped for pyHanko with correct glyph widths.

Example::

    >>> from pyhanko.pdf_utils.text import TextBoxStyle  # doctest: +SKIP
    >>> from pyhanko.stamp import TextStampStyle  # doctest: +SKIP
    >>> style = TextStampStyle(stamp_text="%(signer)s", text_box_style=TextBoxStyle(
    ...     font=font_factory(), font_size=10))  # doctest: +SKIP
    >>> missing_glyphs("Nguyễn Thị Lấp Lánh Ánh 中")  # doctest: +SKIP
    ['中']

Why a wrapper around pyHanko's ``GlyphAccumulator`` (pyHanko 0.38): it writes the
CIDFont ``/W`` widths, the ``TJ`` adjustments and the font descriptor metrics in the
font's own units, while ISO 32000-1 §9.2.4 and §9.7.4.3 want glyph space, 1/1000 of
text space. For a font with 1000 units per em (most CFF fonts) that is the same
number; Liberation and DejaVu have 2048, so every glyph advanced about twice its width
("N g u y ễ n") while pyHanko's layout, computed correctly, centred the too-wide text.
:class:`_Accumulator` shapes with HarfBuzz at a scale of 1000 per em, so widths,
adjustments and advances are all in glyph space, and rescales the descriptor.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signsvc.errors import AppearanceError

__all__ = [
    "DEFAULT_FONT_NAME",
    "FontMetrics",
    "default_font_path",
    "font_factory",
    "font_metrics",
    "missing_glyphs",
    "require_glyphs",
]

DEFAULT_FONT_NAME = "Liberation Serif"
"""The family used when no font is given (regular face)."""

_FILE_NAME = "LiberationSerif-Regular.ttf"

_INSTALL_HINT = (
    "install the Liberation fonts (Debian/Ubuntu: apt-get install fonts-liberation2; "
    "Fedora: dnf install liberation-serif-fonts; Arch: pacman -S ttf-liberation; "
    "macOS: brew install --cask font-liberation) or give a TrueType font file"
)


def _search_dirs() -> list[Path]:
    home = Path.home()
    dirs = [
        # Debian/Ubuntu fonts-liberation2 (2.x, full Vietnamese), then fonts-liberation.
        Path("/usr/share/fonts/truetype/liberation2"),
        Path("/usr/share/fonts/truetype/liberation"),
        Path("/usr/share/fonts/liberation-serif"),  # Fedora, RHEL
        Path("/usr/share/fonts/liberation"),  # Arch, openSUSE
        Path("/usr/share/fonts/TTF"),
        Path("/usr/local/share/fonts"),
        home / ".local/share/fonts",
        home / ".fonts",
    ]
    if sys.platform == "darwin":
        dirs += [home / "Library/Fonts", Path("/Library/Fonts"),
                 Path("/System/Library/Fonts/Supplemental")]
    if sys.platform == "win32":
        windir = os.environ.get("WINDIR", r"C:\Windows")
        dirs.append(Path(windir) / "Fonts")
        local = os.environ.get("LOCALAPPDATA")
        if local:
            dirs.append(Path(local) / "Microsoft/Windows/Fonts")
    return dirs


def default_font_path() -> Path:
    """The Liberation Serif regular face installed on this machine.

    Liberation Serif (SIL Open Font License 1.1) is metric-compatible with Times New
    Roman, the font of Vietnamese administrative documents (Decree 30/2020/NĐ-CP
    App. I; TCVN 6909:2001 Unicode), and its 2.x releases cover every Vietnamese letter
    (U+1EA0-U+1EF9, precomposed, plus the combining marks), so names such as
    "Nguyễn Thị Lấp Lánh Ánh" keep all their diacritics.

    Searched: the Linux distributions' font directories (Debian's ``fonts-liberation2``
    first), the user's font directories, macOS and Windows font folders, then
    ``fc-match`` when fontconfig is installed (its answer is only taken when it really
    is Liberation Serif, not a fallback).

    Raises:
        AppearanceError: not installed; the message says what to install.
    """
    for directory in _search_dirs():
        candidate = directory / _FILE_NAME
        if candidate.is_file():
            return candidate
    found = _fc_match()
    if found is not None:
        return found
    raise AppearanceError(f"font {DEFAULT_FONT_NAME} ({_FILE_NAME}) not found: {_INSTALL_HINT}")


def _fc_match() -> Path | None:
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        proc = subprocess.run(
            [fc_match, "-f", "%{family}\n%{file}", f"{DEFAULT_FONT_NAME}:style=Regular"],
            capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    family, _, file = proc.stdout.partition("\n")
    # fontconfig substitutes another family when the requested one is absent.
    if proc.returncode != 0 or DEFAULT_FONT_NAME not in family.split(","):
        return None
    path = Path(file.strip())
    return path if path.is_file() else None


@dataclass(frozen=True)
class FontMetrics:
    """What layout needs to know about a font, in em (multiply by the size in points)."""

    path: Path
    """The font file."""
    units_per_em: int
    """``head.unitsPerEm``: 2048 for Liberation, 1000 for most CFF fonts."""
    ascent: float
    """``hhea.ascent`` / em (0.891 for Liberation Serif)."""
    descent: float
    """``hhea.descent`` / em, negative (-0.216 for Liberation Serif)."""


@dataclass(frozen=True)
class _Font:
    metrics: FontMetrics
    data: bytes
    cmap: frozenset[int]


def _resolve(path: Path | None) -> Path:
    if path is None:
        return default_font_path()
    if not Path(path).is_file():
        raise AppearanceError(f"font file not found ({_INSTALL_HINT})", path=path)
    return Path(path)


@functools.lru_cache(maxsize=8)
def _load(path: Path) -> _Font:
    from fontTools.ttLib import TTFont, TTLibError

    try:
        data = path.read_bytes()
        font = TTFont(io.BytesIO(data), lazy=True)
        cmap = font.getBestCmap()
        head, hhea = font["head"], font["hhea"]
        upem = int(head.unitsPerEm)
        metrics = FontMetrics(path=path, units_per_em=upem, ascent=hhea.ascent / upem,
                              descent=hhea.descent / upem)
    except OSError as exc:
        raise AppearanceError(f"cannot read font: {exc.strerror or exc}", path=path) from exc
    except (TTLibError, KeyError, AssertionError, ValueError) as exc:
        raise AppearanceError(f"not a usable TrueType/OpenType font: {exc}",
                              path=path) from exc
    if cmap is None:
        raise AppearanceError("font has no Unicode character map", path=path)
    return _Font(metrics=metrics, data=data, cmap=frozenset(cmap))


def font_metrics(path: Path | None = None) -> FontMetrics:
    """Units per em, ascent and descent of ``path`` (default: :func:`default_font_path`).

    Raises:
        AppearanceError: the font is missing or unreadable.
    """
    return _load(_resolve(path)).metrics


def _drawable(char: str, cmap: frozenset[int]) -> bool:
    if ord(char) in cmap or char in "\r\n":
        return True
    # Default-ignorable format characters (ZWJ, ZWNJ, soft hyphen...) are hidden by
    # HarfBuzz, not drawn.
    if unicodedata.category(char) == "Cf":
        return True
    # HarfBuzz decomposes a character the font lacks into its canonical decomposition
    # (Unicode §3.7) when the font has every part, and positions the marks itself.
    parts = unicodedata.normalize("NFD", char)
    return len(parts) > 1 and all(ord(p) in cmap for p in parts)


def missing_glyphs(text: str, path: Path | None = None) -> list[str]:
    """The characters of ``text`` (after NFC) that the font cannot draw, each once, in
    order of appearance; empty when the whole text renders.

    A character absent from the font's ``cmap`` still counts as drawable when every
    character of its canonical decomposition is present (HarfBuzz composes it from
    base and marks). Line breaks and invisible format characters need no glyph.

    Raises:
        AppearanceError: the font is missing or unreadable.
    """
    cmap = _load(_resolve(path)).cmap
    missing: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        if char not in missing and not _drawable(char, cmap):
            missing.append(char)
    return missing


def require_glyphs(text: str, path: Path | None = None, *,
                   document: Path | None = None) -> None:
    """Fail unless the font can draw every character of ``text``.

    Args:
        text: what will be drawn.
        path: the font (default: :func:`default_font_path`).
        document: the PDF being signed, named in the error.

    Raises:
        AppearanceError: with ``characters`` set to the missing characters and
            ``path`` to ``document``.
    """
    font = _resolve(path)
    missing = missing_glyphs(text, font)
    if missing:
        listed = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in missing)
        raise AppearanceError(
            f"font {font.name} has no glyph for {listed}; choose a font that covers "
            "them", path=document, characters=tuple(missing))


def font_factory(path: Path | None = None) -> Any:
    """A pyHanko font engine factory (``GlyphAccumulatorFactory``) for ``path``
    (default: :func:`default_font_path`), one per font file.

    Use it as ``TextBoxStyle(font=font_factory())``. Each engine it creates embeds a
    TrueType subset (``/CIDFontType2``, Identity-H, with a ToUnicode map) and shapes
    text with HarfBuzz after NFC normalisation (TCVN 6909:2001 text is precomposed), so
    stacked Vietnamese diacritics (ẫ, ặ, ỗ, Ấ) use the font's own precomposed glyphs.

    Raises:
        AppearanceError: the font is missing or unreadable.
    """
    resolved = _resolve(path)
    _load(resolved)  # report an unusable font now, not while signing
    return _factory_for(resolved)


@functools.lru_cache(maxsize=8)
def _factory_for(path: Path) -> Any:
    return _classes()[1](font_file=str(path), bcp47_lang_code="vi")


@functools.cache
def _classes() -> tuple[type[Any], type[Any]]:
    """Build the pyHanko subclasses on first use: importing pyHanko's OpenType support
    (fontTools, HarfBuzz) costs about 0.2 s, which token listing must not pay."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory

    class _Accumulator(GlyphAccumulator):
        """pyHanko's glyph accumulator with every metric in glyph space (1/1000 em)."""

        def __init__(self, writer: Any, font: _Font, font_size: float,
                     obj_stream: Any, bcp47_lang_code: str | None) -> None:
            super().__init__(writer=writer, font_handle=io.BytesIO(font.data),
                             font_size=font_size, bcp47_lang_code=bcp47_lang_code,
                             obj_stream=obj_stream)
            upem = self.units_per_em
            # ISO 32000-1 §9.2.4: glyph space is 1/1000 of text space for every font
            # type but Type 3. Shaping at 1000 per em makes HarfBuzz's advances and
            # offsets, hence pyHanko's TJ adjustments and Td moves, glyph-space numbers.
            self.hb_font.scale = (1000, 1000)
            self.units_per_em = 1000
            # ISO 32000-1 §9.8.1 Table 122: Ascent, Descent, CapHeight and FontBBox are
            # glyph-space numbers too; pyHanko copies them in font units.
            descriptor = self.cidfont_obj._font_descriptor
            number: Any = generic.NumberObject
            for key in ("/Ascent", "/Descent", "/CapHeight"):
                descriptor[key] = number(round(descriptor[key] * 1000 / upem))
            descriptor["/FontBBox"] = generic.ArrayObject(
                number(round(v * 1000 / upem)) for v in descriptor["/FontBBox"])

        def _get_cid_and_width(self, glyph_id: int) -> tuple[int, int]:
            # ISO 32000-1 §9.7.4.3: /W widths in glyph space. HarfBuzz's own advance at
            # scale 1000 equals what it positions with, so TJ needs no correction.
            cached: tuple[int, int] | None = self._glyphs.get(glyph_id)
            if cached is not None:
                return cached
            cid, _font_units = super()._get_cid_and_width(glyph_id)
            result = (cid, int(self.hb_font.get_glyph_h_advance(glyph_id)))
            self._glyphs[glyph_id] = result
            return result

        def shape(self, txt: str, with_actual_text: bool = True) -> Any:
            # Vietnamese is written precomposed (NFC, TCVN 6909:2001); NFC also makes
            # the ToUnicode map give back one code point per glyph.
            return super().shape(unicodedata.normalize("NFC", txt), with_actual_text)

        def _extract_subset(self, options: Any = None) -> None:
            from fontTools import subset

            if options is None:
                options = subset.Options(layout_closure=False)
                # pyHanko's choice (shaping is done, layout tables are dead weight),
                # plus FontForge's timestamp table, which fontTools cannot subset and
                # would log a warning about.
                options.drop_tables += ["GPOS", "GDEF", "GSUB", "FFTM"]
            super()._extract_subset(options)

    @dataclass(frozen=True)
    class _Factory(GlyphAccumulatorFactory):
        """Creates :class:`_Accumulator` engines from the font bytes read once."""

        def create_font_engine(self, writer: Any, obj_stream: Any = None) -> Any:
            if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
                obj_stream = writer.prepare_object_stream()
            return _Accumulator(writer, _load(Path(self.font_file)), self.font_size,
                                obj_stream, self.bcp47_lang_code)

    return _Accumulator, _Factory
