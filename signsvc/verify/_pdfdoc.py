"""The signed-document view verification works on, read fast or read by pyHanko.

:func:`read_document` tries the strict fast reader (:mod:`signsvc.verify._pdfscan`) first and
falls back to pyHanko's reader for what it does not handle (hybrid cross-references,
unusual filters). Either way the result is a :class:`DocView`: the signatures as
stored, the DSS validation data, the revision boundaries.

Modifications after a signature are judged in :mod:`signsvc.verify._changes` (the
strict reader's difference analysis, or pyHanko's for a file only pyHanko's reader
reads), plus one check here that pyHanko does not make: every
object appended after a signature must be referenced by a cross-reference section
(:func:`unreferenced_objects`), because repairing viewers display objects that a
strict reader never looks at (the incremental saving attack without a new xref,
Mladenov et al., CCS 2019 §5.2).
"""

from __future__ import annotations

import bisect
import io
import re
from dataclasses import dataclass, field
from typing import Any

from signsvc._i18n import text
from signsvc.verify._budget import MAX_DECODED, Budget
from signsvc.verify._pdfcrypt import PdfCryptError, PdfPasswordError, open_crypt
from signsvc.verify._pdffilters import MAX_STREAM
from signsvc.verify._pdfscan import (
    MAX_FIELDS,
    STARTXREF,
    Name,
    PdfDict,
    PdfLimitError,
    PdfSyntaxError,
    Ref,
    ScannedPdf,
    Stream,
    scan,
)

__all__ = ["DocView", "SigEntry", "read_document", "unreferenced_objects"]


class UnreadablePdfError(Exception):
    """Neither reader could read the file; the message says why."""


@dataclass
class SigEntry:
    """One filled signature field, as stored."""

    name: str
    sig_type: str | None
    """``/Type`` of the signature dictionary: Sig, DocTimeStamp or None."""
    sub_filter: str | None
    byte_range: Any
    """The raw ``/ByteRange`` value (checked by the caller)."""
    contents: Any
    """The raw ``/Contents`` value (bytes for a string)."""
    contents_span: tuple[int, int] | None
    """Where the fast reader found ``/Contents`` (None from pyHanko)."""
    problem: str | None = None
    """Why this field's signature cannot be read at all (e.g. ``/V`` points nowhere)."""
    m: str | None = None
    """``/M`` as written."""
    pyhanko_coverage: str | None = None
    """Coverage as pyHanko judged it (fallback reader only)."""
    pyhanko_revision: int | None = None


@dataclass
class DocView:
    data: bytes
    signatures: list[SigEntry]
    revision_ends: list[int] | None
    """End offset of each revision, oldest first (fast reader only)."""
    revisions: int
    dss_certs: list[bytes] = field(default_factory=list)
    dss_crls: list[bytes] = field(default_factory=list)
    dss_ocsps: list[bytes] = field(default_factory=list)
    scanned: ScannedPdf | None = None
    fallback_reason: str | None = None
    """Why the strict reader gave way to pyHanko's, when it did."""
    notes: list[str] = field(default_factory=list)
    budget: Budget = field(default_factory=Budget)
    """The document's time and size budget (what read it, and what analyses it)."""
    undecrypted: str | None = None
    """Why an encrypted document's strings and streams could not be decrypted (the
    password is not known, or certificate encryption); None when they were, or when
    the document is not encrypted. Integrity is checked all the same (ISO 32000-2
    §7.6.2: a signature's ``/Contents`` is not encrypted); what changed after signing
    cannot be analysed."""
    password: str | None = field(default=None, repr=False, compare=False)
    """The password that opened an encrypted document ("" for the empty user one)."""
    tolerant: bool = False
    """Read by qpdf's repairing reader (:mod:`signsvc.verify._tolerant`), neither strict
    reader could: the signatures are as a repairing viewer finds them, what changed
    after signing cannot be analysed (:func:`modifications`)."""
    _reader: Any = None
    _changes: Any = None
    """The strict reader's difference analysis, made once (see :func:`modifications`)."""

    def pyhanko_reader(self) -> Any:
        """pyHanko's reader over the same bytes, opened (and decrypted) once per
        document; raises :class:`UnreadablePdfError` when it cannot be decrypted."""
        if self._reader is None:
            if self.undecrypted is not None:
                raise UnreadablePdfError(f"could not analyse changes: {self.undecrypted}")
            reader = _pyhanko_reader(self.data)
            if reader.encrypted:
                _decrypt_pyhanko(reader, [self.password or ""])
            self._reader = reader
        return self._reader


