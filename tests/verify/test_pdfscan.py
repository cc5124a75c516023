"""The strict fast PDF reader (signsvc.verify._pdfscan): filters, hybrid files, refusals."""

from __future__ import annotations

import base64
import os
import zlib

import pytest

from signsvc.verify._pdfscan import (
    Lexer,
    Name,
    PdfLimitError,
    PdfSyntaxError,
    Ref,
    Stream,
    scan,
)
from signsvc.verify._pdfscan import PdfDict as _PdfDict


def _lzw_encode(data: bytes) -> bytes:
    """A plain LZW encoder (EarlyChange 1), written here so the decoder is checked
    against an independent implementation of ISO 32000-1 §7.4.4.2."""
    table = {bytes([i]): i for i in range(256)}
    codes = [256]
    w = b""
    for byte in data:
        wc = w + bytes([byte])
        if wc in table:
            w = wc
            continue
        codes.append(table[w])
        table[wc] = len(table) + 2
        w = bytes([byte])
        if len(table) + 2 >= 4094:
            codes.append(256)
            table = {bytes([i]): i for i in range(256)}
    if w:
        codes.append(table[w])
    codes.append(257)
    out, bits, nbits, size = bytearray(), 0, 0, 258
    width = 9
    for code in codes:
        bits = (bits << width) | code
        nbits += width
        while nbits >= 8:
            nbits -= 8
            out.append((bits >> nbits) & 0xFF)
        if code == 256:
            size, width = 258, 9
            continue
        size += 1
        if size >= (1 << width) and width < 12:
            width += 1
    if nbits:
        out.append((bits << (8 - nbits)) & 0xFF)
    return bytes(out)


def _run_length_encode(data: bytes) -> bytes:
    out = bytearray()
    for i in range(0, len(data), 100):
        chunk = data[i : i + 100]
        out += bytes([len(chunk) - 1]) + chunk
    out += b"\x81z" + b"\x80"  # a run of 128 'z', then EOD
    return bytes(out)


def _stream(filters: object, raw: bytes) -> Stream:
    d = _PdfDict()
    d["Filter"] = filters
    return Stream(d, raw)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_filters_round_trip(seed: int) -> None:
    data = os.urandom(1500) + b"ABABABABABAB" * 200 + bytes([seed]) * 300
    assert _stream(Name("LZWDecode"), _lzw_encode(data)).decode() == data
    assert _stream(Name("ASCII85Decode"), base64.a85encode(data) + b"~>").decode() == data
    assert _stream(Name("ASCIIHexDecode"), data.hex().encode() + b">").decode() == data
    assert _stream(Name("RunLengthDecode"), _run_length_encode(data)).decode() == (
        data + b"z" * 128)
    chained = base64.a85encode(zlib.compress(data)) + b"~>"
    assert _stream([Name("ASCII85Decode"), Name("FlateDecode")], chained).decode() == data


def test_unknown_filter_and_bomb_are_refused() -> None:
    with pytest.raises(PdfSyntaxError, match="unsupported stream filter"):
        _stream(Name("DCTDecode"), b"").decode()
    bomb = zlib.compress(b"\0" * (80 * 1024 * 1024))
    with pytest.raises(PdfLimitError):
        _stream(Name("FlateDecode"), bomb).decode()


def test_lexer_values_and_spans() -> None:
    src = b"<< /A 1 /B [2 0 R (x\\)y) <414>] /C << /D true >> /E#20F null >>"
    value, end = Lexer(src).value(0)
    assert end == len(src)
    assert value == {"A": 1, "B": [Ref(2, 0), b"x)y", b"A@"], "C": {"D": True}, "E F": None}
    assert src[slice(*value.spans["B"])] == b"[2 0 R (x\\)y) <414>]"
    with pytest.raises(PdfSyntaxError, match="duplicate"):
        Lexer(b"<< /A 1 /A 2 >>").value(0)
    with pytest.raises(PdfSyntaxError, match="key expected"):
        Lexer(b"<< 1 2 >>").value(0)


def _hybrid_pdf() -> bytes:
    """Objects 1-3 in a classic table; object 4 (the AcroForm) only in an object stream
    that the table's /XRefStm stream lists (ISO 32000-1 §7.5.8.4)."""
    out = bytearray(b"%PDF-1.5\n")
    offsets = {}

    def obj(num: int, body: bytes) -> None:
        offsets[num] = len(out)
        out.extend(b"%d 0 obj\n" % num + body + b"\nendobj\n")

    obj(1, b"<< /Type /Catalog /Pages 2 0 R /AcroForm 4 0 R >>")
    obj(2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    obj(3, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")
    inner = b"<< /Fields [] /SigFlags 3 >>"
    header = b"4 0 "
    body = header + inner
    obj(5, b"<< /Type /ObjStm /N 1 /First %d /Length %d >>\nstream\n" % (
        len(header), len(body)) + body + b"\nendstream")
    rows = b"".join(bytes([2]) + (5).to_bytes(2, "big") + bytes([0]) for _ in [4])
    obj(6, b"<< /Type /XRef /W [1 2 1] /Index [4 1] /Size 7 /Length %d >>\nstream\n"
        % len(rows) + rows + b"\nendstream")
    xref = len(out)
    out += b"xref\n0 4\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in (1, 2, 3))
    out += b"5 2\n" + b"".join(b"%010d 00000 n \n" % offsets[n] for n in (5, 6))
    out += b"trailer\n<< /Size 7 /Root 1 0 R /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        offsets[6], xref)
    return bytes(out)


def test_hybrid_file_reads_objects_from_the_hidden_stream() -> None:
    pdf = scan(_hybrid_pdf())
    form = pdf.get(Ref(4, 0))
    assert form == {"Fields": [], "SigFlags": 3}
    assert pdf.signature_fields() == []


def test_refusals() -> None:
    with pytest.raises(PdfSyntaxError, match="no %PDF- header"):
        scan(b"hello")
    with pytest.raises(PdfSyntaxError, match="startxref"):
        scan(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n")
    data = _hybrid_pdf().replace(b"/XRefStm", b"/XRefSt0")
    pdf = scan(data)
    assert pdf.get(Ref(4, 0)) is None  # without the hidden stream, object 4 is absent
