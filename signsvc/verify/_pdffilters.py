"""Stream filters of ISO 32000-1 §7.4 that carry structure, and the reader's errors.

Cross-reference streams, object streams and DSS entries use FlateDecode (often with a
PNG predictor) and, more rarely, LZW, ASCIIHex, ASCII85 or RunLength, alone or chained.
Image filters (DCT, JBIG2, JPX, CCITT) never carry structure and are not decoded: a
file that needs them for its cross-references is refused. Every decoder stops at
:data:`MAX_STREAM` bytes, or at what is left of the document's budget (compression
bombs), and the Python-speed loops (LZW, run length, predictors) check the deadline.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_STREAM", "PdfLimitError", "PdfSyntaxError", "decode"]

MAX_STREAM = 64 * 1024 * 1024
"""Most bytes a decoded stream may expand to (compression bombs)."""


class PdfSyntaxError(Exception):
    """The file is not a PDF this reader can read unambiguously."""


class PdfLimitError(PdfSyntaxError):
    """The file exceeds a safety limit (nesting, decoded size, field count). Not handed
    to pyHanko: its reader has no such limits (compression bombs, deep nesting)."""


def decode(raw: bytes, filters: Any, parms: Any, *, limit: int = MAX_STREAM,
           check: Callable[[], None] | None = None) -> bytes:
    """``raw`` through ``/Filter`` with ``/DecodeParms`` (names as str, dicts as dict).

    Args:
        limit: the most bytes any stage may produce (at most :data:`MAX_STREAM`; the
            caller lowers it to what is left of the document's budget).
        check: called every so often in the Python-speed loops (LZW, run length, PNG
            predictors), to stop at the document's deadline.
    """
    if filters is None:
        return raw
    if isinstance(filters, str):
        filters, parms = [filters], [parms]
    if not isinstance(parms, list):
        parms = [parms] * len(filters) if isinstance(filters, list) else []
    if not isinstance(filters, list) or len(parms) != len(filters):
        raise PdfSyntaxError("malformed /Filter or /DecodeParms")
    limit = min(limit, MAX_STREAM)
    tick = check or _no_check
    out = raw
    for name, parm in zip(filters, parms, strict=True):
        decoder = _DECODERS.get(name) if isinstance(name, str) else None
        if decoder is None:
            raise PdfSyntaxError(f"unsupported stream filter {name!r}")
        out = decoder(out, limit, tick)
        if len(out) > limit:
            raise PdfLimitError("stream expands beyond the size limit")
        if isinstance(parm, dict) and _int(parm, "Predictor", 1) > 1:
            if name not in ("FlateDecode", "LZWDecode"):
                raise PdfSyntaxError(f"predictor on {name}")
            out = _png_unpredict(out, parm, tick)
    return out


def _no_check() -> None:
    return None


def _int(parms: dict[str, Any], key: str, default: int) -> int:
    value = parms.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PdfSyntaxError(f"/DecodeParms /{key} is not a non-negative integer")
    return value


_CHECK_EVERY = 1 << 16
"""Bytes (or rows) a Python-speed decoder loop handles between two deadline checks."""


def _flate(data: bytes, limit: int, check: Callable[[], None]) -> bytes:
    # One byte more than allowed tells "at the limit" from "beyond it" (and a limit of
    # 0, the budget spent, must not read as zlib's "no limit").
    try:
        out = zlib.decompressobj().decompress(data, limit + 1)
    except zlib.error as exc:
        raise PdfSyntaxError(f"bad FlateDecode data: {exc}") from exc
    if len(out) > limit:
        raise PdfLimitError("stream expands beyond the size limit")
    return out


def _ascii_hex(data: bytes, limit: int, check: Callable[[], None]) -> bytes:
    text = data.split(b">", 1)[0]
    digits = re.sub(rb"[\x00\t\n\f\r ]++", b"", text)
    if not re.fullmatch(rb"[0-9A-Fa-f]*+", digits):
        raise PdfSyntaxError("bad ASCIIHexDecode data")
    return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode("ascii"))


def _ascii85(data: bytes, limit: int, check: Callable[[], None]) -> bytes:
    text = re.sub(rb"[\x00\t\n\f\r ]++", b"", data)
    if text.endswith(b"~>"):
        text = text[:-2]
    # Each "z" is four zero bytes: the only way ASCII85 expands more than 5:4.
    if len(text) - text.count(b"z") + 4 * text.count(b"z") > limit:
        raise PdfLimitError("stream expands beyond the size limit")
    try:
        return base64.a85decode(text)
    except ValueError as exc:
        raise PdfSyntaxError(f"bad ASCII85Decode data: {exc}") from exc


def _run_length(data: bytes, limit: int, check: Callable[[], None]) -> bytes:
    out = bytearray()
    i = 0
    next_check = _CHECK_EVERY
    while i < len(data):
        n = data[i]
        if n == 128:
            break
        if n < 128:
            out += data[i + 1 : i + 2 + n]
            i += 2 + n
        else:
            out += data[i + 1 : i + 2] * (257 - n)
            i += 2
        if len(out) > limit:
            raise PdfLimitError("stream expands beyond the size limit")
        if i > next_check:
            check()
            next_check = i + _CHECK_EVERY
    return bytes(out)


def _lzw(data: bytes, limit: int, check: Callable[[], None]) -> bytes:
    """LZWDecode with EarlyChange 1 (ISO 32000-1 §7.4.4.2)."""
    table = [bytes([i]) for i in range(256)] + [b"", b""]
    out = bytearray()
    bits = nbits = 0
    width = 9
    prev: bytes | None = None
    for count, byte in enumerate(data):
        if not count % _CHECK_EVERY:
            check()
        bits = ((bits << 8) | byte) & 0xFFFFFF  # never more than 8 + 11 bits pending
        nbits += 8
        while nbits >= width:
            nbits -= width
            code = (bits >> nbits) & ((1 << width) - 1)
            if code == 256:
                table, width, prev = table[:258], 9, None
                continue
            if code == 257:
                return bytes(out)
            if code < len(table):
                entry = table[code]
                if prev is not None:
                    table.append(prev + entry[:1])
            elif prev is not None and code == len(table):
                entry = prev + prev[:1]
                table.append(entry)
            else:
                raise PdfSyntaxError("bad LZWDecode data")
            out += entry
            if len(out) > limit:
                raise PdfLimitError("stream expands beyond the size limit")
            prev = entry
            if len(table) + 1 >= (1 << width) and width < 12:
                width += 1
    return bytes(out)


_DECODERS: dict[str, Callable[[bytes, int, Callable[[], None]], bytes]] = {
    "FlateDecode": _flate,
    "ASCIIHexDecode": _ascii_hex,
    "ASCII85Decode": _ascii85,
    "RunLengthDecode": _run_length,
    "LZWDecode": _lzw,
}


def _png_unpredict(data: bytes, parms: dict[str, Any], check: Callable[[], None]) -> bytes:
    """Undo PNG row predictors (ISO 32000-1 §7.4.4.4), as xref streams use them."""
    predictor = _int(parms, "Predictor", 1)
    columns = _int(parms, "Columns", 1)
    if predictor < 10 or _int(parms, "Colors", 1) != 1 or _int(
        parms, "BitsPerComponent", 8
    ) != 8:
        raise PdfSyntaxError(f"unsupported predictor {predictor}")
    row_len = columns + 1
    if columns < 1 or len(data) % row_len or (columns > len(data) and data):
        raise PdfSyntaxError("predicted data is not whole rows")
    if not data:
        return b""  # and no row of /Columns bytes (4 GB for /Columns 4000000000)
    prev = bytearray(columns)
    out = bytearray()
    next_check = _CHECK_EVERY
    for start in range(0, len(data), row_len):
        kind = data[start]
        row = bytearray(data[start + 1 : start + row_len])
        if kind == 2:
            row = bytearray((a + b) & 0xFF for a, b in zip(row, prev, strict=True))
        elif kind == 1:
            for i in range(1, columns):
                row[i] = (row[i] + row[i - 1]) & 0xFF
        elif kind != 0:
            raise PdfSyntaxError(f"unsupported PNG filter type {kind}")
        out += row
        prev = row
        if start > next_check:
            check()
            next_check = start + _CHECK_EVERY
    return bytes(out)