def _str(value: Any) -> str | None:
    if isinstance(value, Name):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return None


def _revision_ends(pdf: ScannedPdf) -> list[int]:
    """Where each revision ends: the first ``startxref N %%EOF`` after its section that
    names it. One pass over the file (a search per revision was quadratic: a thousand
    revisions of a large file)."""
    data = pdf.data
    found: dict[int, list[tuple[int, int]]] = {}
    for count, m in enumerate(STARTXREF.finditer(data)):
        if not count % 1024:
            pdf.budget.check()
        found.setdefault(int(m.group(1)), []).append((m.start(), m.end()))
    revs = pdf.revisions
    ends = [0] * len(revs)
    for idx in range(len(revs) - 1, -1, -1):  # newest first: a main section takes the next end
        rev = revs[idx]
        start = rev.xref_offset
        if idx and revs[idx - 1].xref_offset > start:
            # A linearized file (ISO 32000-1 Annex F): the first-page section near the
            # start of the file is newer in the /Prev chain than the main section at
            # the end, and the original revision ends after both.
            start = revs[idx - 1].xref_offset
        tails = found.get(rev.xref_offset, [])
        k = bisect.bisect_left(tails, (start, -1))
        if k < len(tails):
            ends[idx] = tails[k][1]
        elif idx + 1 < len(revs) and revs[idx + 1].xref_offset < rev.xref_offset:
            ends[idx] = ends[idx + 1]  # a linearized file's main section
        else:
            raise PdfSyntaxError(f"no startxref/%%EOF for the section at {rev.xref_offset}")
    return ends


def _dss_fast(pdf: ScannedPdf, view: DocView) -> None:
    root = pdf.resolve(pdf.trailer.get("Root"))
    dss = pdf.resolve(root.get("DSS")) if isinstance(root, dict) else None
    if not isinstance(dss, dict):
        return
    for key, out in (("Certs", view.dss_certs), ("CRLs", view.dss_crls),
                     ("OCSPs", view.dss_ocsps)):
        items = pdf.resolve(dss.get(key))
        if isinstance(items, list) and len(items) > MAX_FIELDS:
            raise PdfLimitError(f"more than {MAX_FIELDS} entries in /DSS /{key}")
        for item in items if isinstance(items, list) else ():
            stream = pdf.resolve(item)
            if isinstance(stream, Stream):
                out.append(stream.decode(pdf.budget))


def _read_fast(data: bytes, budget: Budget, password: str | None = None) -> DocView:
    pdf = scan(data, budget)
    undecrypted = None
    crypt = None
    if pdf.encrypted:
        try:
            crypt = pdf.crypt = open_crypt(pdf, password)
        except PdfCryptError as exc:
            # Integrity needs no password: a signature's /Contents is stored in clear
            # (ISO 32000-2 §7.6.2) and /ByteRange is numbers. Field names, /M and the
            # DSS streams are encrypted and stay unread.
            undecrypted = str(exc) + (" (give it with --pdf-password-env)"
                                      if isinstance(exc, PdfPasswordError) else "")
    try:
        fields = pdf.signature_fields()
        view = DocView(data, [], _revision_ends(pdf), len(pdf.revisions), scanned=pdf,
                       budget=budget, undecrypted=undecrypted,
                       password=crypt.password if crypt is not None else None)
        for f in fields:
            sig = f.sig
            view.signatures.append(SigEntry(
                name=f.name if undecrypted is None else _encrypted_name(f.field_ref),
                sig_type=_str(sig.get("Type")),
                sub_filter=_str(sig.get("SubFilter")),
                byte_range=sig.get("ByteRange"),
                contents=sig.get("Contents"),
                contents_span=f.contents_span,
                m=_str(sig.get("M")) if undecrypted is None else None,
                problem=f.problem,
            ))
        if undecrypted is None:
            _dss_fast(pdf, view)
        else:
            view.notes.append(f"{undecrypted}; field names and the validation data (DSS) "
                              "were not read")
        if crypt is not None and crypt.note is not None:
            view.notes.append(crypt.note)
    except (IndexError, ValueError, TypeError, RecursionError) as exc:
        raise PdfSyntaxError(f"unreadable structure: {exc}") from exc
    return view


def _encrypted_name(ref: Ref | None) -> str:
    """What stands for a field's name (an encrypted string) without the password."""
    where = f", object {ref.num} {ref.gen}" if ref is not None else ""
    return f"(encrypted field name{where})"


