"""Files neither strict reader reads, read by qpdf's repairing reader (issue 13).

A signed PDF damaged the ways viewers repair (a wrong ``startxref``, a cut
cross-reference table, junk that shifts the objects) keeps an intact signature, but
what changed after signing cannot be judged on a repaired reading: INDETERMINATE,
never TOTAL-FAILED, never TOTAL-PASSED. A byte changed in the signed range is still a
HASH_FAILURE; a file qpdf cannot open either stays "not a readable PDF".

The damaged documents are made here from pyHanko signatures: either an incremental
update appended after a valid signature is damaged (the signature covers its
revision), or the damage is in the file before it is signed whole (the signature
covers it all, hand-placed with pyHanko's CMS signer: pyHanko's PDF writer cannot open
a damaged file). Two of them are fuzz seeds (``tests/verify/fuzz_seeds/``), remade by
``.venv/bin/python -c "from tests.verify.test_tolerant import write_seeds;
write_seeds()"``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signsvc import TrustStore, verify_pdf
from signsvc.pki.indications import Indication, SubIndication
from signsvc.verify import _tolerant
from signsvc.verify._budget import Budget, TimeLimitError
from signsvc.verify._pdfdoc import UnreadablePdfError, read_document
from signsvc.verify._pdffilters import PdfLimitError
from signsvc.verify.results import Coverage, DocumentResult, ModificationLevel
from tests.support.attacks._base import (
    GENUINE,
    GOV_ROOT,
    HELVETICA,
    TITLE,
    VALIDATION_TIME,
    amount_line,
    base_document,
    build_pdf,
    pkcs12_signer,
    sign,
    stream,
)
from tests.verify.fuzz import OPS, apply, run_verify, verdict_problem

SEEDS = Path(__file__).resolve().parent / "fuzz_seeds"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "realworld-dev"
RUB_SHADOW = (CORPUS / "RUB-NDS_pdf-attacker" / "replace" / "variant-2_replace-via-overwrite"
              / "4_original-document-shadowed-signed-manipulated.pdf")
REPAIRED = "read by qpdf's tolerant reader (repaired: "
NOT_ANALYSED = ("could not analyse changes: the file is damaged and was read by a repairing "
                "reader (")


# -- damaged documents ---------------------------------------------------------------------


@functools.cache
def signed() -> bytes:
    """The base document signed by pyHanko: two revisions, the signature covers both."""
    return sign(base_document())


def _last_catalog(pdf: bytes) -> bytes:
    start = pdf.rindex(b"\n1 0 obj") + 1
    return pdf[start:pdf.index(b"endobj", start) + len(b"endobj\n")]


def appended(damage: str) -> bytes:
    """:func:`signed` and one incremental update that rewrites the catalog unchanged
    (allowed on a strict reading), damaged as ``damage`` says."""
    pdf = signed()
    prev = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    size = int(re.findall(rb"/Size (\d+)", pdf)[-1])
    junk = b"\x00\x00 garbage a broken producer left\n" if damage == "junk" else b""
    at = len(pdf) + len(junk)
    update = junk + _last_catalog(pdf)
    xref = len(pdf) + len(update)
    row = b"%010d 00000 n \n" % (at - len(junk) if damage == "junk" else at)
    if damage == "truncated-xref":
        row = row[:7]  # the table is cut in the middle of its only row
    tail = (b"xref\n1 1\n" + row + b"trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\n"
            b"startxref\n%d\n%%%%EOF\n" % (size, prev, xref + (9 if damage == "startxref" else 0)))
    return pdf + update + tail


_PLACEHOLDER = b"0000000000 0000000000 0000000000 0000000000"
_CONTENTS = 8192
"""Bytes reserved for the CMS in a hand-signed file."""


def whole_file(damage: Callable[[bytes], bytes], *, uncovered: int = 0) -> bytes:
    """A one-page document with a signature field, damaged by ``damage``, then signed by
    ``official-rsa2048`` over all of it but ``uncovered`` bytes at the end (with
    pyHanko's CMS signer: ETSI.CAdES.detached over the byte range's SHA-256)."""
    catalog = b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R] /SigFlags 3 >> >>"
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font "
            b"<< /F1 5 0 R >> >> /Contents 4 0 R /Annots [6 0 R] >>")
    widget = (b"<< /FT /Sig /T (Signature1) /V 7 0 R /Type /Annot /Subtype /Widget "
              b"/Rect [0 0 0 0] /F 132 /P 3 0 R >>")
    sig = (b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached "
           b"/M (D:20260531090000Z) /ByteRange [" + _PLACEHOLDER + b"] /Contents <"
           + b"0" * (2 * _CONTENTS) + b"> >>")
    pdf = damage(build_pdf([(1, catalog), (2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
                            (3, page), (4, stream(TITLE + amount_line(GENUINE))),
                            (5, HELVETICA), (6, widget), (7, sig)]))
    start = pdf.index(b"/Contents <") + len(b"/Contents ")
    end = start + 2 * _CONTENTS + 2
    br = b"%010d %010d %010d %010d" % (0, start, end, len(pdf) - end - uncovered)
    pdf = pdf.replace(_PLACEHOLDER, br, 1)
    digest = hashlib.sha256(pdf[:start] + pdf[end:len(pdf) - uncovered]).digest()
    cms = asyncio.run(pkcs12_signer("official-rsa2048").async_sign(digest, "sha256",
                                                                   use_pades=True))
    der: bytes = cms.dump()
    assert len(der) <= _CONTENTS
    return pdf[:start + 1] + der.hex().encode().ljust(2 * _CONTENTS, b"0") + pdf[end - 1:]


def wrong_startxref(pdf: bytes) -> bytes:
    m = list(re.finditer(rb"startxref\n(\d+)", pdf))[-1]
    return pdf[:m.start(1)] + b"%d" % (int(m.group(1)) + 9) + pdf[m.end(1):]


def junk_before_objects(pdf: bytes) -> bytes:
    at = pdf.index(b"1 0 obj")
    return pdf[:at] + b"\x00\x00 garbage a broken producer left\n" + pdf[at:]


def cut_xref_table(pdf: bytes) -> bytes:
    """The table loses its last two rows (its subsection still counts them)."""
    rows = list(re.finditer(rb"\d{10} \d{5} [nf] \n", pdf))
    return pdf[:rows[-2].start()] + pdf[rows[-1].end():]


def verify(tmp_path: Path, data: bytes, name: str = "damaged.pdf",
           **kw: object) -> DocumentResult:
    path = tmp_path / name
    path.write_bytes(data)
    return verify_pdf(path, trust=TrustStore.from_paths([GOV_ROOT]), at=VALIDATION_TIME,
                      **kw)  # type: ignore[arg-type]


def assert_repaired_not_analysed(result: DocumentResult, coverage: Coverage) -> None:
    """Intact, covering what it should, and INDETERMINATE because not analysed."""
    assert result.indication is Indication.INDETERMINATE, result.reason
    assert result.sub_indication is SubIndication.SIGNED_DATA_NOT_FOUND
    assert result.error is None
    (sig,) = result.signatures
    assert sig.integrity is not None and sig.integrity.intact, sig.reason
    assert sig.coverage is coverage
    assert sig.modification is not None
    assert sig.modification.level is ModificationLevel.UNKNOWN
    assert sig.modification.details[0].startswith(NOT_ANALYSED)
    assert sig.reason.startswith(NOT_ANALYSED)
    assert any(n.startswith(REPAIRED) for n in sig.notes), sig.notes


# -- the damage viewers repair ---------------------------------------------------------


@pytest.mark.parametrize("damage", ["startxref", "truncated-xref", "junk"])
def test_an_update_damaged_after_signing_is_repaired_and_not_analysed(
        tmp_path: Path, damage: str) -> None:
    data = appended(damage)
    with pytest.raises(UnreadablePdfError):  # both strict readers refuse it ...
        _strict_only(data)
    view = read_document(data)  # ... qpdf repairs it
    assert view.tolerant and view.revision_ends is None and view.scanned is None
    assert view.fallback_reason is not None and "; pyHanko: " in view.fallback_reason
    (entry,) = view.signatures
    assert entry.name == "Signature1" and entry.sub_filter == "ETSI.CAdES.detached"
    assert entry.byte_range[0] == 0 and entry.byte_range[2] + entry.byte_range[3] == len(
        signed())
    result = verify(tmp_path, data)
    assert_repaired_not_analysed(result, Coverage.ENTIRE_REVISION)
    assert result.signatures[0].revision == 2


def _strict_only(data: bytes) -> None:
    """What read_document did before the fallback: the strict readers alone."""
    from signsvc.verify._pdfdoc import _read_fast, _read_pyhanko
    from signsvc.verify._pdffilters import PdfSyntaxError

    try:
        _read_fast(data, Budget())
    except PdfSyntaxError as exc:
        _read_pyhanko(data, str(exc), Budget())
    else:
        raise AssertionError("the strict reader read it")


def test_the_same_update_undamaged_is_read_strictly_and_allowed(tmp_path: Path) -> None:
    # The control: without the damage the strict reader reads the update and allows it
    # (a rewrite that changes nothing), so the INDETERMINATE above is the repair's.
    data = appended("none")
    assert not read_document(data).tolerant
    result = verify(tmp_path, data)
    (sig,) = result.signatures
    assert sig.modification is not None
    assert sig.modification.level is ModificationLevel.ALLOWED
    assert result.indication is Indication.TOTAL_PASSED, result.reason


@pytest.mark.parametrize("damage", [wrong_startxref, junk_before_objects, cut_xref_table])
def test_a_damaged_file_signed_whole_is_intact_but_not_analysed(
        tmp_path: Path, damage: Callable[[bytes], bytes]) -> None:
    # Everything a viewer shows was signed, but what it shows is its repair's guess of
    # which object is which: never TOTAL-PASSED on a repaired reading.
    data = whole_file(damage)
    with pytest.raises(UnreadablePdfError):
        _strict_only(data)
    result = verify(tmp_path, data)
    assert_repaired_not_analysed(result, Coverage.ENTIRE_FILE)


def test_the_hand_signed_file_undamaged_passes(tmp_path: Path) -> None:
    # The control for the hand-placed signature: the strict reader, TOTAL-PASSED.
    data = whole_file(lambda pdf: pdf)
    assert not read_document(data).tolerant
    result = verify(tmp_path, data)
    assert result.indication is Indication.TOTAL_PASSED, result.reason
    assert result.signatures[0].coverage is Coverage.ENTIRE_FILE


def test_a_changed_byte_in_the_signed_range_of_a_damaged_file_is_a_hash_failure(
        tmp_path: Path) -> None:
    for data in (appended("startxref"), whole_file(wrong_startxref)):
        forged = data.replace(GENUINE, b"9.000.000", 1)
        assert forged != data
        result = verify(tmp_path, forged)
        assert result.indication is Indication.TOTAL_FAILED, result.reason
        assert result.sub_indication is SubIndication.HASH_FAILURE
        (sig,) = result.signatures
        assert sig.integrity is not None and not sig.integrity.digest_ok
        assert any(n.startswith(REPAIRED) for n in sig.notes)


def test_a_signature_that_ends_short_of_a_revision_is_still_partial(tmp_path: Path) -> None:
    # A byte range that ends neither at the end of the file nor at a %%EOF line covers
    # no revision (ISO 32000-1 §12.8.1), repaired or not.
    data = whole_file(wrong_startxref, uncovered=12)
    result = verify(tmp_path, data)
    (sig,) = result.signatures
    assert sig.integrity is not None and sig.integrity.intact
    assert sig.coverage is Coverage.PARTIAL
    assert result.indication is Indication.TOTAL_FAILED
    assert sig.reason == "the signature covers neither the whole file nor a whole revision"


# -- what stays unreadable, and the limits ------------------------------------------------


def test_a_contents_string_the_repair_drops_is_could_not_read(tmp_path: Path) -> None:
    # A stray byte in the /Contents hex (in its zero padding, outside the signed range):
    # qpdf leaves the value out, which is "could not read", not "no signature value".
    data = whole_file(wrong_startxref)
    at = data.index(b"0" * 64, data.index(b"/Contents <"))
    data = data[:at] + b"x" + data[at + 1:]
    with pytest.raises(_tolerant.RepairError, match=r"no /Contents in qpdf's repaired"):
        _tolerant.read(data, Budget())
    result = verify(tmp_path, data)
    assert result.indication is Indication.INDETERMINATE and result.signatures == ()
    assert result.reason.startswith("not a readable PDF (")


def test_a_file_qpdf_cannot_open_either_is_not_a_readable_pdf(tmp_path: Path) -> None:
    data = b"%PDF-1.7\n" + b"not an object, no trailer, no pages\n" * 40
    with pytest.raises(_tolerant.RepairError, match=r"^qpdf: "):
        _tolerant.read(data, Budget())
    result = verify(tmp_path, data)
    assert result.indication is Indication.INDETERMINATE
    assert result.error_type == "BadInputError" and result.signatures == ()
    assert result.reason.startswith("not a readable PDF (no startxref; pyHanko: ")


def test_a_repaired_file_without_a_signature_is_still_not_readable(tmp_path: Path) -> None:
    # Nothing to verify in the repair: the strict readers' reason stands.
    data = wrong_startxref(base_document())
    with pytest.raises(_tolerant.RepairError, match="no filled signature field"):
        _tolerant.read(data, Budget())
    result = verify(tmp_path, data)
    assert result.error_type == "BadInputError"
    assert result.reason.startswith("not a readable PDF (no cross-reference section at ")


def test_an_encrypted_damaged_file_is_not_repaired(tmp_path: Path) -> None:
    # Decryption is the strict readers' (with --pdf-password-env); qpdf opens this one
    # with the empty user password, and still refuses it.
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(signed())
    with pikepdf.open(plain) as pdf:
        pdf.save(tmp_path / "encrypted.pdf",
                 encryption=pikepdf.Encryption(owner="owner", user="", R=6))
    data = wrong_startxref((tmp_path / "encrypted.pdf").read_bytes())
    with pytest.raises(_tolerant.RepairError, match=r"^encrypted$"):
        _tolerant.read(data, Budget())
    with pytest.raises(UnreadablePdfError) as caught:
        read_document(data)
    assert str(caught.value).startswith("not a readable PDF (")


def test_qpdf_is_not_handed_a_file_past_the_object_limit() -> None:
    objects = b"".join(b"%d 0 obj null endobj\n" % n for n in range(8, 8 + 260_000))
    data = appended("startxref")
    data = data[:len(signed())] + objects + data[len(signed()):]
    assert data.count(b"obj") > _tolerant.MAX_OBJ_TOKENS
    with pytest.raises(PdfLimitError, match="object limit"):
        _tolerant.read(data, Budget())
    with pytest.raises(UnreadablePdfError,
                       match=r"^refused: a damaged file with more than .*\(object limit\); "
                       r"not a readable PDF \("):
        read_document(data)


def test_the_repair_stops_at_the_budget() -> None:
    budget = Budget(1e-9)
    with pytest.raises(TimeLimitError):
        _tolerant.read(appended("startxref"), budget)
    assert budget.stage == "reading the damaged document with qpdf's repairing reader"


def test_a_large_damaged_file_is_verified_within_the_budget(tmp_path: Path) -> None:
    # 40 MB after the signature: a scanned page and 100,000 small objects in a damaged
    # update. The default budget (10 s) holds; its running out would say so itself.
    scan = b"5 0 obj\n" + stream(bytes(range(256)) * (24 << 12)) + b"\nendobj\n"
    small = b"".join(b"%d 0 obj\n<< /N %d /Pad (%s) >>\nendobj\n" % (n, n, b"x" * 120)
                     for n in range(20, 100_020))
    data = appended("startxref")
    data = data[:len(signed())] + scan + small + data[len(signed()):]
    assert len(data) > 30 << 20
    result = verify(tmp_path, data)
    assert result.error_type is None, result.reason
    assert_repaired_not_analysed(result, Coverage.ENTIRE_REVISION)


# -- files other producers made -------------------------------------------------------------


@pytest.mark.skipif(not RUB_SHADOW.exists(), reason="the shared corpus is not beside the "
                    "repository")
def test_the_rub_shadow_attack_with_a_wrong_startxref_is_not_passed(tmp_path: Path) -> None:
    # RUB-NDS's "replace via overwrite" shadow attack, manipulated after signing, with a
    # startxref past the end of the file: read only by repairing, never TOTAL-PASSED.
    result = verify(tmp_path, RUB_SHADOW.read_bytes(), RUB_SHADOW.name)
    assert result.indication is not Indication.TOTAL_PASSED
    assert result.indication is Indication.INDETERMINATE, result.reason
    (sig,) = result.signatures
    assert sig.coverage is Coverage.ENTIRE_REVISION
    assert sig.modification is not None
    assert sig.modification.level is ModificationLevel.UNKNOWN
    assert "no cross-reference section at offset 2063694" in sig.modification.details[0]


# -- fuzz seeds -----------------------------------------------------------------------------

FUZZ_SEEDS: dict[str, Callable[[], bytes]] = {
    "regression-damaged-update.pdf": lambda: appended("startxref"),
    "regression-damaged-whole-file.pdf": lambda: whole_file(junk_before_objects),
}
"""Seeds that take the repairing reader, so that the fuzz run's mutants do too (named
``regression-`` so that test_fuzz does not expect them to pass)."""


@settings(max_examples=150, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(sorted(FUZZ_SEEDS)), st.lists(
    st.tuples(st.sampled_from(OPS), st.integers(0, 1 << 15), st.integers(0, 1 << 16)),
    min_size=1, max_size=3))
def test_no_mutant_read_by_repairing_passes(name: str,
                                            edits: list[tuple[str, int, int]]) -> None:
    data = (SEEDS / name).read_bytes()
    for op, pos, arg in edits:
        data = apply(data, op, pos, arg)
    result = run_verify(data)
    assert verdict_problem(result, known_defects_ok=False) is None
    repaired = any(n.startswith(REPAIRED) for s in result.signatures for n in s.notes)
    if repaired:
        assert result.indication is not Indication.TOTAL_PASSED, result.reason
        # "Modified" only ever for a byte range that covers no revision (ISO 32000-1
        # §12.8.1), never for what the repair could not analyse.
        assert all(s.modification is None or s.coverage is Coverage.PARTIAL
                   or s.modification.level is not ModificationLevel.DISALLOWED
                   for s in result.signatures)


def write_seeds() -> None:
    for name, build in FUZZ_SEEDS.items():
        (SEEDS / name).write_bytes(build())


@pytest.mark.parametrize("name", sorted(FUZZ_SEEDS))
def test_the_fuzz_seeds_take_the_repairing_reader(tmp_path: Path, name: str) -> None:
    data = (SEEDS / name).read_bytes()
    assert read_document(data).tolerant
    result = verify(tmp_path, data)
    assert_repaired_not_analysed(
        result, Coverage.ENTIRE_REVISION if "update" in name else Coverage.ENTIRE_FILE)
