"""A repairing reader for the files neither strict reader reads: qpdf, through pikepdf.

Example::

    >>> from pathlib import Path
    >>> from signsvc.verify._budget import Budget
    >>> from signsvc.verify._tolerant import read
    >>> data = Path("tests/verify/fuzz_seeds/regression-damaged-update.pdf").read_bytes()
    >>> found = read(data, Budget(10.0))   # raises RepairError, PdfLimitError
    >>> [(s.name, s.ends_revision, s.revision) for s in found.signatures]
    [('Signature1', True, 2)]

Why a second reader at all: a file whose cross-reference offsets are wrong (a producer's
bug, a careless edit, or an attack that wants viewers to repair it) is shown by every
viewer, which rebuilds the table by scanning the objects; refusing it as unreadable
would leave an intact signature unverified. Why qpdf's and not one of our own: repair is
guesswork over hostile bytes, and qpdf's is fuzzed continuously (OSS-Fuzz); a second
hand-written parser would be a second attack surface (issue 13).

What it reads is only what integrity needs: the filled signature fields (name,
``/ByteRange``, ``/Contents`` bytes, ``/SubFilter``, ``/Type``, ``/M``) and the DSS.
What changed after signing cannot be judged on a repaired reading: which object a
repairing viewer shows is not what the cross-reference sections say, so the caller
marks every signature of such a file as not analysed (see
:func:`signsvc.verify._changes.modifications`), never as modified.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from signsvc.verify._budget import Budget
from signsvc.verify._pdffilters import MAX_STREAM, PdfLimitError, PdfSyntaxError, decode
from signsvc.verify._pdfscan import MAX_DEPTH, MAX_FIELD_NAME, MAX_FIELDS, _text

__all__ = ["MAX_OBJ_TOKENS", "MAX_SIZE", "RepairError", "Repaired", "RepairedSignature",
           "read"]

MAX_SIZE = 128 * 1024 * 1024
"""Largest file handed to qpdf. Its repair is one call into C, which the budget's
watcher cannot stop midway (:meth:`Budget.foreign` raises between two bytecodes): the
size and the object count below bound its time instead (about 20 ns a byte)."""

MAX_OBJ_TOKENS = 500_000
"""Most occurrences of ``obj`` (object headers and ``endobj``) in a file handed to qpdf:
repair builds a table entry for every object header it finds (three million tiny
objects took it 6 s and 500 MB; a 5,000-page dossier has about 15,000 objects)."""


class RepairError(Exception):
    """qpdf could not read the file either, or found nothing to verify in it."""


@dataclass(frozen=True)
class RepairedSignature:
    """One filled signature field as qpdf's repaired reading has it."""

    name: str
    """The field's fully qualified name (ISO 32000-1 §12.7.3.2)."""
    sig_type: str | None
    """``/Type`` of the signature dictionary: Sig, DocTimeStamp or None."""
    sub_filter: str | None
    byte_range: Any
    """``/ByteRange``: a list of ints when it is an array of integers, else the value
    converted to Python (checked by the caller)."""
    contents: Any
    """``/Contents``: the string's bytes, else the value converted to Python."""
    m: str | None
    """``/M`` as written."""
    ends_revision: bool
    """The byte range ends at a ``%%EOF`` line before the end of the file: where one
    revision ends (ISO 32000-1 §7.5.6), as far as a damaged file tells."""
    revision: int | None
    """The ``%%EOF`` markers up to the end of the byte range (the revision it signs,
    counted the only way a damaged file allows), None unless :attr:`ends_revision`."""


@dataclass(frozen=True)
class Repaired:
    """What qpdf's repairing reader found in a file."""

    signatures: list[RepairedSignature]
    revisions: int
    """``%%EOF`` markers in the file, at least 1 (the cross-reference chain that would
    count revisions is what is damaged)."""
    dss_certs: list[bytes] = field(default_factory=list)
    dss_crls: list[bytes] = field(default_factory=list)
    dss_ocsps: list[bytes] = field(default_factory=list)


def read(data: bytes, budget: Budget) -> Repaired:
    """The signature fields and DSS of ``data`` through qpdf's repairing reader.

    Raises:
        RepairError: qpdf cannot open the file, it is encrypted (decryption is the
            strict readers'), or it has no filled signature field.
        PdfLimitError: the file is over :data:`MAX_SIZE` or :data:`MAX_OBJ_TOKENS`,
            or its field tree or DSS over the strict reader's limits.
        TimeLimitError, MemoryLimitError: past ``budget``.
    """
    if len(data) > MAX_SIZE:
        raise PdfLimitError(f"a damaged file over {MAX_SIZE >> 20} MiB is not repaired "
                            "(size limit)")
    if data.count(b"obj") > MAX_OBJ_TOKENS:
        raise PdfLimitError(f"a damaged file with more than {MAX_OBJ_TOKENS // 2:,} objects "
                            "is not repaired (object limit)")
    budget.stage = "reading the damaged document with qpdf's repairing reader"
    with budget.foreign():
        return _read_guarded(data, budget)