def _decrypt_pyhanko(reader: Any, candidates: list[str]) -> str:
    """Open pyHanko's ``reader`` with the first password that works, and return it."""
    from pyhanko.pdf_utils.crypt import AuthStatus, StandardSecurityHandler

    try:
        handler = reader.security_handler
    except Exception as exc:
        raise UnreadablePdfError(f"cannot decrypt ({exc})") from exc
    if not isinstance(handler, StandardSecurityHandler):
        raise UnreadablePdfError("cannot decrypt (certificate-encrypted PDF)")
    for password in candidates:
        try:
            if reader.decrypt(password).status is not AuthStatus.FAILED:
                return password
        except Exception:  # /Perms that does not decrypt, a password not in PDFDocEncoding
            continue
    raise UnreadablePdfError(text("the document is encrypted and the password is not "
                                  "known (give it with --pdf-password-env)"))


def _guard_pyhanko_predictor() -> None:
    """Make pyHanko 0.38's PNG predictor skip its row buffer when there is no data.

    ``filters._png_decode`` allocates a row of ``/Columns`` bytes before it looks at
    the data; over an empty stream every row count passes its check, so
    ``/Columns 4000000000`` wrote 4 GB of zeros, in C, where no deadline reaches
    (found by tests/verify/fuzz.py). The result for empty data is b"" either way, so
    the guard changes nothing else, for signing neither.
    """
    from pyhanko.pdf_utils import filters

    original = filters._png_decode
    if getattr(original, "signsvc_guarded", False):
        return

    def guarded(data: memoryview, columns: Any) -> bytes:
        if not len(data):
            return b""
        return original(data, columns)  # type: ignore[no-any-return]

    guarded.signsvc_guarded = True  # type: ignore[attr-defined]
    filters._png_decode = guarded


def _pyhanko_reader(data: bytes) -> Any:
    from pyhanko.pdf_utils.decode_limits import (
        DecodeLimits,
        DocumentDecodeBudget,
        StreamDecodeLimits,
    )
    from pyhanko.pdf_utils.reader import PdfFileReader

    _guard_pyhanko_predictor()
    # pyHanko 0.38's limits for untrusted input, tightened to the strict reader's: one
    # stream at most MAX_STREAM, all of them MAX_DECODED or four times the file (its
    # default, 256 MiB or 100 times the file, would let a 20 MB file decode 2 GB).
    limits = DecodeLimits(
        per_stream=StreamDecodeLimits(max_output_size=MAX_STREAM),
        document_budget=DocumentDecodeBudget(base_allowance=MAX_DECODED, max_ratio=4))
    return PdfFileReader(io.BytesIO(data), strict=True, decode_limits=limits)


def _read_pyhanko(data: bytes, why: str, budget: Budget, password: str | None = None
                  ) -> DocView:
    """The document through pyHanko's reader, stopped at ``budget``'s deadline."""
    budget.stage = f"reading the document with pyHanko's reader (the strict reader: {why})"
    with budget.foreign():
        return _read_pyhanko_unguarded(data, why, budget, password)


