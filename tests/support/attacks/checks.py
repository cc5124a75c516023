"""Independent checks on the corpus: no signsvc involved.

So that a test cannot pass because a generator of the attacks of Mladenov et al. ("1
Trillion Dollar Refund", ACM CCS 2019) or Mainka et al. ("Shadow Attacks", NDSS 2021)
quietly built something harmless: whether the signature's /ByteRange still names the
bytes that were signed, and what pyHanko's validator says.

Example::

    data = isa_same_object_number(signed_base())
    assert signed_digest_matches(data)        # the signature itself is intact
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from asn1crypto import cms

from tests.support.attacks._base import GOV_ROOT, VALIDATION_TIME, sig_layout
from tests.support.attacks.corpus import PyhankoSays
from tests.support.pdfcheck import pyhanko_validate


def signed_digest_matches(data: bytes) -> bool:
    """Does the hash of the bytes the first signature's /ByteRange names equal its CMS
    messageDigest? (No PDF parser: regexes and asn1crypto only, so a /ByteRange or
    /Contents that is not four integers and a hex string counts as no match.)"""
    try:
        lay = sig_layout(data, 0)
        der = bytes.fromhex(data[lay.contents[0] + 1:lay.contents[1] - 1].decode())
        # The /Contents padding is zeros after the DER; strict=False ignores it (a
        # rstrip would also eat a signature value that happens to end in 0x00).
        signed_data = cms.ContentInfo.load(der, strict=False)["content"]
        attrs = signed_data["signer_infos"][0]["signed_attrs"]
    except (IndexError, ValueError):
        return False
    a, b, c, d = lay.byte_range
    wanted = next(x["values"][0].native for x in attrs if x["type"].native == "message_digest")
    return hashlib.sha256(data[a:a + b] + data[c:c + d]).digest() == wanted


@dataclass(frozen=True)
class PyhankoVerdict:
    says: PyhankoSays
    detail: str


def pyhanko_verdict(path: Path, *, moment: datetime | None = VALIDATION_TIME) -> PyhankoVerdict:
    """pyHanko's validator on every signature (trust: gov-root-g2, revocation soft-fail,
    no fetching): "accepts" when there is a signature and every bottom line is true."""
    try:
        statuses = pyhanko_validate(path, roots=[GOV_ROOT], moment=moment)
    except Exception as exc:  # pyHanko has no common error root (DOMAIN.md)
        return PyhankoVerdict("error", f"{type(exc).__name__}: {exc}"[:300])
    if not statuses:
        return PyhankoVerdict("no-signature", "no signature found")
    detail = "; ".join(f"{s.field_name}: bottom_line={s.bottom_line} intact={s.intact} "
                       f"coverage={s.coverage} modification={s.modification_level} "
                       f"docmdp_ok={s.docmdp_ok}" for s in statuses)
    ok = all(s.bottom_line for s in statuses)
    return PyhankoVerdict("accepts" if ok else "rejects", detail)
