"""Which analysis judges the updates after a signature, and its verdict.

:func:`modifications` runs the strict reader's difference analysis
(:mod:`signsvc.verify._revviews`, :mod:`signsvc.verify._revdiff`,
:mod:`signsvc.verify._revrules`) once per document and judges each signature over the
updates after its revision; a file only pyHanko's reader reads goes to pyHanko's
analysis (:func:`pyhanko_modifications`); an encrypted document whose password is not
known, and a file only qpdf's repairing reader reads, are not analysed (UNKNOWN).
"""

from __future__ import annotations

from typing import Any

from signsvc._i18n import text
from signsvc.verify._pdfdoc import DocView, SigEntry
from signsvc.verify._pdfscan import PdfLimitError, PdfSyntaxError
from signsvc.verify.results import Modification, ModificationLevel

__all__ = ["modifications", "pyhanko_modifications"]

_LEVEL_WORDS = {
    "LTA_UPDATES": "validation data (DSS) or document time-stamps added",
    "FORM_FILLING": "signatures added or form fields filled",
    "ANNOTATIONS": "annotations changed",
}


def modifications(view: DocView, entry: SigEntry) -> Modification:
    """Classify everything after ``entry``'s revision.

    The strict reader's own analysis (:mod:`signsvc.verify._revdiff`) judges each
    update once, for every signature; a file it cannot read that way goes to pyHanko's
    (:func:`pyhanko_modifications`). Anything not explained by a rule, or any failure
    of the analysis itself, is DISALLOWED: a verifier that fails open is how shadow
    attacks worked (Mainka et al., NDSS 2021).
    """
    if view.tolerant:
        # A repaired reading shows the objects qpdf guessed, not what the cross-reference
        # sections say: comparing revisions would judge a guess. Never "modified".
        return Modification(ModificationLevel.UNKNOWN, (text(
            "could not analyse changes: the file is damaged and was read by a repairing "
            "reader ({why})", why=view.fallback_reason),))
    if view.undecrypted is not None:
        # Field names, values and streams are ciphertext: comparing them would judge
        # bytes no viewer shows. Never "modified" for what could not be read.
        return Modification(ModificationLevel.UNKNOWN, (text(
            "could not analyse changes: {why}", why=view.undecrypted),))
    pdf = view.scanned
    if pdf is None or view.revision_ends is None:
        return pyhanko_modifications(view, entry)
    from signsvc.verify import _revdiff, _revrules, _revviews

    view.budget.stage = f"analysing the changes made after the signature {entry.name!r}"
    try:
        if view._changes is None:
            revs = _revviews.views(pdf, view.revision_ends)
            fields = {f.name: f for f in pdf.signature_fields()}
            view._changes = (revs, _revdiff.transitions(revs), fields)
        revs, changes, fields = view._changes
    except PdfLimitError:
        raise
    except (PdfSyntaxError, IndexError, ValueError, TypeError, RecursionError) as exc:
        found = pyhanko_modifications(view, entry)
        return Modification(found.level, (
            *found.details, f"read by pyHanko's analysis (the strict reader: {exc})"))
    ends = sorted(set(view.revision_ends))
    br = entry.byte_range
    end = br[2] + br[3]
    if end not in ends:
        return Modification(ModificationLevel.DISALLOWED, (
            text("the signature does not end where a revision ends"),))
    index = ends.index(end)
    sig_field = fields.get(entry.name)
    docmdp, locks = _revrules.permissions(
        revs[-1], entry.name, sig_field.field_ref if sig_field else None,
        sig_field.sig if sig_field else None)
    laxer = _laxer_lock(revs[-1], ends, fields, index, docmdp, locks)
    if laxer is not None:
        return laxer
    after = changes[index:]
    if not after:
        return Modification(ModificationLevel.NONE)
    allowed, details = _revrules.judge(after, docmdp, locks)
    if not details:
        details = [text("updates that rewrite objects without changing them")]
    return Modification(ModificationLevel.ALLOWED if allowed else ModificationLevel.DISALLOWED,
                        tuple(details))


