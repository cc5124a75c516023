"""Verify signed PDFs: integrity, coverage, modifications, chains, ETSI verdicts.

Example::

    >>> from signsvc import TrustStore, verify_pdf
    >>> trust = TrustStore.from_paths(["certs_test/gov-root-g2.crt.pem"])  # doctest: +SKIP
    >>> result = verify_pdf("signed.pdf", trust=trust)  # doctest: +SKIP
    >>> result.indication.value  # doctest: +SKIP
    'TOTAL-PASSED'
    >>> [(s.field, s.modification.level.value) for s in result.signatures]  # doctest: +SKIP
    [('Signature1', 'none')]

How a signature is judged (ETSI EN 319 102-1 §5.3 basic validation, §5.5 with time):

1. ``/ByteRange`` is four non-negative integers starting at 0, within the file, and the
   gap between its two parts is exactly this signature's ``/Contents`` hex string —
   otherwise TOTAL-FAILED/FORMAT_FAILURE (universal signature forgery and signature
   wrapping, Mladenov et al., CCS 2019).
2. The signature value, as the SubFilter defines it (``_read_signature``):
   ``adbe.pkcs7.detached`` / ``ETSI.CAdES.detached`` sign the ``/ByteRange`` bytes
   (an empty eContent is read as detached, as Adobe Acrobat and Foxit do, with a
   note; any other eContent is FORMAT_FAILURE, as pyHanko rules); ``adbe.pkcs7.sha1``
   encapsulates their SHA-1 (the document digest the policy judges is SHA-1);
   ``adbe.x509.rsa_sha1`` is a bare PKCS#1 signature with the chain in ``/Cert``
   (ISO 32000-1 §12.8.3.2). With signed attributes the messageDigest must match the
   digest of the signed content, and the signature is over the attributes; without
   them (RFC 5652 §5.4, noted in ``notes``) the signature is over the content itself.
   Verdicts: a digest that does not match is HASH_FAILURE (without signed attributes
   an RSA PKCS#1 v1.5 signature still tells it, since it gives back the digest it
   signed; an ECDSA, PSS or EdDSA one cannot, and a changed document is then a
   SIG_CRYPTO_FAILURE, like a wrong key); a signature that does not verify is
   SIG_CRYPTO_FAILURE; a container that cannot be parsed, an unsupported SubFilter
   or digest, eContent in a detached signature, or a time-stamp token without signed
   attributes is FORMAT_FAILURE; a signer key cryptography cannot load is
   INDETERMINATE/CERTIFICATE_CHAIN_GENERAL_FAILURE (not checked, not failed); Ed448
   with a digest other than SHAKE256 (RFC 8419 §3) is
   INDETERMINATE/CRYPTO_CONSTRAINTS_FAILURE, as pyHanko rules; the ESS
   signing-certificate attribute naming another certificate is
   INDETERMINATE/NO_SIGNING_CERTIFICATE_FOUND.
3. Coverage: the whole file, or a whole earlier revision whose later updates the
   difference analysis classifies (:func:`signsvc.verify._changes.modifications`:
   :mod:`signsvc.verify._revdiff` on the strict reader, pyHanko's for a file only its
   reader reads) and in which every appended object is referenced by a
   cross-reference section. A
   disallowed modification makes the signature TOTAL-FAILED/FORMAT_FAILURE: the
   signed bytes verify (so not HASH_FAILURE, which ETSI EN 319 102-1 keeps for a
   digest that does not match), but the document a reader is shown is not the one
   signed and its later revisions break what ISO 32000-1 §12.8 lets them do after a
   signature (incremental saving and shadow attacks; Mainka et al., NDSS 2021).
   ``modification.level`` is ``disallowed`` and ``modification.details`` says what
   changed. Updates that cannot be analysed (an encrypted document whose password is
   not known, an update no strict reader reads, a file only qpdf's repairing reader
   reads) are ``unknown``: INDETERMINATE/SIGNED_DATA_NOT_FOUND, never "modified"; a
   field lock granting more than an earlier signature left is
   INDETERMINATE/SIG_CONSTRAINTS_FAILURE.
4. The signature time-stamp, when present, must verify and be over this signature;
   its time is then the time the signer's chain is validated at (proof of existence),
   otherwise ``at`` (default: now).
5. The chain from :func:`signsvc.validate_chain`, with the certificates and
   revocation data in the signature and the DSS, plus fetched ones with ``online``.

The document's verdict is the worst of its signatures; a document without any
signature is INDETERMINATE. A verdict is a result; only bad arguments raise.

Every document gets a verdict in bounded time and memory, in this call, watchdog or
not (:mod:`signsvc.verify._budget`): past ``time_limit`` (default 10 s) or a size limit
(nesting, objects, decoded streams, strings, memory), the document is INDETERMINATE
with ``error`` naming the limit (``error_type`` "TimeoutError" for the time and
"MemoryError" for memory, as the batch's watchdog reports them; "BadInputError" for a
size limit of the file), and no sub-indication: no validation of a signature reached a
conclusion ETSI EN 319 102-1 Table 5 could name. Never TOTAL-FAILED: a file that could
not be read to the end was not shown to be modified.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.x509 import ocsp

from signsvc._i18n import joined, text
from signsvc.errors import ValidationSetupError
from signsvc.pki._x509 import DEFAULT_CACHE, ValidationCache
from signsvc.pki.algorithms import ValidationPolicy, resolve_policy
from signsvc.pki.chain import SIGNING_KEY_USAGE, ChainResult, validate_chain
from signsvc.pki.fetch import RevocationFetcher
from signsvc.pki.indications import Indication, SubIndication
from signsvc.pki.revocation import RevocationMode
from signsvc.pki.trust import TrustStore
from signsvc.verify._budget import (
    DEFAULT_TIME_LIMIT,
    Budget,
    DocumentLimitError,
    MemoryLimitError,
)
from signsvc.verify._changes import modifications
from signsvc.verify._cmscheck import (
    CmsCheck,
    CmsFormatError,
    check_signed_data,
    digest,
    load_signed_data,
    public_key,
    tst_info,
)
from signsvc.verify._pdfdoc import (
    DocView,
    SigEntry,
    UnreadablePdfError,
    read_document,
    unreferenced_objects,
)
from signsvc.verify._pdffilters import PdfLimitError, PdfSyntaxError
from signsvc.verify._x509rsa import check_x509_rsa_sha1, signature_certificates
from signsvc.verify.results import (
    CertificateSummary,
    Coverage,
    DocumentResult,
    Integrity,
    Ltv,
    Modification,
    ModificationLevel,
    SignatureKind,
    SignatureResult,
    TimestampResult,
    worst,
)

__all__ = ["verify_pdf"]
TIME_STAMPING = "1.3.6.1.5.5.7.3.8"
SIGNATURE_SUBFILTERS = frozenset({"adbe.pkcs7.detached", "ETSI.CAdES.detached",
                                  "adbe.pkcs7.sha1", "adbe.x509.rsa_sha1"})
TIMESTAMP_SUBFILTERS = frozenset({"ETSI.RFC3161"})
_HEX_DIGITS = b"0123456789ABCDEFabcdef"
_CACHE_LIMIT = 4096


class _Loader:
    """Parsed CRLs by DER, kept across documents (a batch from one organisation
    repeats the same few). Certificates come from the one cache by DER,
    :meth:`ValidationCache.certificate`."""

    def __init__(self) -> None:
        self.crls: dict[bytes, x509.CertificateRevocationList | None] = {}

    def crl(self, der: bytes) -> x509.CertificateRevocationList | None:
        if der not in self.crls:
            if len(self.crls) > _CACHE_LIMIT:
                self.crls.clear()
            try:
                self.crls[der] = x509.load_der_x509_crl(der)
            except ValueError:
                self.crls[der] = None
        return self.crls[der]


_LOADER = _Loader()


@dataclass
class _Ctx:
    trust: TrustStore
    now: datetime
    policy: ValidationPolicy
    revocation: RevocationMode
    fetcher: RevocationFetcher | None
    cache: ValidationCache
    dss_certs: list[x509.Certificate]
    crls: list[x509.CertificateRevocationList]
    ocsps: list[ocsp.OCSPResponse]


def verify_pdf(
    path: str | os.PathLike[str],
    *,
    trust: TrustStore,
    at: datetime | None = None,
    policy: str | ValidationPolicy = "default",
    revocation: RevocationMode = "soft-fail",
    online: bool = False,
    cache: ValidationCache | None = None,
    fetcher: RevocationFetcher | None = None,
    time_limit: float | None = DEFAULT_TIME_LIMIT,
    pdf_password: str | None = None,
) -> DocumentResult:
    """Verify every signature of one PDF.

    Args:
        path: the PDF (only read).
        trust: the trust anchors (:class:`~signsvc.TrustStore`).
        at: the time "now" stands for (aware datetime); default: the current time.
        policy: ``"default"``, ``"historical"`` (SHA-1 era documents) or a policy.
        revocation: ``hard-fail`` / ``soft-fail`` / ``off`` for the signers' chains.
        online: fetch CRLs and OCSP responses named in the certificates.
        cache: parsed certificates and checked signatures kept across calls.
        fetcher: a configured :class:`~signsvc.pki.fetch.RevocationFetcher`
            (overrides ``online``).
        time_limit: seconds this document may take (None: no limit); past it the
            result is INDETERMINATE with ``error_type`` "TimeoutError". Time spent
            fetching revocation data counts (a fetch under way runs to its own timeout).
        pdf_password: the user or owner password of an encrypted PDF (default: the
            empty user password); without one that opens it, integrity is still checked
            but changes after signing are not analysed.

    Returns:
        The verdict; bad input (not a PDF, unreadable) is a
        :class:`~signsvc.verify.results.DocumentResult` with ``error`` set.

    Raises:
        ValidationSetupError: an argument is unusable.
    """
    started = time.perf_counter()
    if not isinstance(trust, TrustStore):
        raise ValidationSetupError("expected a signsvc.TrustStore", argument="trust")
    if at is not None and (not isinstance(at, datetime) or at.utcoffset() is None):
        raise ValidationSetupError("expected an aware datetime", argument="at")
    if revocation not in ("hard-fail", "soft-fail", "off"):
        raise ValidationSetupError(f"unknown mode {revocation!r}", argument="revocation")
    if pdf_password is not None and not isinstance(pdf_password, str):
        raise ValidationSetupError("expected a str or None", argument="pdf_password")
    if time_limit is not None and (isinstance(time_limit, bool)
                                   or not isinstance(time_limit, int | float)
                                   or not time_limit > 0):
        raise ValidationSetupError("must be a positive number of seconds or None",
                                   argument="time_limit")
    resolved = resolve_policy(policy)
    now = (at or datetime.now(UTC)).astimezone(UTC)
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _failed_document(path, now, started, f"cannot read {path}: "
                                f"{exc.strerror or exc}", "OSError")
    hashes = _Hashes(data)
    budget = Budget(time_limit)
    failure: tuple[str, str]
    try:
        return _verify_document(path, data, hashes, budget, now, started, trust=trust,
                                policy=resolved, revocation=revocation, online=online,
                                cache=cache, fetcher=fetcher, pdf_password=pdf_password)
    except DocumentLimitError as exc:
        # Named as the batch's watchdog names the same outcomes: TimeoutError, and
        # MemoryError (after which a batch worker hands over to a fresh process).
        kind = "MemoryError" if isinstance(exc, MemoryLimitError) else "TimeoutError"
        failure = (budget.exceeded_message(exc), kind)
    except PdfLimitError as exc:
        failure = (f"refused: {exc}", "BadInputError")
    except PdfSyntaxError as exc:
        failure = (f"not a readable PDF ({exc})", "BadInputError")
    except (MemoryError, ValidationSetupError):
        # A MemoryError is the batch worker's to handle (a fresh process for the next
        # file); a setup error is the caller's.
        raise
    except Exception as exc:
        # A defect, not a verdict (every failure of the document has its result above):
        # still a result, so that a caller without a watchdog never sees hostile bytes
        # as an exception. INDETERMINATE: nothing was shown about the signatures.
        failure = (f"internal error while verifying: {type(exc).__name__}: {exc}",
                   type(exc).__name__)
    # Built after the except block, which released the traceback and with it what the
    # stopped code had built (freeing millions of objects takes a while: it counts).
    return _failed_document(path, now, started, failure[0], failure[1],
                            sha256=hashes.file_sha256(), size=len(data))


def _verify_document(
    path: Path, data: bytes, hashes: _Hashes, budget: Budget, now: datetime,
    started: float, *, trust: TrustStore, policy: ValidationPolicy,
    revocation: RevocationMode, online: bool, cache: ValidationCache | None,
    fetcher: RevocationFetcher | None, pdf_password: str | None = None,
) -> DocumentResult:
    try:
        view = read_document(data, budget, password=pdf_password)
    except UnreadablePdfError as exc:
        # Its message as made (a Text stays translatable where it is shown).
        reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        return _failed_document(path, now, started, reason, "BadInputError",
                                sha256=hashes.file_sha256(), size=len(data))
    if fetcher is None and online:
        fetcher = RevocationFetcher(online=True)
    budget.stage = "reading the validation data (DSS)"
    ctx = _Ctx(
        trust=trust, now=now, policy=policy, revocation=revocation, fetcher=fetcher,
        cache=cache if cache is not None else DEFAULT_CACHE,
        dss_certs=_certs(view.dss_certs),
        crls=[c for c in (_LOADER.crl(d) for d in view.dss_crls) if c is not None],
        ocsps=_ocsps(view.dss_ocsps),
    )
    results = []
    for entry in _in_file_order(view):
        budget.stage = f"verifying the signature {entry.name!r}"
        budget.check()
        results.append(_verify_signature(view, entry, ctx, hashes))
    sha = hashes.file_sha256()
    if not results:
        ends = view.revision_ends
        if ends and data[ends[-1]:].strip(b" \t\r\n\f\x00"):
            return _failed_document(
                path, now, started, text("{count} bytes follow the end of the last "
                                         "revision: the file is truncated or damaged",
                                         count=len(data) - ends[-1]), "BadInputError",
                sha256=sha, size=len(data))
        return DocumentResult(path, Indication.INDETERMINATE, None,
                              text("the document has no signature"), (), sha256=sha,
                              size=len(data),
                              revisions=view.revisions, validation_time=now,
                              seconds=time.perf_counter() - started)
    verdict = worst([r.indication for r in results])
    if verdict is Indication.TOTAL_PASSED:
        n = len(results)
        reason = (text("{count} signatures, all valid", count=n) if n > 1
                  else text("1 signature, all valid"))
        sub = None
    else:
        first = next(r for r in results if r.indication is verdict)
        reason = text("{field}: {reason}", field=first.field, reason=first.reason)
        sub = first.sub_indication
    return DocumentResult(path, verdict, sub, reason, tuple(results), sha256=sha,
                          size=len(data), revisions=view.revisions, validation_time=now,
                          seconds=time.perf_counter() - started)


def _failed_document(
    path: Path, now: datetime, started: float, reason: str, error_type: str,
    *, sha256: str | None = None, size: int | None = None,
) -> DocumentResult:
    return DocumentResult(path, Indication.INDETERMINATE, None, reason, (), sha256=sha256,
                          size=size, validation_time=now, error=reason,
                          error_type=error_type, seconds=time.perf_counter() - started)


def _certs(ders: Iterable[bytes]) -> list[x509.Certificate]:
    out = []
    for der in ders:
        try:
            out.append(DEFAULT_CACHE.certificate(der))
        except ValueError:
            continue
    return out


def _ocsps(ders: Iterable[bytes]) -> list[ocsp.OCSPResponse]:
    out = []
    for der in ders:
        try:
            out.append(ocsp.load_der_ocsp_response(der))
        except ValueError:
            continue
    return out


def _end(entry: SigEntry) -> int:
    br = entry.byte_range
    if isinstance(br, list) and len(br) == 4 and all(type(x) is int for x in br):
        return int(br[2]) + int(br[3])
    return 1 << 62


def _in_file_order(view: DocView) -> list[SigEntry]:
    return sorted(view.signatures, key=_end)


def _pdf_date(text: str | None) -> datetime | None:
    """ISO 32000-1 §7.9.4 dates: ``D:YYYYMMDDHHmmSSOHH'mm'``."""
    if not text:
        return None
    m = re.match(r"D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?([Z+-])?(\d{2})?'?(\d{2})?",
                 text)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) if g else dflt for g, dflt in
                          zip(m.groups()[:6], (0, 1, 1, 0, 0, 0), strict=True))
    tz = UTC
    if m.group(7) in ("+", "-"):
        offset = timedelta(hours=int(m.group(8) or 0), minutes=int(m.group(9) or 0))
        tz = timezone(offset if m.group(7) == "+" else -offset)
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=tz).astimezone(UTC)
    except ValueError:
        return None


class _Hashes:
    """The file's SHA-256 and the signatures' byte-range digests, sharing one pass.

    The whole-file hash (for reports and resume) and a whole-file signature's range
    digest differ only by the ``/Contents`` gap: hash the first part once, copy the
    state, and finish both. On a 2 MB document that halves the hashing.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._file: str | None = None

    def file_sha256(self) -> str:
        if self._file is None:
            self._file = hashlib.sha256(self.data).hexdigest()
        return self._file

    def range_digest(self, name: str, len1: int, start2: int, len2: int) -> bytes:
        view = memoryview(self.data)
        if name == "sha256" and self._file is None:
            whole = hashlib.sha256(view[:len1])
            part = whole.copy()
            whole.update(view[len1:])
            self._file = whole.hexdigest()
            part.update(view[start2 : start2 + len2])
            return part.digest()
        return digest(name, view[:len1], view[start2 : start2 + len2])


