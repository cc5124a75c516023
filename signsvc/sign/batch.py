"""Sign many PDFs with one login: the token kept busy, the PDF work beside it.

The caller logs in once and hands over the key; :func:`sign_batch` never asks for a
PIN. Token operations are serialised (the module lock of :mod:`drivers`, or, with
worker processes, the parent process, the only one that talks to the token) while
other documents are read, prepared and written in parallel. Each document ends in a
:class:`~signsvc.sign.pdf.SignResult`; a failure is recorded and the batch goes on,
except after a token failure that every later document would repeat (token removed,
PIN refused or locked), where the rest are reported as not attempted. A pulled-out
token can instead be waited for (``token_timeout``): the documents it broke are
retried once in a fresh session after the same token is back
(:class:`~signsvc.sign.reconnect.ReconnectingKey`); the wait happens in the process that holds
the token, with no document in flight.

Example::

    >>> from signsvc import sign_batch
    >>> results = sign_batch(sorted(Path("in").glob("*.pdf")), Path("out"), key,
    ...                      jobs=2, resume=True)  # doctest: +SKIP
    >>> [r.status for r in results]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Unpack

from drivers import (
    KeySigner,
    LoginRequiredError,
    PinIncorrectError,
    PinLockedError,
    TokenError,
    TokenKey,
    TokenRemovedError,
)
from signsvc._files import sha256_hex
from signsvc._inputs import InputFile
from signsvc.appearance.profiles import AppearanceMaker
from signsvc.errors import BadInputError, OutputError, SignsvcError
from signsvc.sign._runners import DEFAULT_EXECUTOR, Job, Pending, SignExecutor, start
from signsvc.sign.journal import AuditJournal
from signsvc.sign.pdf import SignKeywords, SignOptions
from signsvc.sign.reconnect import ReconnectingKey, TokenEvent
from signsvc.sign.results import SignResult, SignStatus
from signsvc.tokens import PinSource

__all__ = ["DEFAULT_EXECUTOR", "Job", "SignExecutor", "plan_outputs", "sign_batch", "sign_iter"]

# After these, every further document would fail the same way (or worse: a PIN
# retried by a context-specific login would count down the token's tries).
_FATAL = (TokenRemovedError, PinLockedError, LoginRequiredError, PinIncorrectError)


def plan_outputs(
    inputs: Iterable[str | os.PathLike[str] | InputFile],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    suffix: str | None = None,
) -> Iterator[Job | SignResult]:
    """Map inputs to outputs: ``out_dir/RELATIVE`` or ``NAME<suffix>.pdf`` beside the
    input. RELATIVE is the input's name, or its path under the folder it was found in
    (:class:`~signsvc._inputs.InputFile`), so a folder's tree is mirrored.

    Yields a :class:`Job` per input, or a failed result when two inputs would write
    the same output (the second one fails; nothing is overwritten).
    """
    if (out_dir is None) == (suffix is None):
        raise BadInputError("give exactly one of an output directory or a suffix")
    if suffix is not None and not suffix:
        raise BadInputError("the suffix must not be empty (it would replace the input)")
    taken: dict[Path, Path] = {}
    for index, item in enumerate(inputs):
        if isinstance(item, InputFile):
            source, relative = item.path, item.relative
        else:
            source = Path(item)
            relative = Path(source.name)
        if out_dir is not None:
            target = Path(out_dir, relative)
        else:
            target = source.with_name(source.stem + str(suffix) + (source.suffix or ".pdf"))
        key = target.resolve()
        if key in taken:
            yield SignResult(input=source, output=None, status=SignStatus.FAILED,
                             error=f"{source}: same output {target} as {taken[key]}",
                             error_type="BadInputError")
            continue
        taken[key] = source
        yield Job(index, source, target)


def sign_batch(
    inputs: Iterable[str | os.PathLike[str] | InputFile],
    out_dir: str | os.PathLike[str] | None,
    signer: KeySigner,
    *,
    suffix: str | None = None,
    jobs: int = 1,
    executor: SignExecutor = DEFAULT_EXECUTOR,
    resume: bool = False,
    progress: Callable[[SignResult], None] | None = None,
    journal: AuditJournal | None = None,
    token_timeout: float = 0.0,
    pin: PinSource | None = None,
    keep_pin: bool = False,
    on_token_event: Callable[[TokenEvent], None] | None = None,
    **options: Unpack[SignKeywords],
) -> list[SignResult]:
    """Sign every input; see :func:`sign_iter` (this collects its results).

    ``options`` are the :class:`~signsvc.sign.pdf.SignOptions` fields (``level``,
    ``tsa_url``, ``reason``, ...), as :func:`~signsvc.sign.pdf.sign_pdf` takes them.
    """
    results = []
    for result in sign_iter(inputs, out_dir, signer, suffix=suffix, jobs=jobs,
                            executor=executor, resume=resume, journal=journal,
                            token_timeout=token_timeout, pin=pin, keep_pin=keep_pin,
                            on_token_event=on_token_event, **options):
        if progress is not None:
            progress(result)
        results.append(result)
    return results


def sign_iter(
    inputs: Iterable[str | os.PathLike[str] | InputFile],
    out_dir: str | os.PathLike[str] | None,
    signer: KeySigner,
    *,
    suffix: str | None = None,
    jobs: int = 1,
    executor: SignExecutor = DEFAULT_EXECUTOR,
    resume: bool = False,
    journal: AuditJournal | None = None,
    token_timeout: float = 0.0,
    pin: PinSource | None = None,
    keep_pin: bool = False,
    on_token_event: Callable[[TokenEvent], None] | None = None,
    **keywords: Unpack[SignKeywords],
) -> Iterator[SignResult]:
    """Sign every input, yielding each result as soon as it is final (and journaled).

    Args:
        inputs: PDF files; never modified.
        out_dir: directory for the outputs (created if missing), or None with
            ``suffix``.
        signer: a logged-in token key or a PKCS#12 key; a
            :class:`~signsvc.sign.reconnect.ReconnectingKey` brings its own PIN policy (then
            ``pin`` and ``keep_pin`` are not used, and closing it is the caller's job).
        jobs: documents prepared in parallel; 1 signs in this thread.
        executor: "thread" or "process" workers for ``jobs > 1``.
        resume: skip documents whose output already holds this input signed
            (checked by hash), instead of failing on the existing output.
        journal: audit journal to record every attempt in (None: no journal).
        token_timeout: when the token of a :class:`drivers.TokenKey` is pulled out,
            wait this many seconds for the same token (same serial) to come back, log
            in again and go on; the documents whose signature the removal broke are
            retried once. 0 stops the batch at once (``resume`` finishes it later).
        pin: asked for the PIN again after a re-insertion (``pin(token_info)``).
        keep_pin: log in again with the PIN the token accepted at the start, kept in
            memory for this batch, instead of asking (the user must opt in).
        on_token_event: told when the batch starts waiting for the token, when the
            token is back, and when the wait timed out (:class:`TokenEvent`).
        keywords: how to sign, the fields of :class:`~signsvc.sign.pdf.SignOptions`.

    A document whose signature failed because the token went away is never written:
    the output is written only after the signature exists, through a temporary file.
    After a recovery, the ``signer`` passed in is closed and the batch signs with a
    fresh session, which it closes at the end.
    """
    options = SignOptions.from_keywords(keywords)
    if jobs < 1:
        raise BadInputError("jobs must be at least 1")
    if token_timeout < 0:
        raise BadInputError("token_timeout must not be negative")
    # The images and font are the same for every document: a problem with them is a
    # problem with the batch, reported before anything is signed.
    AppearanceMaker(options.appearance)
    key: KeySigner = signer
    recoverable: ReconnectingKey | None = None
    if token_timeout > 0 and isinstance(signer, ReconnectingKey):
        recoverable = signer
    elif token_timeout > 0 and isinstance(signer, TokenKey):
        key = recoverable = ReconnectingKey(signer, pin=pin, keep_pin=keep_pin)
    made: set[Path] = set()
    """Output folders that exist (out_dir, and the sub-folders mirrored under it)."""
    if out_dir is not None:
        _make_folder(Path(out_dir))
        made.add(Path(out_dir))
    batch_id = uuid.uuid4().hex[:12]
    certificate = signer.certificate

    def finish(result: SignResult, *, record: bool = True) -> SignResult:
        result = replace(result, certificate=result.certificate or certificate,
                         level=result.level or options.level)
        if journal is not None and record:
            journal.record(result, tsa=options.tsa_url, batch=batch_id)
        return result

    pending = Pending()
    for item in plan_outputs(inputs, out_dir, suffix=suffix):
        if isinstance(item, SignResult):
            yield finish(item)
            continue
        if out_dir is not None and item.output.parent not in made:
            try:
                _make_folder(item.output.parent)
                made.add(item.output.parent)
            except OutputError as exc:
                yield finish(SignResult(input=item.input, output=None,
                                        status=SignStatus.FAILED, error=str(exc),
                                        error_type=type(exc).__name__, exception=exc))
                continue
        skipped = _resume_check(item, journal) if resume else None
        if skipped is not None:
            yield finish(skipped)
            continue
        pending.jobs.append(item)

    by_input = {job.input: job for job in pending.jobs}
    retried: set[int] = set()
    fatal: BaseException | None = None
    try:
        while True:
            # Documents whose signature a token removal broke, kept back from the
            # caller until the token is back (then retried) or the wait ends.
            held: list[tuple[Job, SignResult]] = []
            run = start(pending, key, options, jobs, executor)
            try:
                for result in run:
                    job = by_input.get(result.input)
                    if (recoverable is not None and fatal is None and job is not None
                            and job.index not in retried
                            and isinstance(result.exception, TokenRemovedError)):
                        held.append((job, finish(result)))  # journaled: an attempt
                        pending.stopped = True
                        continue
                    if fatal is None and isinstance(result.exception, _FATAL):
                        fatal = result.exception
                        # Start nothing new; documents already in flight still finish
                        # and are reported (a signed output must never go unrecorded).
                        pending.stopped = True
                    yield finish(result)
            finally:
                run.close()
            if not held:
                break
            if fatal is None and recoverable is not None:
                first = held[0][1]
                try:
                    recoverable.recover(token_timeout, document=first.input,
                                        error=first.error, notify=on_token_event)
                except (TokenError, SignsvcError) as exc:
                    fatal = exc
                else:
                    # PKCS#11 sessions do not survive removal: each held document is
                    # signed again from scratch, once (a second failure is final).
                    retried.update(job.index for job, _ in held)
                    pending.jobs.extendleft(reversed([job for job, _ in held]))
                    pending.stopped = False
                    continue
            for _, result in held:
                yield finish(result, record=False)
            break
    finally:
        if recoverable is not None and recoverable is not signer:
            recoverable.close()
    if fatal is not None:
        for job in pending.jobs:
            yield finish(SignResult(
                input=job.input, output=None, status=SignStatus.FAILED,
                error=f"not attempted: the batch stopped after a token error: {fatal}",
                error_type=type(fatal).__name__))


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        # Under a file, under /proc, read-only: a clear message, not a traceback.
        raise OutputError(f"cannot create the output folder: {exc.strerror or exc}",
                          path=folder) from exc


def _resume_check(job: Job, journal: AuditJournal | None) -> SignResult | None:
    """A skipped result when ``job.output`` already is ``job.input`` signed.

    An incremental update starts with the exact bytes of the input (ISO 32000-1
    §7.5.6), so the output must begin with the input, and its last signature must
    cover the whole output and be intact.
    """
    try:
        data = job.input.read_bytes()
        signed = job.output.read_bytes()
    except OSError:
        return None
    input_sha = sha256_hex(data)
    output_sha = sha256_hex(signed)
    if journal is not None and journal.signed_output(input_sha, job.output) == output_sha:
        ok = True
    else:
        ok = len(signed) > len(data) and signed.startswith(data) and _last_signature_intact(
            signed)
    if not ok:
        return None
    return SignResult(input=job.input, output=job.output, status=SignStatus.SKIPPED,
                      input_sha256=input_sha, output_sha256=output_sha,
                      error=None)


def _last_signature_intact(data: bytes) -> bool:
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import SignatureCoverageLevel

    try:
        signatures = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures
        if not signatures:
            return False
        last = signatures[-1]
        last.compute_integrity_info(skip_diff=True)
        claimed = [a["values"][0].native for a in last.signer_info["signed_attrs"]
                   if a["type"].native == "message_digest"]
        # RFC 5652 §11.2: the messageDigest attribute is the digest of the signed
        # byte ranges; equal means the bytes are as signed.
        return bool(last.coverage == SignatureCoverageLevel.ENTIRE_FILE
                    and claimed == [last.compute_digest()])
    except Exception:  # a damaged output is simply not "already signed"
        return False