def _laxer_lock(final: Any, ends: list[int], fields: dict[str, Any], index: int,
                docmdp: int | None, locks: list[Any]) -> Modification | None:
    """INDETERMINATE/SIG_CONSTRAINTS_FAILURE for a signature whose field lock grants
    more (a higher /P, ISO 32000-2 §12.7.5.5) than the document still permits after
    the earlier signatures: a permission cannot be given back (iText:
    ACCESS_PERMISSIONS_ADDED). The laxer value is void either way; the earlier
    signatures are judged under their own."""
    from signsvc.pki.indications import SubIndication
    from signsvc.verify import _revrules

    mine = [lk.p for lk in locks if lk.p is not None]
    if not mine:
        return None
    earlier = [docmdp] if docmdp is not None else []
    for other in fields.values():
        br = other.sig.get("ByteRange") if isinstance(other.sig, dict) else None
        if not (isinstance(br, list) and len(br) == 4 and all(type(x) is int for x in br)):
            continue
        end = br[2] + br[3]
        if end in ends and ends.index(end) < index:
            _, theirs = _revrules.permissions(final, other.name, other.field_ref, other.sig)
            earlier.extend(lk.p for lk in theirs if lk.p is not None)
    if earlier and max(mine) > min(earlier):
        return Modification(ModificationLevel.UNKNOWN, (text(
            "this signature's field lock permits more (P={mine}) than an earlier "
            "signature left (P={earlier}); a permission cannot be given back",
            mine=max(mine), earlier=min(earlier)),),
            sub_indication=SubIndication.SIG_CONSTRAINTS_FAILURE)
    return None


def pyhanko_modifications(view: DocView, entry: SigEntry) -> Modification:
    """pyHanko's difference analysis of everything after ``entry``'s revision, for
    files the strict reader cannot read.

    Allowed: what ISO 32000-2 §12.8.2.2 (DocMDP) and §12.8.2.4 (FieldMDP) permit for
    this signature, as pyHanko's default policy reads them; anything it cannot
    classify, or any failure of the analysis itself, is DISALLOWED.
    """
    from pyhanko.sign.diff_analysis import (
        DEFAULT_DIFF_POLICY,
        DiffResult,
    )
    from pyhanko.sign.diff_analysis import (
        ModificationLevel as PyLevel,
    )
    from pyhanko.sign.fields import enumerate_sig_fields
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    try:
        # Under the budget: pyHanko's analysis has no hook of ours. Running out raises
        # a DocumentLimitError, which the except below does not catch (a
        # BaseException), so it can never read as a disallowed modification.
        view.budget.stage = (f"analysing the changes made after the signature "
                             f"{entry.name!r} (pyHanko's difference analysis)")
        with view.budget.foreign():
            reader = view.pyhanko_reader()
            found = [(n, f) for n, _, f in enumerate_sig_fields(reader, filled_status=True)
                     if n == entry.name]
            if len(found) != 1:
                return Modification(ModificationLevel.DISALLOWED, (
                    f"pyHanko's reader finds {len(found)} signature fields named "
                    f"{entry.name!r}: the two readers disagree about the document",))
            emb = EmbeddedPdfSignature(reader, found[0][1], entry.name)
            emb.coverage = emb.evaluate_signature_coverage()  # type: ignore[assignment]
            result = emb.evaluate_modifications(DEFAULT_DIFF_POLICY)
            docmdp = emb.docmdp_level
    except Exception as exc:
        # pyHanko's own reading failed (a suspicious change is a result, not this):
        # "could not read" is never "modified".
        return Modification(ModificationLevel.UNKNOWN, (text(
            "could not analyse changes: {why}", why="pyHanko: " + str(exc)),))
    if not isinstance(result, DiffResult):
        return Modification(ModificationLevel.DISALLOWED, (
            "objects were added or replaced after signing that no later signature, "
            "validation data or permitted form filling explains",
            f"pyHanko's difference analysis: {result}"))
    level = result.modification_level
    fields = sorted(result.changed_form_fields)
    details = [f"form fields changed: {', '.join(fields)}"] if fields else []
    if level == PyLevel.NONE:
        return Modification(ModificationLevel.NONE)
    if level == PyLevel.OTHER:
        return Modification(ModificationLevel.DISALLOWED,
                            ("changes other than signatures, validation data or form "
                             "filling were made after signing", *details))
    if docmdp is not None and level.value > docmdp.value:
        return Modification(ModificationLevel.DISALLOWED, (
            f"{_LEVEL_WORDS.get(level.name, level.name)}, more than the certification "
            f"signature's DocMDP permission {docmdp.name} allows", *details))
    return Modification(ModificationLevel.ALLOWED,
                        (_LEVEL_WORDS.get(level.name, level.name), *details))