def _verify_signature(view: DocView, entry: SigEntry, ctx: _Ctx,
                      hashes: _Hashes) -> SignatureResult:
    is_ts = entry.sig_type == "DocTimeStamp" or entry.sub_filter in TIMESTAMP_SUBFILTERS
    kind = SignatureKind.DOCUMENT_TIMESTAMP if is_ts else SignatureKind.SIGNATURE

    def failed(sub: SubIndication, reason: str, **more: object) -> SignatureResult:
        return SignatureResult(entry.name, kind, sub.indication, sub, reason,
                               sub_filter=entry.sub_filter, **more)  # type: ignore[arg-type]

    data = view.data
    if entry.problem is not None:
        return failed(SubIndication.FORMAT_FAILURE, entry.problem)
    br = entry.byte_range
    if not (isinstance(br, list) and len(br) == 4
            and all(type(x) is int and x >= 0 for x in br)):
        return failed(SubIndication.FORMAT_FAILURE,
                      text("/ByteRange is missing or malformed ({value})", value=_short(br)))
    start1, len1, start2, len2 = br
    byte_range = tuple(br)
    if start1 != 0 or start2 < len1 or start2 + len2 > len(data):
        return failed(SubIndication.FORMAT_FAILURE,
                      text("/ByteRange {value} does not describe this file ({size} bytes)",
                           value=list(br), size=len(data)), byte_range=byte_range)
    if entry.sub_filter not in (TIMESTAMP_SUBFILTERS if is_ts else SIGNATURE_SUBFILTERS):
        return failed(SubIndication.FORMAT_FAILURE,
                      text("unsupported /SubFilter {name}", name=entry.sub_filter),
                      byte_range=byte_range)
    contents = entry.contents
    if not isinstance(contents, bytes) or not contents:
        return failed(SubIndication.FORMAT_FAILURE, text(
            "/Contents is missing, empty or not a string"), byte_range=byte_range)
    gap_ok = (
        data[len1 : len1 + 1] == b"<" and data[start2 - 1 : start2] == b">"
        and not data[len1 + 1 : start2 - 1].translate(None, _HEX_DIGITS)
        and (start2 - len1 - 2) == 2 * len(contents)
        and (entry.contents_span == (len1, start2) if entry.contents_span is not None
             else bytes.fromhex(data[len1 + 1 : start2 - 1].decode("ascii")) == contents)
    )

    def range_digest(name: str) -> bytes:
        return hashes.range_digest(name, len1, start2, len2)

    def signed_bytes() -> bytes:
        return data[:len1] + data[start2 : start2 + len2]

    if not gap_ok:
        # ISO 32000-1 §12.8.1: the excluded range is exactly the /Contents value.
        # Refused whatever the digest says; the digest is still reported (pyHanko
        # reports such a signature intact, its coverage unclear).
        try:
            wrapped, wrapped_ok = _read_signature(view, entry, contents, is_ts,
                                                  range_digest, signed_bytes)
            seen: Integrity | None = Integrity(
                wrapped_ok, wrapped.signature_ok, wrapped.signing_certificate_ok,
                wrapped.digest_algorithm, wrapped.signature_algorithm)
        except CmsFormatError:
            seen = None
        return failed(SubIndication.FORMAT_FAILURE,
                      text("the bytes left out of /ByteRange are not exactly this "
                           "signature's /Contents hex string (signature wrapping)"),
                      byte_range=byte_range, integrity=seen)

    try:
        check, digest_ok = _read_signature(view, entry, contents, is_ts, range_digest,
                                           signed_bytes)
    except CmsFormatError as exc:
        return failed(SubIndication.FORMAT_FAILURE,
                      text("unreadable signature: {error}", error=str(exc)),
                      byte_range=byte_range)
    integrity = Integrity(digest_ok, check.signature_ok, check.signing_certificate_ok,
                          check.digest_algorithm, check.signature_algorithm)
    coverage, revision = _coverage(view, entry, start2 + len2)
    view.budget.check()
    modification = _modification(view, entry, coverage, start2 + len2)
    view.budget.stage = f"validating the certificate chains of the signature {entry.name!r}"
    view.budget.check()
    signer = CertificateSummary.of(check.signer_cert) if check.signer_cert else None
    crls = ctx.crls + [c for c in (_LOADER.crl(d) for d in check.crls) if c is not None]
    ocsps = ctx.ocsps + _ocsps(check.ocsps)
    pool = check.certificates + ctx.dss_certs
    notes: list[str] = list(view.notes) + check.notes
    timestamp: TimestampResult | None = None
    poe = ctx.now
    if is_ts:
        timestamp = _timestamp_result(check, [], ctx, pool, crls, ocsps)
    elif check.timestamp_token is not None:
        timestamp = _signature_timestamp(check, ctx, pool, crls, ocsps)
        if timestamp.valid and timestamp.time is not None:
            poe = timestamp.time
    chain: ChainResult | None = None
    ltv: Ltv | None = None
    if check.signer_cert is not None:
        usage = {"extended_key_usage": {TIME_STAMPING}} if is_ts else {
            "key_usage": SIGNING_KEY_USAGE}
        chain = validate_chain(
            check.signer_cert, intermediates=pool, trust=ctx.trust, at=poe, crls=crls,
            ocsp_responses=ocsps, revocation=ctx.revocation, policy=ctx.policy,
            cache=ctx.cache, fetcher=ctx.fetcher, **usage,
        )
        if not crls and not ocsps:
            # Hard-fail validation cannot pass without any revocation data: every
            # certificate below the anchor needs some (RFC 5280 §6.3).
            ltv = Ltv(False, "no revocation data is embedded (PAdES B-LT adds it)")
        else:
            offline = validate_chain(
                check.signer_cert, intermediates=pool, trust=ctx.trust, at=poe, crls=crls,
                ocsp_responses=ocsps, revocation="hard-fail", policy=ctx.policy,
                cache=ctx.cache, **usage,
            )
            ltv = Ltv(offline.valid, "the embedded certificates and revocation data "
                      "suffice" if offline.valid else offline.reason)
    indication, sub, reason = _cms_verdict(check, _judge(
        check, integrity, coverage, modification, timestamp, chain, poe, ctx, is_ts))
    return SignatureResult(
        field=entry.name, kind=kind, indication=indication, sub_indication=sub,
        reason=reason, signer=signer,
        claimed_signing_time=check.signing_time or _pdf_date(entry.m),
        timestamp=timestamp, integrity=integrity, coverage=coverage, revision=revision,
        modification=modification, chain=chain, ltv=ltv, sub_filter=entry.sub_filter,
        byte_range=byte_range, notes=tuple(notes),
    )


