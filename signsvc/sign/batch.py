"""Sign many PDFs with one login: the token kept busy, the PDF work beside it.

The caller logs in once and hands over the key; :func:`sign_batch` never asks for a
PIN. What can be decided without the key is decided first (:mod:`signsvc.sign.plan`:
missing inputs, non-PDFs, outputs that exist, signsvc's own outputs, documents already
signed); a refused certificate stops the batch before its first signature. Token
operations are serialised (the module lock of :mod:`drivers`, or, with worker
processes, the parent process, the only one that talks to the token) while other
documents are read, prepared and written in parallel. Each document ends in a
:class:`~signsvc.sign.pdf.SignResult`; a failure is recorded and the batch goes on,
except after a token failure that every later document would repeat (token removed,
PIN refused or locked), where the rest are reported as not attempted. A pulled-out
token can instead be waited for (``token_timeout``): the documents it broke are
retried once in a fresh session after the same token is back
(:class:`~signsvc.sign.reconnect.ReconnectingKey`); the wait happens in the process that holds
the token, with no document in flight.

A signed document is journaled before its output gets its name (see
:mod:`signsvc.sign.journal`): workers write temporaries, this process commits the
row, then renames, with Ctrl-C held back in between.

Example::

    >>> from signsvc import sign_batch
    >>> results = sign_batch(sorted(Path("in").glob("*.pdf")), Path("out"), key,
    ...                      jobs=2, resume=True)  # doctest: +SKIP
    >>> [r.status for r in results]  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Unpack

from drivers import (
    KeySigner,
    LoginCancelledError,
    LoginRequiredError,
    PinIncorrectError,
    PinLockedError,
    TokenError,
    TokenInfo,
    TokenKey,
    TokenRemovedError,
)
from signsvc._files import place, sync_folders, temporary_tag
from signsvc._inputs import InputFile
from signsvc._interrupts import HeldInterrupts
from signsvc.appearance.profiles import AppearanceMaker
from signsvc.errors import BadInputError, OutputError, SignsvcError
from signsvc.sign._batchlock import BatchLock, batch_alive
from signsvc.sign._certcheck import check_signing_certificate
from signsvc.sign._runners import DEFAULT_EXECUTOR, Job, Pending, SignExecutor, start
from signsvc.sign.journal import AuditJournal, LoginResult
from signsvc.sign.pdf import Prepared, SignKeywords, SignOptions, remove_file
from signsvc.sign.plan import BatchPlan, plan_batch, plan_outputs
from signsvc.sign.reconnect import ReconnectingKey, TokenEvent
from signsvc.sign.results import (
    DocumentProgress,
    Level,
    Phase,
    SignResult,
    SignStatus,
    SkipReason,
)
from signsvc.tokens import PinSource

__all__ = ["DEFAULT_EXECUTOR", "Job", "SignExecutor", "login_result", "plan_outputs",
           "settled_results", "sign_batch", "sign_iter"]

# After these, every further document would fail the same way (or worse: a PIN
# retried by a context-specific login would count down the token's tries).
_FATAL = (TokenRemovedError, PinLockedError, LoginRequiredError, PinIncorrectError)
_SETTLE_EVERY = 32
"""Renames made durable together (one fsync per folder instead of one per document)."""


def login_result(error: BaseException | None) -> LoginResult:
    """How a login ended, in the journal's words (``AuditJournal.record_login``)."""
    if error is None:
        return "accepted"
    if isinstance(error, PinIncorrectError):
        return "refused"
    if isinstance(error, PinLockedError):
        return "locked"
    if isinstance(error, LoginCancelledError):
        return "cancelled"
    return "failed"


def sign_batch(
    inputs: Iterable[str | os.PathLike[str] | InputFile] | BatchPlan,
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
    on_progress: Callable[[DocumentProgress], None] | None = None,
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
                            on_token_event=on_token_event, on_progress=on_progress,
                            **options):
        if progress is not None:
            progress(result)
        results.append(result)
    return results