def _read_pyhanko_unguarded(data: bytes, why: str, budget: Budget,
                            password: str | None = None) -> DocView:
    from pyhanko.pdf_utils import generic
    from pyhanko.sign.fields import enumerate_sig_fields
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    try:
        reader = _pyhanko_reader(data)
        opened = None
        if reader.encrypted:
            # The same order as the strict reader: the password given, then the empty
            # user password.
            opened = _decrypt_pyhanko(reader, ([password] if password else []) + [""])
        view = DocView(data, [], None, reader.xrefs.total_revisions, _reader=reader,
                       fallback_reason=why, budget=budget, password=opened)
        view.notes.append(f"read with pyHanko's reader ({why})")
        for name, sig_obj, sig_field in enumerate_sig_fields(reader, filled_status=True):
            sig = sig_obj.get_object()
            if not isinstance(sig, generic.DictionaryObject):
                raise UnreadablePdfError(f"signature field {name}: /V is not a dictionary")
            # ISO 32000-2 §7.6.2: /Contents is stored in clear, so read it undecrypted.
            contents = (sig.raw_get("/Contents", decrypt=generic.EncryptedObjAccess.RAW)
                        if opened is not None and "/Contents" in sig else sig.get("/Contents"))
            br = sig.get("/ByteRange")
            entry = SigEntry(
                name=name,
                sig_type=str(sig["/Type"])[1:] if "/Type" in sig else None,
                sub_filter=str(sig["/SubFilter"])[1:] if "/SubFilter" in sig else None,
                byte_range=[int(x) for x in br] if isinstance(br, generic.ArrayObject)
                and all(isinstance(x, int) for x in br) else br,
                contents=bytes(contents.original_bytes)
                if isinstance(contents, generic.ByteStringObject | generic.TextStringObject)
                else contents,
                contents_span=None,
                m=str(sig["/M"]) if "/M" in sig else None,
            )
            try:
                emb = EmbeddedPdfSignature(reader, sig_field, name)
                entry.pyhanko_coverage = emb.evaluate_signature_coverage().name
                entry.pyhanko_revision = emb.signed_revision + 1
            except Exception as exc:
                entry.pyhanko_coverage = f"UNCLEAR ({exc})"
            view.signatures.append(entry)
        dss = reader.root.get("/DSS")
        if dss is not None:
            dss = dss.get_object()
            for key, out in (("/Certs", view.dss_certs), ("/CRLs", view.dss_crls),
                             ("/OCSPs", view.dss_ocsps)):
                for item in dss.get(key, ()):
                    out.append(item.get_object().data)
    except UnreadablePdfError:
        raise
    except Exception as exc:
        raise UnreadablePdfError(text("not a readable PDF ({why}; pyHanko: {error})",
                                      why=why, error=str(exc))) from exc
    return view


def read_document(data: bytes, budget: Budget | None = None, password: str | None = None
                  ) -> DocView:
    """Read the signatures of ``data``; raises :class:`UnreadablePdfError`, or a
    :class:`~signsvc.verify._budget.DocumentLimitError` past ``budget``.

    An encrypted document is opened with ``password`` (user or owner), else with the
    empty user password; when neither opens it, its signatures are still read (their
    ``/Contents`` is not encrypted) and :attr:`DocView.undecrypted` says why the rest
    was not.

    A file neither the strict reader nor pyHanko's reads (a damaged cross-reference
    table) is read by qpdf's repairing reader, :attr:`DocView.tolerant`; when that
    finds no signature either, the strict readers' reason is raised.
    """
    budget = budget if budget is not None else Budget()
    if not data.lstrip(b"\x00\t\n\r ").startswith(b"%PDF-"):
        raise UnreadablePdfError(text("not a PDF (no %PDF- header)"))
    try:
        return _read_fast(data, budget, password)
    except PdfLimitError as exc:
        raise UnreadablePdfError(text("refused: {why}", why=str(exc))) from exc
    except PdfSyntaxError as exc:
        why = str(exc)
    try:
        return _read_pyhanko(data, why, budget, password)
    except UnreadablePdfError as exc:
        from pyhanko.pdf_utils.misc import PdfDecodeLimitError

        failed = exc.__cause__
        # Only a file pyHanko's reader failed on: not one it decrypts or refuses to
        # (no cause, or qpdf refuses it as encrypted), nor one over its decode limits.
        if not isinstance(failed, Exception) or isinstance(failed, PdfDecodeLimitError):
            raise
        try:
            return _read_tolerant(data, f"{why}; pyHanko: {failed}", budget)
        except PdfLimitError as limit:
            raise UnreadablePdfError(f"refused: {limit}; {exc}") from limit
        except UnreadablePdfError:
            raise exc from failed


def _read_tolerant(data: bytes, why: str, budget: Budget) -> DocView:
    """The signatures and DSS of a file neither strict reader reads, as qpdf repairs it
    (:mod:`signsvc.verify._tolerant`); raises :class:`UnreadablePdfError`, or
    :class:`PdfLimitError` for a file over the repair's limits."""
    from signsvc.verify import _tolerant

    try:
        found = _tolerant.read(data, budget)
    except _tolerant.RepairError as exc:
        raise UnreadablePdfError(str(exc)) from exc
    view = DocView(data, [], None, found.revisions, dss_certs=found.dss_certs,
                   dss_crls=found.dss_crls, dss_ocsps=found.dss_ocsps, fallback_reason=why,
                   budget=budget, tolerant=True)
    view.notes.append(text("read by qpdf's tolerant reader (repaired: {why})", why=why))
    for sig in found.signatures:
        # Coverage without revision boundaries (pdf.py's _coverage): a byte range that
        # ends at a %%EOF line signs a whole revision, one that ends elsewhere is partial.
        view.signatures.append(SigEntry(
            name=sig.name, sig_type=sig.sig_type, sub_filter=sig.sub_filter,
            byte_range=sig.byte_range, contents=sig.contents, contents_span=None, m=sig.m,
            pyhanko_coverage="ENTIRE_REVISION" if sig.ends_revision else None,
            pyhanko_revision=sig.revision))
    return view