def _read_signature(
    view: DocView, entry: SigEntry, contents: bytes, is_ts: bool,
    range_digest: Callable[[str], bytes], signed_bytes: Callable[[], bytes],
) -> tuple[CmsCheck, bool]:
    """The signature value of ``entry`` checked against the signed bytes, as the
    SubFilter defines it (ISO 32000-1 §12.8.3; ETSI EN 319 142-1 §5.1): the check and
    whether the digest of the signed bytes matches. Raises CmsFormatError."""
    if entry.sub_filter == "adbe.x509.rsa_sha1":
        check = check_x509_rsa_sha1(contents, signature_certificates(view, entry.name),
                                    range_digest, DEFAULT_CACHE.certificate)
        return check, check.digest_ok
    # Detached SubFilters sign the /ByteRange bytes; adbe.pkcs7.sha1 and time-stamp
    # tokens encapsulate what they sign (the SHA-1 of the bytes, the TSTInfo).
    detached = not is_ts and entry.sub_filter != "adbe.pkcs7.sha1"
    check = check_signed_data(load_signed_data(contents),
                              range_digest if detached else None, DEFAULT_CACHE.certificate,
                              content=signed_bytes)
    if check.content_type != ("tst_info" if is_ts else "data"):
        raise CmsFormatError(f"encapsulated content type {check.content_type}")
    digest_ok = check.digest_ok
    if is_ts:
        info = tst_info(check)
        if info.imprint != range_digest(info.imprint_algorithm):
            digest_ok = False
            check.problems.append("the time-stamp's message imprint does not match "
                                  "the signed bytes")
    elif not detached:
        # ISO 32000-1 §12.8.3.3.1: the eContent is the SHA-1 of the bytes, whatever
        # digest the SignerInfo names: the document digest the policy judges is SHA-1.
        if check.encap_content != range_digest("sha1"):
            digest_ok = False
            check.problems.append("the encapsulated SHA-1 does not match the signed "
                                  "bytes")
        if check.digest_algorithm != "sha1":
            check.notes.append(f"adbe.pkcs7.sha1: the document digest is SHA-1; the "
                               f"CMS digest is {check.digest_algorithm}")
            check.digest_algorithm = "sha1"
    return check, digest_ok