def sign_iter(
    inputs: Iterable[str | os.PathLike[str] | InputFile] | BatchPlan,
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
    on_progress: Callable[[DocumentProgress], None] | None = None,
    **keywords: Unpack[SignKeywords],
) -> Generator[SignResult, None, None]:
    """Sign every input, yielding each result as soon as it is final (and journaled).

    Args:
        inputs: PDF files (never modified), or a :class:`~signsvc.sign.plan.BatchPlan`
            made beforehand (then ``out_dir``, ``suffix`` and ``resume`` are the
            plan's, and only its jobs are signed).
        out_dir: directory for the outputs (created if missing), or None with
            ``suffix``.
        signer: a logged-in token key or a PKCS#12 key; a
            :class:`~signsvc.sign.reconnect.ReconnectingKey` brings its own PIN policy (then
            ``pin`` and ``keep_pin`` are not used, and closing it is the caller's job).
        jobs: documents prepared in parallel; 1 signs in this thread.
        executor: "thread" or "process" workers for ``jobs > 1``.
        resume: skip documents whose output already holds this input signed
            (checked by hash), instead of failing on the existing output.
        journal: audit journal to record every attempt in (None: no journal). Its
            recovery runs first (outputs of killed batches get their names).
        token_timeout: when the token of a :class:`drivers.TokenKey` is pulled out,
            wait this many seconds for the same token (same serial) to come back, log
            in again and go on; the documents whose signature the removal broke are
            retried once. 0 stops the batch at once (``resume`` finishes it later).
        pin: asked for the PIN again after a re-insertion (``pin(token_info)``).
        keep_pin: log in again with the PIN the token accepted at the start, kept in
            memory for this batch, instead of asking (the user must opt in).
        on_token_event: told when the batch starts waiting for the token, when the
            token is back, and when the wait timed out (:class:`TokenEvent`).
        on_progress: told when a document starts being read, signed, written; called
            from this thread or a worker thread (keep it quick and thread-safe).
        keywords: how to sign, the fields of :class:`~signsvc.sign.pdf.SignOptions`.

    Raises:
        CertificateUnusableError: the signer's certificate is expired, not yet valid,
            not for signing, or has no valid chain to ``trust`` (and not ``force``);
            raised before any document is signed.

    Files that are signsvc's own outputs of other inputs are skipped
    (:attr:`~signsvc.sign.results.SkipReason.OWN_OUTPUT`), and not journaled. A
    document whose signature failed because the token went away is never written: the
    output is written only after the signature exists, through a temporary file.
    After a recovery, the ``signer`` passed in is closed and the batch signs with a
    fresh session, which it closes at the end. Exhaust or ``close()`` the generator
    before closing ``journal``: a batch stopped early settles its rows on closing.
    """
    options = SignOptions.from_keywords(keywords)
    if jobs < 1:
        raise BadInputError("jobs must be at least 1")
    if token_timeout < 0:
        raise BadInputError("token_timeout must not be negative")
    forced = check_signing_certificate(
        signer.certificate, at=datetime.now(UTC), trust=options.trust,
        intermediates=[*signer.chain, *options.chain], force=options.force)
    # The images and font are the same for every document: a problem with them is a
    # problem with the batch, reported before anything is signed.
    AppearanceMaker(options.appearance)
    if isinstance(inputs, BatchPlan):
        plan = inputs
    else:
        plan = plan_batch(inputs, out_dir, suffix=suffix, resume=resume,
                          overwrite=options.overwrite, journal=journal)
    batch_id = uuid.uuid4().hex[:12]
    certificate = signer.certificate
    with BatchLock(batch_id):
        yield from _Batch(plan, signer, options, journal, batch_id, certificate, forced,
                          on_progress).run(jobs, executor, token_timeout, pin, keep_pin,
                                           on_token_event)


def settled_results(plan: BatchPlan, *, journal: AuditJournal | None = None,
                    level: Level | str = Level.B_B,
                    tsa_url: str | None = None) -> Generator[SignResult, None, None]:
    """The results a plan decided, without a key: for a batch with nothing left to
    sign (every input missing, not a PDF, already signed, ...), so that no PIN is asked
    for nothing. Journaled like a batch's attempts (the signer is not known)."""
    batch_id = uuid.uuid4().hex[:12]
    for result in plan.settled:
        result = replace(result, level=result.level or Level(level))
        if journal is not None and result.skip_reason is not SkipReason.OWN_OUTPUT:
            journal.record(result, tsa=tsa_url, batch=batch_id)
        yield result


