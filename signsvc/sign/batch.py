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

import multiprocessing
import os
import signal
import threading
import uuid
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_connections
from pathlib import Path
from typing import Any, Literal, Unpack

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from drivers import (
    KeySigner,
    LoginRequiredError,
    PinIncorrectError,
    PinLockedError,
    TokenError,
    TokenKey,
    TokenRemovedError,
)
from signsvc._files import remove_stale_temporaries, sha256_hex
from signsvc._inputs import InputFile
from signsvc.appearance.profiles import AppearanceMaker
from signsvc.errors import BadInputError, OutputError, SignsvcError
from signsvc.sign.journal import AuditJournal
from signsvc.sign.pdf import DocumentSigner, SignKeywords, SignOptions
from signsvc.sign.reconnect import ReconnectingKey, TokenEvent
from signsvc.sign.results import Level, SignResult, SignStatus
from signsvc.tokens import PinSource

__all__ = ["Job", "plan_outputs", "sign_batch", "sign_iter"]

Executor = Literal["thread", "process"]
DEFAULT_EXECUTOR: Executor = (
    "process" if "fork" in multiprocessing.get_all_start_methods() else "thread")
"""Measured (benchmarks/bench_sign.py): preparing PDFs is CPU-bound Python, so worker
threads contend for the GIL and run slower than one thread, while forked worker
processes run in parallel. Where fork is unavailable (Windows, macOS default), spawning
a process costs a pyHanko import, and threads still hide token and TSA latency."""

# After these, every further document would fail the same way (or worse: a PIN
# retried by a context-specific login would count down the token's tries).
_FATAL = (TokenRemovedError, PinLockedError, LoginRequiredError, PinIncorrectError)


@dataclass(frozen=True)
class Job:
    """One document to sign."""

    index: int
    """Position in the batch."""
    input: Path
    output: Path


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
    executor: Executor = DEFAULT_EXECUTOR,
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
    executor: Executor = DEFAULT_EXECUTOR,
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
    if out_dir is not None:
        _make_folder(Path(out_dir))
    batch_id = uuid.uuid4().hex[:12]
    certificate = signer.certificate

    def finish(result: SignResult, *, record: bool = True) -> SignResult:
        result = replace(result, certificate=result.certificate or certificate,
                         level=result.level or options.level)
        if journal is not None and record:
            journal.record(result, tsa=options.tsa_url, batch=batch_id)
        return result

    pending = _Pending()
    for item in plan_outputs(inputs, out_dir, suffix=suffix):
        if isinstance(item, SignResult):
            yield finish(item)
            continue
        if out_dir is not None and item.output.parent != Path(out_dir):
            try:
                _make_folder(item.output.parent)
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
            run = _start(pending, key, options, jobs, executor)
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


def _start(pending: _Pending, key: KeySigner, options: SignOptions, jobs: int,
           executor: Executor) -> _Run:
    if jobs == 1 or len(pending.jobs) <= 1:
        return _run_inline(pending, key, options)
    if executor == "thread":
        return _run_threads(pending, key, options, jobs)
    return _run_processes(pending, key, options, jobs)


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


class _Run(Iterator[SignResult]):
    """An iterator of results that can be stopped early."""

    def __init__(self, results: Iterator[SignResult], stop: Callable[[], None]) -> None:
        self._results = results
        self._stop = stop

    def __next__(self) -> SignResult:
        return next(self._results)

    def close(self) -> None:
        self._stop()


class _Pending:
    """Jobs not yet started; ``stopped`` ends dispatching early."""

    def __init__(self) -> None:
        self.jobs: deque[Job] = deque()
        self.stopped = False

    def take(self) -> Job | None:
        if self.stopped or not self.jobs:
            return None
        return self.jobs.popleft()


def _run_inline(pending: _Pending, key: KeySigner, options: SignOptions) -> _Run:
    signer = DocumentSigner(key, options)

    def results() -> Generator[SignResult, None, None]:
        try:
            while (job := pending.take()) is not None:
                yield signer.sign(job.input, job.output)
        finally:
            signer.close()

    iterator = results()
    return _Run(iterator, iterator.close)


def _run_threads(pending: _Pending, key: KeySigner, options: SignOptions,
                 jobs: int) -> _Run:
    """Worker threads, one DocumentSigner (event loop, HTTP sessions) each; the token
    is serialised by its module lock."""
    local = threading.local()
    signers: list[DocumentSigner] = []
    lock = threading.Lock()

    def work(job: Job) -> SignResult:
        signer = getattr(local, "signer", None)
        if signer is None:
            signer = local.signer = DocumentSigner(key, options)
            with lock:
                signers.append(signer)
        return signer.sign(job.input, job.output)

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="signsvc")

    def results() -> Iterator[SignResult]:
        futures: set[Future[SignResult]] = set()
        try:
            while True:
                # At most two documents per worker in flight: memory stays flat.
                while len(futures) < 2 * jobs:
                    job = pending.take()
                    if job is None:
                        break
                    futures.add(pool.submit(work, job))
                if not futures:
                    return
                done, futures = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            stop()

    def stop() -> None:
        # Nothing is queued in the pool beyond what results() waits for; on Ctrl-C
        # the running documents finish (their writes are atomic anyway).
        pool.shutdown(wait=True, cancel_futures=True)
        for signer in signers:
            # Each loop belongs to its thread, but the threads are gone now.
            signer._thread = threading.get_ident()
            signer.close()

    return _Run(results(), stop)