def _cms_verdict(
    check: CmsCheck, judged: tuple[Indication, SubIndication | None, str],
) -> tuple[Indication, SubIndication | None, str]:
    """What the container's cryptography could not decide, over :func:`_judge`.

    A signer key cryptography cannot load leaves the signature unchecked, not failed:
    INDETERMINATE/CERTIFICATE_CHAIN_GENERAL_FAILURE (the signer's certificate could
    not be processed), never SIG_CRYPTO_FAILURE. A combination RFC 8419 §3 forbids
    (Ed448 over SHA-512) is INDETERMINATE/CRYPTO_CONSTRAINTS_FAILURE, as pyHanko
    rules, unless the signature failed on its own.
    """
    indication, sub, _ = judged
    if check.key_problem is not None and sub is SubIndication.SIG_CRYPTO_FAILURE:
        general = SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
        return general.indication, general, check.key_problem
    if check.algorithm_problem is not None and indication is not Indication.TOTAL_FAILED:
        constraint = SubIndication.CRYPTO_CONSTRAINTS_FAILURE
        return constraint.indication, constraint, check.algorithm_problem
    return judged


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _coverage(view: DocView, entry: SigEntry, end: int) -> tuple[Coverage, int | None]:
    if end == len(view.data):
        return Coverage.ENTIRE_FILE, view.revisions
    if view.revision_ends is not None:
        if end in view.revision_ends:
            return Coverage.ENTIRE_REVISION, view.revision_ends.index(end) + 1
        return Coverage.PARTIAL, None
    if entry.pyhanko_coverage == "ENTIRE_REVISION":
        return Coverage.ENTIRE_REVISION, entry.pyhanko_revision
    return Coverage.PARTIAL, None


