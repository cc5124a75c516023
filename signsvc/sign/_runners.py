"""How a batch keeps the token busy: documents signed in this thread, in worker
threads, or in worker processes that ask this process for each signature.

Private to :mod:`signsvc.sign.batch`, which decides what to sign and what the results
mean; this module only runs :class:`~signsvc.sign.pdf.DocumentSigner` over the pending
jobs and yields each :class:`~signsvc.sign.pdf.Prepared` document: signed into a
temporary file tagged with the batch, which the batch journals before giving it its
name. A run that is stopped early (Ctrl-C, a fatal token error) removes the temporary
files of the documents it never handed over.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_connections
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from drivers import KeySigner, TokenError
from signsvc._files import remove_stale_temporaries
from signsvc.sign.pdf import DocumentSigner, Prepared, SignOptions, remove_file
from signsvc.sign.results import Level, Phase, SignResult, SignStatus

__all__ = ["DEFAULT_EXECUTOR", "Job", "Pending", "PhaseCallback", "Run", "SignExecutor",
           "start"]

PhaseCallback = Callable[["Job", Phase], None]
"""Told when a document reaches a phase; called from the thread (or, for worker
processes, this process's thread) that runs the batch, or from a worker thread."""

SignExecutor = Literal["thread", "process"]
DEFAULT_EXECUTOR: SignExecutor = (
    "process" if "fork" in multiprocessing.get_all_start_methods() else "thread")
"""Measured (benchmarks/bench_sign.py): preparing PDFs is CPU-bound Python, so worker
threads contend for the GIL and run slower than one thread, while forked worker
processes run in parallel. Where fork is unavailable (Windows, macOS default), spawning
a process costs a pyHanko import, and threads still hide token and TSA latency."""

@dataclass(frozen=True)
class Job:
    """One document to sign."""

    index: int
    """Position in the batch."""
    input: Path
    output: Path


def start(pending: Pending, key: KeySigner, options: SignOptions, jobs: int,
          executor: SignExecutor, *, tag: str, on_phase: PhaseCallback | None = None) -> Run:
    """Sign the pending jobs in this thread (one job, or ``jobs == 1``), in worker
    threads, or in worker processes; temporaries are tagged ``tag``."""
    if jobs == 1 or len(pending.jobs) <= 1:
        return _run_inline(pending, key, options, tag, on_phase)
    if executor == "thread":
        return _run_threads(pending, key, options, jobs, tag, on_phase)
    return _run_processes(pending, key, options, jobs, tag, on_phase)


class Run(Iterator[Prepared]):
    """An iterator of prepared documents that can be stopped early."""

    def __init__(self, results: Iterator[Prepared], stop: Callable[[], None]) -> None:
        self._results = results
        self._stop = stop

    def __next__(self) -> Prepared:
        return next(self._results)

    def close(self) -> None:
        self._stop()


class Pending:
    """Jobs not yet started; ``stopped`` ends dispatching early."""

    def __init__(self) -> None:
        self.jobs: deque[Job] = deque()
        self.stopped = False

    def take(self) -> Job | None:
        if self.stopped or not self.jobs:
            return None
        return self.jobs.popleft()


def _phases(job: Job, on_phase: PhaseCallback | None) -> Callable[[Phase], None] | None:
    if on_phase is None:
        return None
    return lambda phase: on_phase(job, phase)


def _run_inline(pending: Pending, key: KeySigner, options: SignOptions, tag: str,
                on_phase: PhaseCallback | None) -> Run:
    signer = DocumentSigner(key, options)

    def results() -> Generator[Prepared, None, None]:
        try:
            while (job := pending.take()) is not None:
                yield signer.prepare(job.input, job.output, tag=tag,
                                     on_phase=_phases(job, on_phase))
        finally:
            signer.close()

    iterator = results()
    return Run(iterator, iterator.close)


def _run_threads(pending: Pending, key: KeySigner, options: SignOptions,
                 jobs: int, tag: str, on_phase: PhaseCallback | None) -> Run:
    """Worker threads, one DocumentSigner (event loop, HTTP sessions) each; the token
    is serialised by its module lock."""
    local = threading.local()
    signers: list[DocumentSigner] = []
    lock = threading.Lock()
    outstanding: set[Future[Prepared]] = set()
    """Submitted and not handed over yet: their temporaries are removed on stop."""

    def work(job: Job) -> Prepared:
        signer = getattr(local, "signer", None)
        if signer is None:
            signer = local.signer = DocumentSigner(key, options)
            with lock:
                signers.append(signer)
        return signer.prepare(job.input, job.output, tag=tag,
                              on_phase=_phases(job, on_phase))

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="signsvc")

    def results() -> Iterator[Prepared]:
        try:
            while True:
                # At most two documents per worker in flight: memory stays flat.
                while len(outstanding) < 2 * jobs:
                    job = pending.take()
                    if job is None:
                        break
                    outstanding.add(pool.submit(work, job))
                if not outstanding:
                    return
                done, _ = wait(outstanding, return_when=FIRST_COMPLETED)
                for future in done:
                    outstanding.discard(future)
                    yield future.result()
        finally:
            stop()

    def stop() -> None:
        # Nothing is queued in the pool beyond what results() waits for; on Ctrl-C
        # the running documents finish (into temporaries, removed here: never journaled,
        # never given a name).
        pool.shutdown(wait=True, cancel_futures=True)
        for future in list(outstanding):
            if future.done() and not future.cancelled() and future.exception() is None:
                temporary = future.result().temporary
                if temporary is not None:
                    remove_file(temporary)
        outstanding.clear()
        for signer in signers:
            # Each loop belongs to its thread, but the threads are gone now.
            signer._thread = threading.get_ident()
            signer.close()

    return Run(results(), stop)


