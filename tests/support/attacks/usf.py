"""USF: universal signature forgery (Mladenov et al., CCS 2019, §5.1).

From Mladenov, Mainka, Meyer zu Selhausen, Grothe, Schwenk, "1 Trillion Dollar Refund:
How to Spoof PDF Signatures", ACM CCS 2019. The attacker's document carries a signature
dictionary whose /ByteRange or /Contents is missing, null or malformed (or a field whose
/V leads nowhere), hoping the viewer skips the check and still shows "signed by ...".
Every variant here also shows the forged amount. The edits stay in place: nothing else
in the file is wrong.

Example::

    forged = usf_byterange_null(signed_base())   # "/ByteRange null", shows 9.000.000
"""

from __future__ import annotations

import re

from signsvc._der import read_tlv
from tests.support.attacks._base import forge_in_place, replace_padded, sig_layout


def _usf_byterange(signed: bytes, value: bytes | None) -> bytes:
    lay = sig_layout(signed)
    if value is None:  # the key itself removed
        data = replace_padded(signed, lay.br_key, lay.br_slot[1], b"")
    else:
        data = replace_padded(signed, *lay.br_slot, value)
    return forge_in_place(data)


def usf_byterange_missing(signed: bytes) -> bytes:
    """USF: no /ByteRange in the signature dictionary."""
    return _usf_byterange(signed, None)


def usf_byterange_null(signed: bytes) -> bytes:
    """USF: ``/ByteRange null``."""
    return _usf_byterange(signed, b"null")


def usf_byterange_empty(signed: bytes) -> bytes:
    """USF: ``/ByteRange []``."""
    return _usf_byterange(signed, b"[]")


def usf_byterange_three_numbers(signed: bytes) -> bytes:
    """USF: a /ByteRange with three integers instead of four."""
    _, b, c, _ = sig_layout(signed).byte_range
    return _usf_byterange(signed, b"[0 %d %d]" % (b, c))


def usf_byterange_negative(signed: bytes) -> bytes:
    """USF: a negative length in /ByteRange."""
    _, b, c, d = sig_layout(signed).byte_range
    return _usf_byterange(signed, b"[0 %d %d -%d]" % (b, c, d))


def usf_byterange_reals(signed: bytes) -> bytes:
    """USF: /ByteRange of real numbers (ISO 32000-1 Table 252 requires integers)."""
    _, b, c, d = sig_layout(signed).byte_range
    return _usf_byterange(signed, b"[0.0 %d.5 %d.0 %d.0]" % (b, c, d))


def usf_byterange_strings(signed: bytes) -> bytes:
    """USF: /ByteRange of literal strings that look like the numbers."""
    _, b, c, d = sig_layout(signed).byte_range
    return _usf_byterange(signed, b"[(0) (%d) (%d) (%d)]" % (b, c, d))


def usf_byterange_not_from_zero(signed: bytes) -> bytes:
    """USF: the first range does not start at 0 (the header is not signed)."""
    _, b, c, d = sig_layout(signed).byte_range
    return _usf_byterange(signed, b"[9 %d %d %d]" % (b - 9, c, d))


def usf_byterange_overlapping(signed: bytes) -> bytes:
    """USF: the second range starts inside the first (and swallows /Contents)."""
    _, b, c, d = sig_layout(signed).byte_range
    start = b - 100
    return _usf_byterange(signed, b"[0 %d %d %d]" % (b, start, c + d - start))


def usf_byterange_beyond_eof(signed: bytes) -> bytes:
    """USF: the second range runs past the end of the file."""
    _, b, c, d = sig_layout(signed).byte_range
    return _usf_byterange(signed, b"[0 %d %d %d]" % (b, c, d + 4096))


def usf_contents_missing(signed: bytes) -> bytes:
    """USF: no /Contents in the signature dictionary."""
    lay = sig_layout(signed)
    return forge_in_place(replace_padded(signed, lay.contents_key, lay.contents[1], b""))


def usf_contents_empty(signed: bytes) -> bytes:
    """USF: ``/Contents <>``."""
    lay = sig_layout(signed)
    return forge_in_place(replace_padded(signed, *lay.contents, b"<>"))


def usf_contents_null(signed: bytes) -> bytes:
    """USF: ``/Contents null``."""
    lay = sig_layout(signed)
    return forge_in_place(replace_padded(signed, *lay.contents, b"null"))


def usf_contents_literal_string(signed: bytes) -> bytes:
    """USF: the CMS as a literal string ``( ... )`` instead of the hex string the
    /ByteRange gap must be (ISO 32000-1 §12.8.1: "shall be a hexadecimal string")."""
    lay = sig_layout(signed)
    padded = bytes.fromhex(signed[lay.contents[0] + 1:lay.contents[1] - 1].decode())
    der = padded[:read_tlv(padded, 0, len(padded))[2]]  # the DER, without the zero padding
    escaped = der.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    escaped = escaped.replace(b"\r", b"\\r")
    return forge_in_place(replace_padded(signed, *lay.contents, b"(" + escaped + b")"))


def usf_field_value_dangling(signed: bytes) -> bytes:
    """USF: the signature field's /V points to an object that does not exist."""
    used = {int(n) for n in re.findall(rb"(?m)^(\d+) 0 obj", signed)}
    matches = list(re.finditer(rb"/FT /Sig(?:.|\n)*?/V (\d+) 0 R", signed))
    m = matches[-1]
    digits = len(m.group(1))
    free = next(n for n in range(10 ** (digits - 1), 10 ** digits) if n not in used)
    data = signed[: m.start(1)] + b"%d" % free + signed[m.end(1):]
    return forge_in_place(data)