def _modification(view: DocView, entry: SigEntry, coverage: Coverage, end: int) -> Modification:
    if view.tolerant and coverage is not Coverage.PARTIAL:
        # Repaired by qpdf (_tolerant): what a viewer shows of the file, even a wholly
        # signed one, is a repair's guess, and no strict walk can follow it: UNKNOWN.
        return modifications(view, entry)
    if coverage is Coverage.ENTIRE_FILE:
        return Modification(ModificationLevel.NONE)
    if coverage is Coverage.PARTIAL:
        return Modification(ModificationLevel.DISALLOWED, (
            text("the signature covers neither the whole file nor a whole revision"),))
    found = modifications(view, entry)
    stray, unread = unreferenced_objects(view, end)
    if stray or found.level is ModificationLevel.DISALLOWED:
        first = found.details if found.level is ModificationLevel.DISALLOWED else ()
        return Modification(ModificationLevel.DISALLOWED, (*first, *stray, *(
            d for d in found.details if d not in first), *unread))
    if unread:
        # Part of the updates could not be read: never "modified" for that alone.
        return Modification(ModificationLevel.UNKNOWN, (*(text(
            "could not analyse changes: {why}", why=u) for u in unread), *found.details))
    return found


def _signature_timestamp(
    check: CmsCheck, ctx: _Ctx, pool: list[x509.Certificate],
    crls: list[x509.CertificateRevocationList], ocsps: list[ocsp.OCSPResponse],
) -> TimestampResult:
    """RFC 3161 token in the unsigned attributes (ETSI EN 319 122-1 §5.3)."""
    assert check.timestamp_token is not None
    try:
        token = check_signed_data(load_signed_data(check.timestamp_token), None,
                                  DEFAULT_CACHE.certificate)
        info = tst_info(token)
    except CmsFormatError as exc:
        return TimestampResult(None, False, None, f"unreadable time-stamp token: {exc}")
    problems = []
    if info.imprint != digest(info.imprint_algorithm, check.signature_value):
        problems.append("the time-stamp is not over this signature (message imprint)")
    return _timestamp_result(token, problems, ctx, pool, crls, ocsps, info.gen_time)