# ---- worker processes -------------------------------------------------------------


@dataclass(frozen=True)
class _KeyInfo:
    """What a worker process knows of the key: certificates, never the key."""

    certificate: bytes
    chain: tuple[bytes, ...]
    key_type: str
    key_size: int


@dataclass(frozen=True)
class _Done:
    """A worker's answer for one document."""

    index: int
    result: SignResult
    """The worker's result, without certificate and exception (the parent adds them:
    the certificate is the batch's, a token exception lives in the parent)."""
    token_refused: bool
    """The document failed because the parent's token refused to sign."""


class _RemoteSignError(TokenError):
    """The parent's token refused; the parent keeps the real exception."""


class _RemoteKey:
    """A :class:`KeySigner` in a worker process that asks the parent to sign."""

    def __init__(self, conn: Connection, info: _KeyInfo) -> None:
        self._conn = conn
        self.certificate = x509.load_der_x509_certificate(info.certificate)
        self.chain = tuple(x509.load_der_x509_certificate(c) for c in info.chain)
        self.key_type = info.key_type
        self.key_size = info.key_size

    def sign(self, data: bytes, *, hash_algorithm: str = "sha256", pss: bool = False) -> bytes:
        self._conn.send(("sign", data, hash_algorithm, pss))
        kind, payload = self._conn.recv()
        if kind != "signature":
            raise _RemoteSignError(payload)
        return bytes(payload)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _wire_options(options: SignOptions) -> dict[str, Any]:
    values = {f: getattr(options, f) for f in SignOptions.__dataclass_fields__}
    values["chain"] = tuple(_der(c) for c in options.chain)
    values["trust"] = tuple(_der(c) for c in options.trust)
    values["level"] = options.level.value
    return values


def _unwire_options(values: dict[str, Any]) -> SignOptions:
    values = dict(values)
    values["chain"] = tuple(x509.load_der_x509_certificate(c) for c in values["chain"])
    values["trust"] = tuple(x509.load_der_x509_certificate(c) for c in values["trust"])
    values["level"] = Level(values["level"])
    return SignOptions(**values)


def _worker_main(conn: Connection, info: _KeyInfo, wired: dict[str, Any]) -> None:
    # Ctrl-C goes to the whole process group: the parent decides, workers wait.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    key = _RemoteKey(conn, info)
    with DocumentSigner(key, _unwire_options(wired)) as signer:
        while (message := conn.recv()) is not None:
            index, source, target = message
            result = signer.sign(Path(source), Path(target))
            conn.send(_Done(index, replace(result, certificate=None, exception=None),
                            isinstance(result.exception, _RemoteSignError)))


def _run_processes(pending: _Pending, key: KeySigner, options: SignOptions,
                   jobs: int) -> _Run:
    """Worker processes prepare and write documents; this process alone holds the
    token session and answers their signing requests one at a time."""
    # fork shares the loaded pyHanko (fast start); the child never touches the
    # PKCS#11 module it inherits (PKCS#11 v2.40 §6.7.7 forbids using it there).
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    if method == "fork":
        # Import pyHanko once here rather than once per worker.
        import pyhanko.sign.signers  # noqa: F401
    context: Any = multiprocessing.get_context(method)
    info = _KeyInfo(_der(key.certificate), tuple(_der(c) for c in key.chain),
                    key.key_type, key.key_size)
    wired = _wire_options(options)
    workers: dict[Connection, Any] = {}
    current: dict[Connection, Job] = {}
    token_error: dict[Connection, BaseException] = {}
    for _ in range(jobs):
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_worker_main, args=(child_end, info, wired),
                                  daemon=True)
        process.start()
        child_end.close()
        workers[parent_end] = process

    def dispatch(conn: Connection) -> bool:
        job = pending.take()
        if job is None:
            conn.send(None)
            return False
        current[conn] = job
        conn.send((job.index, str(job.input), str(job.output)))
        return True

    def results() -> Iterator[SignResult]:
        active = [c for c in list(workers) if dispatch(c)]
        try:
            while active:
                for conn in wait_connections(active):
                    assert isinstance(conn, Connection)
                    try:
                        message = conn.recv()
                    except EOFError:
                        active.remove(conn)
                        job = current.pop(conn, None)
                        if job is not None:
                            yield SignResult(input=job.input, output=None, status=SignStatus.FAILED,
                                             error=f"{job.input}: worker process died",
                                             error_type="WorkerError")
                        continue
                    if not isinstance(message, _Done):
                        _, data, hash_algorithm, pss = message
                        try:
                            conn.send(("signature", key.sign(
                                data, hash_algorithm=hash_algorithm, pss=pss)))
                        except TokenError as exc:
                            token_error[conn] = exc
                            conn.send(("error", str(exc)))
                        continue
                    job = current.pop(conn)
                    result = message.result
                    exception = token_error.pop(conn, None)
                    if message.token_refused and exception is not None:
                        result = replace(result, exception=exception,
                                         error_type=type(exception).__name__)
                    yield result
                    if not dispatch(conn):
                        active.remove(conn)
        finally:
            stop()

    def stop() -> None:
        for conn, process in workers.items():
            if process.is_alive():
                process.terminate()
            process.join(timeout=5)
            conn.close()
        # A worker terminated mid-write leaves only its temporary file: remove it.
        for job in current.values():
            remove_stale_temporaries(job.output.parent, job.output.name)
        current.clear()

    return _Run(results(), stop)
