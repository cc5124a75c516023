"""Stream filters of ISO 32000-1 §7.4 that carry structure, and the reader's errors.

Cross-reference streams, object streams and DSS entries use FlateDecode (often with a
PNG predictor) and, more rarely, LZW, ASCIIHex, ASCII85 or RunLength, alone or chained.
Image filters (DCT, JBIG2, JPX, CCITT) never carry structure and are not decoded: a
file that needs them for its cross-references is refused. Every decoder stops at
:data:`MAX_STREAM` bytes (compression bombs).
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


def decode(raw: bytes, filters: Any, parms: Any) -> bytes:
    """``raw`` through ``/Filter`` with ``/DecodeParms`` (names as str, dicts as dict)."""
    if filters is None:
        return raw
    if isinstance(filters, str):
        filters, parms = [filters], [parms]
    if not isinstance(parms, list):
        parms = [parms] * len(filters)
    if not isinstance(filters, list) or len(parms) != len(filters):
        raise PdfSyntaxError("malformed /Filter or /DecodeParms")
    out = raw
    for name, parm in zip(filters, parms, strict=True):
        decoder = _DECODERS.get(name) if isinstance(name, str) else None
        if decoder is None:
            raise PdfSyntaxError(f"unsupported stream filter {name!r}")
        out = decoder(out)
        if len(out) > MAX_STREAM:
            raise PdfLimitError("stream expands beyond the size limit")
        if isinstance(parm, dict) and int(parm.get("Predictor", 1)) > 1:
            if name not in ("FlateDecode", "LZWDecode"):
                raise PdfSyntaxError(f"predictor on {name}")
            out = _png_unpredict(out, parm)
    return out


def _flate(data: bytes) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(data, MAX_STREAM)
    if d.unconsumed_tail:
        raise PdfLimitError("stream expands beyond the size limit")
    return out


def _ascii_hex(data: bytes) -> bytes:
    text = data.split(b">", 1)[0]
    digits = re.sub(rb"[\x00\t\n\f\r ]+", b"", text)
    if not re.fullmatch(rb"[0-9A-Fa-f]*", digits):
        raise PdfSyntaxError("bad ASCIIHexDecode data")
    return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode("ascii"))


def _ascii85(data: bytes) -> bytes:
    text = re.sub(rb"[\x00\t\n\f\r ]+", b"", data)
    if text.endswith(b"~>"):
        text = text[:-2]
    try:
        return base64.a85decode(text)
    except ValueError as exc:
        raise PdfSyntaxError(f"bad ASCII85Decode data: {exc}") from exc


def _run_length(data: bytes) -> bytes:
    out = bytearray()
    i = 0
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
        if len(out) > MAX_STREAM:
            raise PdfLimitError("stream expands beyond the size limit")
    return bytes(out)


def _lzw(data: bytes) -> bytes:
    """LZWDecode with EarlyChange 1 (ISO 32000-1 §7.4.4.2)."""
    table = [bytes([i]) for i in range(256)] + [b"", b""]
    out = bytearray()
    bits = nbits = 0
    width = 9
    prev: bytes | None = None
    for byte in data:
        bits = (bits << 8) | byte
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
            if len(out) > MAX_STREAM:
                raise PdfLimitError("stream expands beyond the size limit")
            prev = entry
            if len(table) + 1 >= (1 << width) and width < 12:
                width += 1
    return bytes(out)


_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "FlateDecode": _flate,
    "ASCIIHexDecode": _ascii_hex,
    "ASCII85Decode": _ascii85,
    "RunLengthDecode": _run_length,
    "LZWDecode": _lzw,
}


def _png_unpredict(data: bytes, parms: dict[str, Any]) -> bytes:
    """Undo PNG row predictors (ISO 32000-1 §7.4.4.4), as xref streams use them."""
    predictor = int(parms.get("Predictor", 1))
    columns = int(parms.get("Columns", 1))
    if predictor < 10 or int(parms.get("Colors", 1)) != 1 or int(
        parms.get("BitsPerComponent", 8)
    ) != 8:
        raise PdfSyntaxError(f"unsupported predictor {predictor}")
    row_len = columns + 1
    if len(data) % row_len:
        raise PdfSyntaxError("predicted data is not whole rows")
    prev = bytearray(columns)
    out = bytearray()
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
    return bytes(out)