class _Batch:
    """One running batch: journals, names outputs, recovers from token removal."""

    def __init__(self, plan: BatchPlan, signer: KeySigner, options: SignOptions,
                 journal: AuditJournal | None, batch_id: str, certificate: object,
                 forced: str | None,
                 on_progress: Callable[[DocumentProgress], None] | None) -> None:
        self.plan = plan
        self.signer = signer
        self.options = options
        self.journal = journal
        self.batch_id = batch_id
        self.certificate = certificate
        self.forced = forced
        self.on_progress = on_progress
        self._unsynced: set[Path] = set()
        """Folders with renames not yet fsync'ed."""
        self._placed: list[int] = []
        """Journal rows whose output has its name, not yet durably."""

    def finish(self, result: SignResult, *, record: bool = True) -> SignResult:
        """The result with the batch's certificate and level, journaled."""
        result = replace(result, certificate=result.certificate or self.certificate,  # type: ignore[arg-type]
                         level=result.level or self.options.level)
        if result.status is SignStatus.SIGNED and self.forced:
            result = replace(result, note=self.forced)
        if self.journal is not None and record:
            self.journal.record(result, tsa=self.options.tsa_url, batch=self.batch_id,
                                note=result.note)
        return result

    def commit(self, prepared: Prepared) -> SignResult:
        """Journal a prepared document, then give its output its name. The caller
        holds Ctrl-C back (:class:`signsvc._interrupts.HeldInterrupts`): the two
        happen together or not at all."""
        temporary = prepared.temporary
        if temporary is None:
            return self.finish(prepared.result)
        result = self.finish(prepared.result, record=False)
        assert result.output is not None
        attempt = None
        try:
            if self.journal is not None:
                attempt = self.journal.record(
                    result, tsa=self.options.tsa_url, batch=self.batch_id,
                    note=result.note, temporary=temporary, overwrite=self.options.overwrite)
        except BaseException:
            remove_file(temporary)
            raise
        try:
            # Not fsync'ed one by one: the folders are, every few documents, before
            # their pending rows are dropped (_settle); until then recovery can redo it.
            place(temporary, result.output, overwrite=self.options.overwrite, durable=False)
        except OSError as exc:
            remove_file(temporary)
            error = OutputError(
                "exists already (use --overwrite to replace it, or --resume to skip "
                "documents already signed)" if isinstance(exc, FileExistsError)
                else f"cannot write: {exc.strerror or exc}", path=result.output)
            if self.journal is not None and attempt is not None:
                self.journal.placing_failed(attempt, str(error))
            return replace(result, status=SignStatus.FAILED, output=None,
                           output_sha256=None, error=str(error),
                           error_type=type(error).__name__, exception=error)
        self._unsynced.add(result.output.parent)
        if attempt is not None:
            self._placed.append(attempt)
        if len(self._placed) >= _SETTLE_EVERY or (self.journal is None and
                                                    len(self._unsynced) >= _SETTLE_EVERY):
            self._settle()
        return result

    def _settle(self) -> None:
        """Make the renames so far durable, then let the journal drop their pending
        rows (with its next commit)."""
        sync_folders(self._unsynced)
        self._unsynced.clear()
        if self.journal is not None:
            for attempt in self._placed:
                self.journal.placed(attempt)
        self._placed.clear()

    def _clean_stale_temporaries(self) -> None:
        """Temporaries of killed batches in this batch's output folders (a worker
        killed mid-write; never journaled, so never an output)."""
        alive: dict[str, bool] = {}
        self._remove_temporaries(lambda tag: tag != self.batch_id and not alive.setdefault(
            tag, batch_alive(tag)))

    def _clean_own_temporaries(self) -> None:
        """This batch's temporaries left when it stops: every result it committed has
        its name by now (a commit finishes before a Ctrl-C is raised) and the workers
        have stopped, so what is left is a document in flight that a Ctrl-C caught
        between a worker's answer and its commit; never journaled, never an output."""
        self._remove_temporaries(lambda tag: tag == self.batch_id)

    def _remove_temporaries(self, doomed: Callable[[str], bool]) -> None:
        """Remove the temporaries (:func:`~signsvc._files.write_temporary`) in this
        batch's output folders whose batch tag ``doomed`` picks."""
        for folder in {job.output.parent for job in self.plan.jobs}:
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                tag = temporary_tag(name)
                if tag is not None and doomed(tag):
                    remove_file(folder / name)

    def _phase(self, job: Job, phase: Phase) -> None:
        if self.on_progress is None:
            return
        size = None
        if phase == "reading":
            with contextlib.suppress(OSError):
                size = job.input.stat().st_size
        self.on_progress(DocumentProgress(job.input, phase, size))

    def _login_recorder(self) -> Callable[[TokenInfo, BaseException | None], None]:
        journal = self.journal

        def record(info: TokenInfo, error: BaseException | None) -> None:
            if journal is not None:
                journal.record_login(login_result(error), token=info.label,
                                     serial=info.serial, module=str(info.module),
                                     error=None if error is None else str(error),
                                     batch=self.batch_id)

        return record

    def run(self, jobs: int, executor: SignExecutor, token_timeout: float,
            pin: PinSource | None, keep_pin: bool,
            on_token_event: Callable[[TokenEvent], None] | None) -> Iterator[SignResult]:
        signer = self.signer
        self._clean_stale_temporaries()
        for result in self.plan.settled:
            # An own output is no attempt: nothing was tried, nothing to audit.
            yield self.finish(result, record=result.skip_reason is not SkipReason.OWN_OUTPUT)
        key: KeySigner = signer
        recoverable: ReconnectingKey | None = None
        if token_timeout > 0 and isinstance(signer, ReconnectingKey):
            recoverable = signer
        elif token_timeout > 0 and isinstance(signer, TokenKey):
            key = recoverable = ReconnectingKey(signer, pin=pin, keep_pin=keep_pin,
                                                on_login=self._login_recorder())
        if recoverable is not None and recoverable.on_login is None:
            recoverable.on_login = self._login_recorder()
        pending = Pending()
        pending.jobs.extend(self.plan.jobs)
        by_input = {job.input: job for job in pending.jobs}
        retried: set[int] = set()
        fatal: BaseException | None = None
        try:
            while True:
                # Documents whose signature a token removal broke, kept back from the
                # caller until the token is back (then retried) or the wait ends.
                held: list[tuple[Job, SignResult]] = []
                run = start(pending, key, self.options, jobs, executor, tag=self.batch_id,
                            on_phase=self._phase if self.on_progress is not None else None)
                try:
                    for prepared in run:
                        # Journaled, named and handed over together: a Ctrl-C meanwhile
                        # is raised once the caller has the result (and has printed it).
                        hold = HeldInterrupts(raise_on_exit=False)
                        try:
                            with hold:
                                result = self.commit(prepared)
                        except BaseException:
                            if prepared.temporary is not None:
                                remove_file(prepared.temporary)
                            raise
                        job = by_input.get(result.input)
                        if (recoverable is not None and fatal is None and job is not None
                                and job.index not in retried
                                and isinstance(result.exception, TokenRemovedError)):
                            held.append((job, result))  # journaled: an attempt
                            pending.stopped = True
                            hold.reraise()
                            continue
                        if fatal is None and isinstance(result.exception, _FATAL):
                            fatal = result.exception
                            # Start nothing new; documents already in flight still finish
                            # and are reported (a signed output must never go unrecorded).
                            pending.stopped = True
                        yield result
                        hold.reraise()
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
                    yield result
                break
        finally:
            if recoverable is not None and recoverable is not signer:
                recoverable.close()
            self._settle()
            if self.journal is not None:
                self.journal.flush()
            self._clean_own_temporaries()
        if fatal is not None:
            for job in pending.jobs:
                yield self.finish(SignResult(
                    input=job.input, output=None, status=SignStatus.FAILED,
                    error=f"not attempted: the batch stopped after a token error: {fatal}",
                    error_type=type(fatal).__name__))