def _timestamp_result(
    token: CmsCheck, problems: list[str], ctx: _Ctx, pool: list[x509.Certificate],
    crls: list[x509.CertificateRevocationList], ocsps: list[ocsp.OCSPResponse],
    gen_time: datetime | None = None,
) -> TimestampResult:
    if gen_time is None:
        try:
            gen_time = tst_info(token).gen_time
        except CmsFormatError as exc:
            problems.append(str(exc))
    problems = problems + token.problems
    intact = not problems and token.intact
    chain = None
    tsa = token.signer_cert
    if tsa is not None:
        chain = validate_chain(
            tsa, intermediates=token.certificates + pool, trust=ctx.trust, at=ctx.now,
            crls=crls, ocsp_responses=ocsps, revocation=ctx.revocation, policy=ctx.policy,
            extended_key_usage={TIME_STAMPING}, cache=ctx.cache, fetcher=ctx.fetcher,
        )
        if not chain.valid:
            problems.append(f"the TSA's certificate does not validate: {chain.reason}")
    valid = not problems and token.intact
    return TimestampResult(
        time=gen_time, valid=valid, tsa=CertificateSummary.of(tsa) if tsa else None,
        reason="valid" if valid else "; ".join(problems) or "the token does not verify",
        chain=chain, intact=intact,
    )