# ---- worker processes -------------------------------------------------------------


@dataclass(frozen=True)
class _KeyInfo:
    """What a worker process knows of the key: certificates, never the key."""

    certificate: bytes
    chain: tuple[bytes, ...]
    key_type: str
    key_size: int


@dataclass(frozen=True)
class _SignRequest:
    """A worker asks the parent, which holds the token, for one signature; the answer
    is the signature's bytes or :class:`_Refused`."""

    data: bytes
    hash_algorithm: str
    pss: bool


@dataclass(frozen=True)
class _Refused:
    """The parent's token refused to sign (the parent keeps the exception)."""

    message: str


@dataclass(frozen=True)
class _Done:
    """A worker's answer for one document."""

    index: int
    result: SignResult
    """The worker's result, without certificate and exception (the parent adds them:
    the certificate is the batch's, a token exception lives in the parent)."""
    token_refused: bool
    """The document failed because the parent's token refused to sign."""
    temporary: str | None
    """The signed temporary file, for the parent to journal and name."""


@dataclass(frozen=True)
class _PhaseReached:
    """A worker's document reached a phase (sent only when someone listens)."""

    index: int
    phase: Phase


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
        self._conn.send(_SignRequest(data, hash_algorithm, pss))
        answer = self._conn.recv()
        if isinstance(answer, _Refused):
            raise _RemoteSignError(answer.message)
        return bytes(answer)


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


def _worker_main(conn: Connection, info: _KeyInfo, wired: dict[str, Any], tag: str,
                 phases: bool, inherited: list[Connection]) -> None:
    # Ctrl-C goes to the whole process group: the parent decides, workers wait.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forked worker holds copies of the parent's pipe ends (its own and the earlier
    # workers'): closed, so that when the parent dies (SIGKILL, a crash) every worker
    # reads end-of-file and exits, instead of waiting forever on a pipe it keeps open
    # itself (and holding the terminal's output open).
    for end in inherited:
        end.close()
    try:
        _work(conn, info, wired, tag, phases)
    except (EOFError, OSError):
        pass  # the parent is gone: nothing to answer; its next run cleans up


def _work(conn: Connection, info: _KeyInfo, wired: dict[str, Any], tag: str,
          phases: bool) -> None:
    key = _RemoteKey(conn, info)
    with DocumentSigner(key, _unwire_options(wired)) as signer:
        while (message := conn.recv()) is not None:
            index, source, target = message

            def tell(phase: Phase, index: int = index) -> None:
                conn.send(_PhaseReached(index, phase))

            prepared = signer.prepare(Path(source), Path(target), tag=tag,
                                      on_phase=tell if phases else None)
            result = prepared.result
            conn.send(_Done(index, replace(result, certificate=None, exception=None),
                            isinstance(result.exception, _RemoteSignError),
                            None if prepared.temporary is None else str(prepared.temporary)))


def _run_processes(pending: Pending, key: KeySigner, options: SignOptions,
                   jobs: int, tag: str, on_phase: PhaseCallback | None) -> Run:
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
        inherited = [*workers, parent_end] if method == "fork" else []
        process = context.Process(target=_worker_main,
                                  args=(child_end, info, wired, tag, on_phase is not None,
                                        inherited),
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

    def results() -> Iterator[Prepared]:
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
                            remove_stale_temporaries(job.output.parent, job.output.name,
                                                     tag=tag)
                            yield Prepared(SignResult(
                                input=job.input, output=None, status=SignStatus.FAILED,
                                error=f"{job.input}: worker process died",
                                error_type="WorkerError"), None)
                        continue
                    if isinstance(message, _PhaseReached):
                        if on_phase is not None and conn in current:
                            on_phase(current[conn], message.phase)
                        continue
                    if isinstance(message, _SignRequest):
                        try:
                            conn.send(key.sign(message.data,
                                               hash_algorithm=message.hash_algorithm,
                                               pss=message.pss))
                        except TokenError as exc:
                            token_error[conn] = exc
                            conn.send(_Refused(str(exc)))
                        continue
                    job = current.pop(conn)
                    result = message.result
                    exception = token_error.pop(conn, None)
                    if message.token_refused and exception is not None:
                        result = replace(result, exception=exception,
                                         error_type=type(exception).__name__)
                    temporary = None if message.temporary is None else Path(message.temporary)
                    # Handed over before the next dispatch: after a fatal token error
                    # the batch stops dispatching (Pending.stopped).
                    yield Prepared(result, temporary)
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
        # A worker terminated mid-write, or whose answer was never read, leaves only its
        # temporary file (this batch's tag): remove it.
        for job in current.values():
            remove_stale_temporaries(job.output.parent, job.output.name, tag=tag)
        current.clear()

    return Run(results(), stop)
