"""Verify thousands of signed PDFs: parallel, time-limited, resumable.

Example::

    >>> from signsvc import TrustStore, collect_pdfs
    >>> from signsvc.verify.batch import VerifyStore, verify_iter
    >>> trust = TrustStore.from_paths(["certs_test/gov-root-g2.crt.pem"])  # doctest: +SKIP
    >>> with VerifyStore.open(".signsvc-verify.sqlite3") as store:  # doctest: +SKIP
    ...     for result in verify_iter(collect_pdfs(["inbox/"]), trust=trust,
    ...                               store=store, resume=True):
    ...         print(result.indication.value, result.path)
    ...     print(store.summary())

Each document is verified by :func:`signsvc.verify.verify_pdf` in a forked worker
process (``jobs`` of them, default one per core) with a time limit (``timeout``) and
an address-space limit (``memory_limit``): a document that hangs or explodes is
reported as an error and the batch goes on. Results are streamed as they finish
(:func:`verify_iter`), never all held, and each is committed to the store, when one is
given, before it is reported, so ``resume=True`` skips what an interrupted run already
did.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sized
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, Required, TypedDict, Unpack

from signsvc.errors import BadInputError, ValidationSetupError
from signsvc.pki.chain import ValidationCache
from signsvc.pki.trust import TrustStore
from signsvc.verify._store import (
    SUMMARY_KEYS,
    FreshResult,
    StoredResult,
    VerifyStore,
    category,
    params_key,
)
from signsvc.verify._urls import is_url, stat_url
from signsvc.verify._workers import (
    Ended,
    Job,
    VerifyOne,
    Workers,
    error_result,
    fork_available,
    verify_safely,
)
from signsvc.verify.results import DocumentResult

if TYPE_CHECKING:
    from signsvc.pki.algorithms import ValidationPolicy
    from signsvc.pki.revocation import RevocationMode
    from signsvc.verify.cluster import Cluster

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_TIMEOUT",
    "SUMMARY_KEYS",
    "FreshResult",
    "StoredResult",
    "VerifyKeywords",
    "VerifyStore",
    "auto_chunk",
    "category",
    "default_jobs",
    "json_line",
    "summarise",
    "verify_batch",
    "verify_blocks",
    "verify_iter",
]

VerifyExecutor = Literal["process", "inline"]

DEFAULT_TIMEOUT = 60.0
"""Seconds per document. A one-page decision verifies in milliseconds and a 50 MB
scan in about a second; a minute only ever stops a document that would never end."""

DEFAULT_MEMORY_LIMIT = 1 << 30
"""Address space a worker may add for one document (1 GiB): far above what a real
document needs, far below what would push a shared server into its OOM killer."""


def default_jobs() -> int:
    """The cores this process may run on (``os.process_cpu_count`` from 3.13, else
    the scheduler's affinity mask, else every core)."""
    count = getattr(os, "process_cpu_count", None)
    if count is not None:
        return int(count() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class VerifyKeywords(TypedDict, total=False):
    """The batch options as keywords: how :func:`verify_batch` and :func:`verify_iter`
    take them and hand them to :func:`verify_blocks` (each documented there)."""

    trust: Required[TrustStore]
    jobs: int | None
    executor: VerifyExecutor | None
    at: datetime | None
    policy: str | ValidationPolicy
    revocation: RevocationMode
    online: bool
    timeout: float | None
    memory_limit: int | None
    resume: bool
    store: VerifyStore | str | os.PathLike[str] | None
    progress: Callable[[DocumentResult], None] | None
    cache: ValidationCache | None
    pdf_password: str | None
    chunk_size: int | None
    cluster: Cluster | None


def verify_batch(paths: Iterable[str | os.PathLike[str]],
                 **options: Unpack[VerifyKeywords]) -> list[DocumentResult]:
    """Verify every document; see :func:`verify_blocks` for the options (this collects
    the results, in the order they finished)."""
    return list(verify_iter(paths, **options))


def verify_iter(paths: Iterable[str | os.PathLike[str]],
                **options: Unpack[VerifyKeywords]) -> Generator[DocumentResult, None, None]:
    """Verify every document, yielding each result as soon as it is final (and stored).

    The results of :func:`verify_blocks`, one at a time; see there for the arguments.
    """
    blocks = verify_blocks(paths, **options)
    return (result for block in blocks for result in block)


def verify_blocks(
    paths: Iterable[str | os.PathLike[str]],
    *,
    trust: TrustStore,
    jobs: int | None = None,
    executor: VerifyExecutor | None = None,
    at: datetime | None = None,
    policy: str | ValidationPolicy = "default",
    revocation: RevocationMode = "soft-fail",
    online: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT,
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
    resume: bool = False,
    store: VerifyStore | str | os.PathLike[str] | None = None,
    progress: Callable[[DocumentResult], None] | None = None,
    cache: ValidationCache | None = None,
    pdf_password: str | None = None,
    chunk_size: int | None = None,
    cluster: Cluster | None = None,
) -> Generator[list[DocumentResult], None, None]:
    """Verify every document, yielding results in blocks as they become final.

    A block is what was ready at once (up to a few chunks' worth); it is committed to
    the store in one transaction before it is yielded, so a caller that prints a
    block prints only stored results, and a run stopped at any point resumes.

    Args:
        paths: PDF files (:func:`collect_pdfs` expands directories).
        trust, at, policy, revocation, online, cache, pdf_password: as for
            :func:`signsvc.verify.verify_pdf`, the same for every document (the
            password reaches the workers in memory; it is never logged, nor written
            to the store or a report).
        jobs: worker processes (default :func:`default_jobs`, and never more than
            there are documents, when ``paths`` has a length).
        executor: "process" (default where fork exists) verifies in forked workers,
            which is what enforces ``timeout`` and ``memory_limit``, even with one job;
            "inline" verifies in this process, one document at a time, with neither
            limit (for debugging, or where fork does not exist).
        timeout: seconds per document, None for no limit; a document over it is
            reported INDETERMINATE with ``error_type`` "TimeoutError".
        memory_limit: bytes of address space a worker may add for one document, None
            for no limit; past it the document gets a MemoryError result.
        resume: with a store, reuse the stored result of every document whose path,
            size, mtime and validation parameters are unchanged (a
            :class:`StoredResult`) instead of verifying it again.
        store: a :class:`VerifyStore` or the path of one; every fresh result is
            committed to it before it is yielded.
        progress: called with each result as it is yielded.
        chunk_size: documents sent to a worker at once (default: a quarter of each
            worker's share, between 1 and :data:`MAX_CHUNK`).
        cluster: verify on a Dask cluster instead
            (:class:`signsvc.verify.cluster.Cluster`; ``executor``, ``jobs`` and
            ``memory_limit`` are then the cluster's business).

    Raises:
        ValidationSetupError: an option is unusable (raised at the call for this
            module's own options, at the first document for verify_pdf's).
    """
    if jobs is None:
        jobs = default_jobs()
    if jobs < 1:
        raise ValidationSetupError("must be at least 1", argument="jobs")
    if timeout is not None and not timeout > 0:
        raise ValidationSetupError("must be a positive number of seconds", argument="timeout")
    if memory_limit is not None and memory_limit <= 0:
        raise ValidationSetupError("must be a positive number of bytes",
                                   argument="memory_limit")
    if chunk_size is not None and chunk_size < 1:
        raise ValidationSetupError("must be at least 1", argument="chunk_size")
    if executor is None:
        executor = "process" if fork_available() else "inline"
    if executor not in ("process", "inline"):
        raise ValidationSetupError(f"unknown executor {executor!r}", argument="executor")
    if executor == "process" and not fork_available() and cluster is None:
        raise ValidationSetupError("worker processes need fork (Linux)", argument="executor")
    if resume and store is None:
        raise ValidationSetupError("resuming needs a store", argument="resume")
    # Imported here so that workers forked later inherit the verifier already loaded,
    # and so that importing this module stays light.
    from signsvc.verify.pdf import verify_pdf

    options: dict[str, Any] = dict(
        trust=trust, at=at, policy=policy, online=online,
        # verify_pdf checks these values (ValidationSetupError); here they are passed on.
        revocation=revocation,
        pdf_password=_Hidden(pdf_password) if pdf_password is not None else None)
    verify_one: VerifyOne = functools.partial(verify_pdf, cache=cache, **options)
    params = params_key(trust, at=at, policy=policy, revocation=revocation, online=online)
    if pdf_password is not None:
        # A run with a password may open what one without could not: its results are
        # not the same. Only the fact that one was given is mixed in, never the
        # password or a hash of it (a stored hash would be a password to brute-force).
        params = hashlib.sha256(f"{params}/pdf-password-given".encode()).hexdigest()
    count = len(paths) if isinstance(paths, Sized) else None
    if count is not None:
        jobs = max(1, min(jobs, count))
    if chunk_size is None:
        chunk_size = auto_chunk(count, jobs)

    def runner() -> Runner:
        if cluster is not None:
            # verify_pdf's own time limit; the partial travels to the workers, which
            # each make their own cache.
            return cluster.runner(functools.partial(verify_pdf, time_limit=timeout,
                                                    **options))
        if executor == "process":
            return Workers(verify_one, jobs=jobs, timeout=timeout,
                           memory_limit=memory_limit)
        return _Inline(verify_one)

    return _run(paths, runner, chunk=chunk_size, resume=resume, store=store,
                params=params, progress=progress)


MAX_CHUNK = 64
"""Documents per chunk at most: enough that a worker's round trip is paid once per
dozens of one-page documents, few enough that a chunk of 2 MB scans is not a
memory or latency problem, and that results reach the store in steady blocks."""


def auto_chunk(count: int | None, workers: int) -> int:
    """Documents per chunk for ``count`` documents on ``workers`` workers: a quarter of
    each worker's share (so the last chunks finish together), 1 to :data:`MAX_CHUNK`."""
    if count is None:
        return MAX_CHUNK // 4
    return max(1, min(MAX_CHUNK, count // (workers * 4)))


class Runner(Protocol):
    """Where chunks are verified: forked workers, this process, or a cluster."""

    @property
    def full(self) -> bool: ...
    @property
    def busy(self) -> bool: ...
    def submit(self, chunk: list[Job]) -> None: ...
    def collect(self) -> list[Ended]: ...
    def close(self) -> None: ...


_BLOCK = 256
"""Results found without a worker (stored ones reused, files that are not documents)
are committed and yielded in blocks of at most this many."""


def _run(paths: Iterable[str | os.PathLike[str]], make_runner: Callable[[], Runner], *,
         chunk: int, resume: bool, store: VerifyStore | str | os.PathLike[str] | None,
         params: str, progress: Callable[[DocumentResult], None] | None,
         ) -> Generator[list[DocumentResult], None, None]:
    opened = VerifyStore.open(store) if isinstance(store, str | os.PathLike) else None
    journal = opened or (store if isinstance(store, VerifyStore) else None)
    runner = make_runner()
    settled = bytearray()
    """One byte per input position: set once its result is final. A chunk a cluster
    ran twice (its worker died after answering) is then not reported twice."""
    ready: list[Ended] = []
    reused: list[tuple[int, StoredResult, int]] = []

    def settle(ended: list[Ended]) -> list[DocumentResult]:
        fresh = []
        for job, result, line in ended:
            if job.position < len(settled) and settled[job.position]:
                continue
            if job.position >= len(settled):
                settled.extend(bytes(max(job.position + 1, 2 * len(settled)) - len(settled)))
            settled[job.position] = 1
            if line is not None:
                object.__setattr__(result, _LINE, line)  # see json_line()
            fresh.append(FreshResult(result, job.position, job.size, job.mtime_ns,
                               json_line(result)))
        again = list(reused)
        reused.clear()
        if journal is not None and (fresh or again):
            journal.commit(fresh, params=params,
                           reused=[(row, position) for row, _, position in again])
        block: list[DocumentResult] = [item.result for item in fresh]
        block += [hit for _, hit, _ in again]
        if progress is not None:
            for result in block:
                progress(result)
        return block

    try:
        pending: list[Job] = []
        for position, raw in enumerate(paths):
            job, result = _plan(position, raw)
            if result is not None:
                ready.append((job, result, None))
            elif resume and journal is not None and (hit := journal.lookup(
                    job.url or job.path, size=job.size, mtime_ns=job.mtime_ns,
                    params=params)):
                reused.append((hit[0], hit[1], position))
            else:
                pending.append(job)
            if len(pending) >= chunk:
                # Bounded in flight: wait for a worker before taking more documents,
                # so memory does not grow with the batch.
                while runner.full:
                    if block := settle(ready + runner.collect()):
                        yield block
                    ready = []
                runner.submit(pending)
                pending = []
            if len(ready) + len(reused) >= _BLOCK:
                yield settle(ready)
                ready = []
        runner.submit(pending)
        if ready or reused:
            yield settle(ready)
            ready = []
        while runner.busy:
            if block := settle(runner.collect()):
                yield block
    finally:
        # Ctrl-C, an abandoned iterator or an error: in-flight documents are dropped
        # unrecorded, so resume verifies them.
        runner.close()
        if opened is not None:
            opened.close()


def _plan(position: int, raw: str | os.PathLike[str]) -> tuple[Job, DocumentResult | None]:
    """The job for ``raw`` (a path or an fsspec URL), and its result already when it is
    not a regular file, or a URL that names nothing."""
    if isinstance(raw, str) and is_url(raw):
        url = str(raw)  # a plain str: a ListedUrl's listing stays here, not in the job
        try:
            size, mtime_ns = stat_url(raw)
        except BadInputError as exc:
            job = Job(position, Path(url), None, None, url)
            return job, replace(error_result(job.path, f"cannot read: {exc.reason}",
                                             "BadInputError"), url=url)
        return Job(position, Path(url), size, mtime_ns, url), None
    path = Path(raw)
    try:
        info = path.stat()
    except OSError as exc:
        job = Job(position, path, None, None)
        return job, error_result(path, f"cannot read: {exc.strerror or exc}",
                                 type(exc).__name__)
    job = Job(position, path, info.st_size, info.st_mtime_ns)
    if stat.S_ISDIR(info.st_mode):
        try:
            os.listdir(path)
            reason = "a directory: give it to collect_pdfs to verify the PDFs in it"
        except OSError as exc:
            reason = f"a directory that cannot be searched: {exc.strerror or exc}"
        return job, error_result(path, reason, "IsADirectoryError")
    if not stat.S_ISREG(info.st_mode):
        # A FIFO or a device would block or never end; it is not a document anyway.
        return job, error_result(path, "not a regular file", "BadInputError",
                                 size=info.st_size)
    return job, None


class _Hidden(str):
    """A password that a repr does not show (the partial above, a traceback's locals)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<hidden>'"


class _Inline:
    """Verify in this process, one document at a time (no time or memory limit)."""

    def __init__(self, verify_one: VerifyOne) -> None:
        self._verify_one = verify_one
        self._queue: deque[Job] = deque()

    @property
    def full(self) -> bool:
        return bool(self._queue)

    @property
    def busy(self) -> bool:
        return bool(self._queue)

    def submit(self, chunk: list[Job]) -> None:
        self._queue.extend(chunk)

    def collect(self) -> list[Ended]:
        job = self._queue.popleft()
        return [(job, verify_safely(self._verify_one, job.name, None, size=job.size), None)]

    def close(self) -> None:
        self._queue.clear()


_LINE = "_signsvc_json_line"


def json_line(result: DocumentResult) -> str:
    """``result.to_json()`` as one line of JSON (``--json`` output, the store's copy).

    A worker process makes the line beside the result and it rides along on the
    result object: serialising a result costs more than verifying a small document's
    chain, and the parent process, which every result passes through, must not be
    the bottleneck of the batch.
    """
    line = getattr(result, _LINE, None)
    if isinstance(line, str):
        return line
    return result.to_json_line()


def summarise(results: Iterable[DocumentResult]) -> dict[str, int]:
    """Count results by :func:`category` (every :data:`SUMMARY_KEYS` entry present)."""
    counts = dict.fromkeys(SUMMARY_KEYS, 0)
    for result in results:
        counts[category(result)] += 1
    return counts