def _judge(
    check: CmsCheck, integrity: Integrity, coverage: Coverage, modification: Modification,
    timestamp: TimestampResult | None, chain: ChainResult | None, poe: datetime, ctx: _Ctx,
    is_ts: bool,
) -> tuple[Indication, SubIndication | None, str]:
    def out(sub: SubIndication, reason: str) -> tuple[Indication, SubIndication, str]:
        return sub.indication, sub, reason

    problems = joined(check.problems, "; ")
    if check.signer_cert is None:
        return out(SubIndication.NO_SIGNING_CERTIFICATE_FOUND, problems)
    if not integrity.digest_ok:
        return out(SubIndication.HASH_FAILURE,
                   text("the signed bytes were changed: {problems}", problems=problems))
    if not integrity.signature_ok:
        return out(SubIndication.SIG_CRYPTO_FAILURE, problems)
    if coverage is Coverage.PARTIAL:
        return out(SubIndication.FORMAT_FAILURE, modification.details[0])
    if modification.level is ModificationLevel.DISALLOWED:
        # The first detail says it in words; the rest (pyHanko's object-level account,
        # stray objects) stays in modification.details for whoever investigates.
        return out(SubIndication.FORMAT_FAILURE,
                   text("the document was changed after signing: {what}",
                        what=modification.details[0]))
    if integrity.signing_certificate_ok is False:
        return out(SubIndication.NO_SIGNING_CERTIFICATE_FOUND, problems)
    if modification.level is ModificationLevel.UNKNOWN:
        return out(modification.sub_indication or SubIndication.SIGNED_DATA_NOT_FOUND,
                   modification.details[0])
    for verdict in (ctx.policy.hash_verdict(check.digest_algorithm, at=poe),
                    ctx.policy.key_verdict(public_key(check.signer_cert), at=poe)):
        if not verdict.accepted:
            return out(SubIndication.CRYPTO_CONSTRAINTS_FAILURE, verdict.note or "weak")
    if timestamp is not None and not timestamp.valid:
        what = "the document time-stamp" if is_ts else "the signature time-stamp"
        ts_chain = timestamp.chain
        if timestamp.intact and ts_chain is not None and not ts_chain.valid:
            # Only the TSA's chain is wrong: say why in the chain's own terms.
            return (ts_chain.indication, ts_chain.sub_indication,
                    f"{what}'s TSA certificate: {ts_chain.reason}")
        return out(SubIndication.SIG_CONSTRAINTS_FAILURE,
                   f"{what} does not verify: {timestamp.reason}")
    if (timestamp is not None and timestamp.valid and not is_ts
            and poe < check.signer_cert.not_valid_before_utc):
        return out(SubIndication.NOT_YET_VALID,
                   text("time-stamped before the signer's certificate was issued"))
    assert chain is not None
    if not chain.valid:
        who = text("the TSA's certificate") if is_ts else text("the signer's certificate")
        return chain.indication, chain.sub_indication, text("{who}: {reason}", who=who,
                                                            reason=chain.reason)
    if is_ts:
        return Indication.TOTAL_PASSED, None, text("document time-stamp valid")
    if timestamp is not None and timestamp.valid:
        return Indication.TOTAL_PASSED, None, text("valid; certificate chain checked at the "
                                                   "time-stamp")
    return Indication.TOTAL_PASSED, None, text("valid; certificate chain checked now")