def unreferenced_objects(view: DocView, start: int) -> tuple[list[str], list[str]]:
    """What lies after ``start`` that no cross-reference section accounts for:
    (findings, unread).

    Walks the bytes after a signed revision object by object. Every ``N G obj`` must
    be listed, at that offset, by a cross-reference section that is itself after
    ``start``; anything that is neither an object, a cross-reference section nor a
    trailer is reported too. ``findings`` are modifications; ``unread`` says where the
    walk could not go on (never called a modification: the caller reports the
    changes as not analysed, unless something else found one).
    """
    findings: list[str] = []
    pdf = view.scanned
    if pdf is None:
        # pyHanko does not account for unreferenced objects, and the strict reader could
        # not read this file: fail closed rather than skip the check.
        return findings, [text("the strict reader could not read this file, so objects "
                               "added after signing cannot be accounted for ({why})",
                               why=view.fallback_reason or "")]
    data = pdf.data
    referenced: set[tuple[int, int, int]] = set()
    for rev in pdf.revisions:
        if rev.xref_offset >= start:
            referenced.update((num, e[2], e[1]) for num, e in rev.entries.items() if e[0] == 1)
            if rev.is_stream:
                referenced.add((-1, -1, rev.xref_offset))
            if rev.hidden is not None:
                referenced.add((-1, -1, rev.hidden.xref_offset))
    lex = pdf.lexer
    i = lex.skip(start)
    header = _HEADER
    tail = STARTXREF
    while i < len(data):
        pdf.budget.check()
        m = header.match(data, i)
        try:
            if m:
                num, gen = int(m.group(1)), int(m.group(2))
                if (num, gen, i) not in referenced and (-1, -1, i) not in referenced:
                    findings.append(text(
                        "object {num} {gen} at offset {offset} was added after signing "
                        "without a cross-reference entry (viewers that repair files "
                        "would show it)", num=num, gen=gen, offset=i))
                j = lex.skip(_end_of_object(pdf, i))
                if not data.startswith(b"endobj", j):
                    return findings, [text("object {num} {gen} at offset {offset} has no "
                                           "endobj", num=num, gen=gen, offset=i)]
                i = lex.skip(j + 6)
            elif data.startswith(b"xref", i):
                t = data.find(b"trailer", i)
                if t < 0:
                    return findings, [text("cross-reference table at {offset} has no "
                                           "trailer", offset=i)]
                _, i = lex.value(t + 7)
                i = lex.skip(i)
            elif (mt := tail.match(data, i)) is not None:
                i = lex.skip(mt.end())
            else:
                findings.append(text("{count} bytes at offset {offset} after signing are "
                                     "not PDF objects", count=len(data) - i, offset=i))
                return findings, []
        except PdfLimitError:
            # A limit is "could not read", never "modified": the caller reports the
            # document as not verified (INDETERMINATE), not this signature as failed.
            raise
        except (PdfSyntaxError, ValueError, IndexError, TypeError) as exc:
            return findings, [text("unreadable update after signing at offset {offset}: "
                                   "{error}", offset=i, error=str(exc))]
    return findings, []


def _end_of_object(pdf: ScannedPdf, offset: int) -> int:
    """Offset just past an indirect object's value (or its ``endstream``)."""
    data = pdf.data
    m = _HEADER.match(data, offset)
    assert m is not None
    value, i = pdf.lexer.value(m.end())
    i = pdf.lexer.skip(i)
    if isinstance(value, PdfDict) and data.startswith(b"stream", i):
        length = value.get("Length")
        if isinstance(length, Ref):
            length = pdf.get(length)
        i += 6
        i += 2 if data.startswith(b"\r\n", i) else 1
        if not isinstance(length, int):
            raise PdfSyntaxError(f"stream at {offset}: bad /Length")
        i = pdf.lexer.skip(i + length)
        if not data.startswith(b"endstream", i):
            raise PdfSyntaxError(f"stream at {offset}: endstream not where /Length says")
        i += 9
    return i


_HEADER = re.compile(rb"(\d{1,20})\s++(\d{1,20})\s++obj\b")