def _read_guarded(data: bytes, budget: Budget) -> Repaired:
    import pikepdf

    _limit_qpdf()
    try:
        # Numbers as Python ints (pikepdf 12 makes explicit objects the default).
        pdf = pikepdf.open(io.BytesIO(data), attempt_recovery=True, suppress_warnings=True,
                           conversion_mode="implicit")
    except pikepdf.PasswordError as exc:
        raise RepairError("encrypted, and the password is not known") from exc
    except MemoryError:
        raise
    except Exception as exc:  # PdfError and whatever else qpdf's C++ turns into
        raise RepairError(f"qpdf: {exc}") from exc
    try:
        if pdf.is_encrypted:
            # The strict readers decrypt (and say why they cannot): a repaired reading
            # of an encrypted file would add guesswork to guesswork.
            raise RepairError("encrypted")
        root = pdf.Root
        ends = _eof_ends(data)
        found = Repaired([], max(1, len(ends)))
        for name, sig in _signature_fields(root, budget):
            found.signatures.append(_signature(name, sig, data, ends))
        if not found.signatures:
            raise RepairError("qpdf's repaired reading has no filled signature field")
        _dss(root, found, budget)
    except (RepairError, PdfLimitError, MemoryError):
        raise
    except Exception as exc:  # pikepdf's errors, and wrong types met while walking
        raise RepairError(f"qpdf: {type(exc).__name__}: {exc}") from exc
    finally:
        pdf.close()
    return found


def _limit_qpdf() -> None:
    """Lower qpdf's limits to the strict reader's (process-wide; a limit the
    application set lower stays, and qpdf's default for these, 0, is no limit at all)."""
    import logging

    from pikepdf import settings

    if not hasattr(settings, "set_qpdf_limits"):  # an older pikepdf: fail closed
        raise RepairError("this pikepdf cannot limit qpdf's memory, so damaged files are "
                          "not repaired")
    # qpdf's messages go to logging; without a handler of the application's, Python's
    # last resort would print them on stderr in the middle of a verify run.
    logger = logging.getLogger("pikepdf._core")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    current = settings.get_qpdf_limits()

    def lowered(name: str, ours: int) -> int:
        theirs = int(current[name])
        return ours if theirs == 0 or theirs > ours else theirs

    # What one decoding stage may allocate, as for the strict reader's filters: qpdf
    # decodes a cross-reference stream on its own, and an empty one with a PNG predictor
    # of /Columns 4000000000 made it allocate 4 GB in C (tests/verify/fuzz.py), where
    # the budget's watcher cannot reach. Warnings are kept per document, and a hostile
    # file can make one per object.
    settings.set_qpdf_limits(
        flate_max_memory=lowered("flate_max_memory", MAX_STREAM),
        png_max_memory=lowered("png_max_memory", MAX_STREAM),
        tiff_max_memory=lowered("tiff_max_memory", MAX_STREAM),
        run_length_max_memory=lowered("run_length_max_memory", MAX_STREAM),
        dct_max_memory=lowered("dct_max_memory", MAX_STREAM),
        doc_max_warnings=lowered("doc_max_warnings", 10_000),
    )


_EOF_LINE = re.compile(rb"%%EOF(?:\r\n|\r|\n)?")


def _eof_ends(data: bytes) -> list[int]:
    """Where each ``%%EOF`` line ends, in file order (one linear pass)."""
    return [m.end() for m in _EOF_LINE.finditer(data)]


def _signature(name: str, sig: Any, data: bytes, ends: list[int]) -> RepairedSignature:
    import pikepdf

    for key in ("/ByteRange", "/Contents"):
        if sig.get(key) is None:
            # Absent from a repaired reading may be dropped by the repair (qpdf leaves
            # out a value it cannot parse, such as a hex string with a stray byte): that
            # is "could not read", not a malformed signature.
            raise RepairError(f"signature field {name}: no {key} in qpdf's repaired reading")
    br = _plain(sig.get("/ByteRange"), 0)
    if isinstance(br, list) and all(type(x) is int for x in br) and len(br) == 4:
        end = br[2] + br[3]
        ends_revision = end < len(data) and end in set(ends)
        revision = sum(1 for e in ends if e <= end) if ends_revision else None
    else:
        ends_revision, revision = False, None
    contents = sig.get("/Contents")
    m = sig.get("/M")
    return RepairedSignature(
        name=name,
        sig_type=_name(sig.get("/Type")),
        sub_filter=_name(sig.get("/SubFilter")),
        byte_range=br,
        contents=bytes(contents) if isinstance(contents, pikepdf.String)
        else _plain(contents, 0),
        m=bytes(m).decode("latin-1") if isinstance(m, pikepdf.String) else None,
        ends_revision=ends_revision,
        revision=revision,
    )


