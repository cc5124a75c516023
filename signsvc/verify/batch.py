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
import json
import os
import stat
import time
from collections.abc import Callable, Generator, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from signsvc.errors import ValidationSetupError
from signsvc.pki.chain import ValidationCache
from signsvc.pki.trust import TrustStore
from signsvc.verify._store import (
    SUMMARY_KEYS,
    StoredResult,
    VerifyStore,
    category,
    params_key,
)
from signsvc.verify._workers import (
    Ended,
    Job,
    VerifyOne,
    Workers,
    error_result,
    fork_available,
)
from signsvc.verify.results import DocumentResult

if TYPE_CHECKING:
    from signsvc.pki.algorithms import ValidationPolicy
    from signsvc.pki.revocation import RevocationMode

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_TIMEOUT",
    "SUMMARY_KEYS",
    "StoredResult",
    "VerifyStore",
    "category",
    "default_jobs",
    "json_line",
    "summarise",
    "verify_batch",
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


def verify_batch(
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
) -> list[DocumentResult]:
    """Verify every document; see :func:`verify_iter` (this collects its results, in
    the order they finished)."""
    return list(verify_iter(
        paths, trust=trust, jobs=jobs, executor=executor, at=at, policy=policy,
        revocation=revocation, online=online, timeout=timeout, memory_limit=memory_limit,
        resume=resume, store=store, progress=progress, cache=cache,
        pdf_password=pdf_password))


def verify_iter(
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
) -> Generator[DocumentResult, None, None]:
    """Verify every document, yielding each result as soon as it is final (and stored).

    Args:
        paths: PDF files (:func:`collect_pdfs` expands directories).
        trust, at, policy, revocation, online, cache, pdf_password: as for
            :func:`signsvc.verify.verify_pdf`, the same for every document (the
            password reaches the forked workers in memory; it is never logged, nor
            written to the store or a report).
        jobs: worker processes (default :func:`default_jobs`).
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
    if executor is None:
        executor = "process" if fork_available() else "inline"
    if executor not in ("process", "inline"):
        raise ValidationSetupError(f"unknown executor {executor!r}", argument="executor")
    if executor == "process" and not fork_available():
        raise ValidationSetupError("worker processes need fork (Linux)", argument="executor")
    if resume and store is None:
        raise ValidationSetupError("resuming needs a store", argument="resume")
    # Imported here so that workers forked later inherit pyHanko already loaded, and
    # so that importing this module stays light.
    from signsvc.verify.pdf import verify_pdf

    verify_one: VerifyOne = functools.partial(
        verify_pdf, trust=trust, at=at, policy=policy, online=online, cache=cache,
        # verify_pdf checks these values (ValidationSetupError); here they are passed on.
        revocation=revocation,
        pdf_password=_Hidden(pdf_password) if pdf_password is not None else None)
    params = params_key(trust, at=at, policy=policy, revocation=revocation, online=online)
    if pdf_password is not None:
        # A run with a password may open what one without could not: its results are
        # not the same. Only the fact that one was given is mixed in, never the
        # password or a hash of it (a stored hash would be a password to brute-force).
        params = hashlib.sha256(f"{params}/pdf-password-given".encode()).hexdigest()
    return _run(paths, verify_one, jobs=jobs, executor=executor, timeout=timeout,
                memory_limit=memory_limit, resume=resume, store=store, params=params,
                progress=progress)


def _run(paths: Iterable[str | os.PathLike[str]], verify_one: VerifyOne, *, jobs: int,
         executor: VerifyExecutor, timeout: float | None, memory_limit: int | None,
         resume: bool, store: VerifyStore | str | os.PathLike[str] | None, params: str,
         progress: Callable[[DocumentResult], None] | None,
         ) -> Generator[DocumentResult, None, None]:
    opened = VerifyStore.open(store) if isinstance(store, str | os.PathLike) else None
    journal = opened or (store if isinstance(store, VerifyStore) else None)
    runner: Workers | _Inline = (
        Workers(verify_one, jobs=jobs, timeout=timeout, memory_limit=memory_limit)
        if executor == "process" else _Inline(verify_one))

    def finish(job: Job, result: DocumentResult, line: str | None = None) -> DocumentResult:
        if line is not None:
            object.__setattr__(result, _LINE, line)  # see json_line()
        if journal is not None:
            journal.record(result, position=job.position, size=job.size,
                           mtime_ns=job.mtime_ns, params=params, line=json_line(result))
        if progress is not None:
            progress(result)
        return result

    try:
        for position, raw in enumerate(paths):
            job, ready = _plan(position, Path(raw))
            if ready is not None:
                yield finish(job, ready)
                continue
            if resume and journal is not None:
                hit = journal.lookup(job.path, size=job.size, mtime_ns=job.mtime_ns,
                                     params=params)
                if hit is not None:
                    journal.reuse(hit[0], position=position)
                    if progress is not None:
                        progress(hit[1])
                    yield hit[1]
                    continue
            # Bounded in flight: wait for a worker before taking the next document,
            # so memory does not grow with the batch.
            while runner.full:
                for done in runner.collect():
                    yield finish(*done)
            runner.submit(job)
        while runner.busy:
            for done in runner.collect():
                yield finish(*done)
    finally:
        # Ctrl-C, an abandoned iterator or an error: in-flight documents are dropped
        # unrecorded, so resume verifies them.
        runner.close()
        if opened is not None:
            opened.close()


def _plan(position: int, path: Path) -> tuple[Job, DocumentResult | None]:
    """The job for ``path``, and its result already when it is not a regular file."""
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
        self._done: list[Ended] = []

    @property
    def full(self) -> bool:
        return bool(self._done)

    @property
    def busy(self) -> bool:
        return bool(self._done)

    def submit(self, job: Job) -> None:
        started = time.perf_counter()
        try:
            result = self._verify_one(job.path)
        except ValidationSetupError:
            raise
        except Exception as exc:  # verify_pdf reports bad documents itself; not this
            result = error_result(job.path, f"{type(exc).__name__}: {exc}",
                                  type(exc).__name__, size=job.size,
                                  seconds=time.perf_counter() - started)
        self._done.append((job, result, None))

    def collect(self) -> list[Ended]:
        done, self._done = self._done, []
        return done

    def close(self) -> None:
        self._done.clear()


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
    return json.dumps(result.to_json(), ensure_ascii=False)


def summarise(results: Iterable[DocumentResult]) -> dict[str, int]:
    """Count results by :func:`category` (every :data:`SUMMARY_KEYS` entry present)."""
    counts = dict.fromkeys(SUMMARY_KEYS, 0)
    for result in results:
        counts[category(result)] += 1
    return counts