def _signature_fields(root: Any, budget: Budget) -> Iterator[tuple[str, Any]]:
    """Every filled signature field under ``/AcroForm /Fields``, by name, as the strict
    reader walks them (a node whose kids carry no ``/T`` is a field with its widgets),
    under the same limits."""
    import pikepdf

    form = root.get("/AcroForm")
    fields = form.get("/Fields") if isinstance(form, pikepdf.Dictionary) else None
    if not isinstance(fields, pikepdf.Array):
        return
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Any, str, Any, int]] = [(kid, "", None, 0) for kid in reversed(fields)]
    walked = 0
    while stack:
        node, prefix, inherited_ft, depth = stack.pop()
        walked += 1
        if walked > MAX_FIELDS:
            raise PdfLimitError(f"more than {MAX_FIELDS} form fields")
        if depth > MAX_DEPTH:
            raise PdfLimitError("form field tree nested too deep")
        if not walked % 256:
            budget.check()
        if not isinstance(node, pikepdf.Dictionary):
            continue
        if node.is_indirect:
            if node.objgen in seen:
                raise RepairError("the form field tree has a cycle")
            seen.add(node.objgen)
        part = node.get("/T")
        name = prefix
        if isinstance(part, pikepdf.String):
            text = _text(bytes(part))
            name = f"{prefix}.{text}" if prefix else text
            if len(name) > MAX_FIELD_NAME:
                raise PdfLimitError(f"a field name longer than {MAX_FIELD_NAME} characters")
        ft = node.get("/FT", inherited_ft)
        kids = node.get("/Kids")
        if isinstance(kids, pikepdf.Array) and any(
                isinstance(k, pikepdf.Dictionary) and "/T" in k for k in kids):
            stack.extend((kid, name, ft, depth + 1) for kid in reversed(kids))
        elif _name(ft) == "Sig" and "/V" in node:
            sig = node.get("/V")
            if not isinstance(sig, pikepdf.Dictionary):
                # null is also what qpdf makes of a reference to a missing object: the
                # strict readers call such a file unreadable, and so does this one.
                raise RepairError(f"signature field {name}: /V is not a dictionary")
            yield name, sig


def _dss(root: Any, found: Repaired, budget: Budget) -> None:
    """The DSS streams (ETSI EN 319 142-1 §5.4.2), decoded by the strict reader's
    filters under the document's size budget (qpdf's decoder has no cap)."""
    import pikepdf

    dss = root.get("/DSS")
    if not isinstance(dss, pikepdf.Dictionary):
        return
    for key, out in (("/Certs", found.dss_certs), ("/CRLs", found.dss_crls),
                     ("/OCSPs", found.dss_ocsps)):
        items = dss.get(key)
        if not isinstance(items, pikepdf.Array):
            continue
        if len(items) > MAX_FIELDS:
            raise PdfLimitError(f"more than {MAX_FIELDS} entries in /DSS {key}")
        for item in items:
            if not isinstance(item, pikepdf.Stream):
                continue
            try:
                decoded = decode(item.read_raw_bytes(), _plain(item.get("/Filter"), 0),
                                 _plain(item.get("/DecodeParms"), 0),
                                 limit=budget.decoded_cap(MAX_STREAM), check=budget.check)
            except PdfLimitError:
                raise
            except PdfSyntaxError:
                continue  # one unreadable item: the strict reader skips what is no stream
            budget.spend_decoded(len(decoded))
            out.append(decoded)


def _name(value: Any) -> str | None:
    import pikepdf

    return str(value)[1:] if isinstance(value, pikepdf.Name) else None


def _plain(value: Any, depth: int) -> Any:
    """A pikepdf value as the strict reader's: names as str without the slash, arrays
    as lists, dictionaries as dicts, strings as bytes; None for null."""
    import pikepdf

    if depth > MAX_DEPTH:
        raise PdfLimitError("nested deeper than the reader's limit")
    if isinstance(value, pikepdf.Name):
        return str(value)[1:]
    if isinstance(value, pikepdf.String):
        return bytes(value)
    if isinstance(value, pikepdf.Array):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, pikepdf.Dictionary):
        return {str(k)[1:]: _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, pikepdf.Object):
        return None  # null, an operator, a stream in a value
    return value  # int, bool, Decimal (pikepdf converts those)
