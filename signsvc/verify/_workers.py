"""Worker processes for :mod:`signsvc.verify.batch`: a time and memory limit per file.

A document can hang the code reading it (a decompression bomb, a loop in a parser's C
code) where no Python-level signal reaches. The only limit that always works is a
process: each document is verified in a forked worker, and a worker that overruns its
time is killed (SIGKILL) and replaced; one that crashes (segfault, MemoryError under
its ``RLIMIT_AS``) is replaced too. Either way the document gets an error result: no
document is ever lost silently.

fork, not spawn: the worker inherits the parent's loaded pyHanko, TrustStore and
caches for free (results come back pickled; :mod:`signsvc.verify.results` makes
certificates picklable).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import resource
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_connections
from pathlib import Path
from typing import Any

from signsvc.errors import ValidationSetupError
from signsvc.pki.indications import Indication
from signsvc.verify._urls import fetch_and_verify, is_url
from signsvc.verify.results import DocumentResult

__all__ = ["Ended", "Job", "Workers", "error_result", "fork_available", "verify_safely"]

VerifyOne = Callable[[Path], DocumentResult]

_PR_SET_PDEATHSIG = 1  # prctl(2)


def fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


@dataclass(frozen=True)
class Job:
    """One document handed to a worker."""

    position: int
    """Its place in the batch (input order)."""
    path: Path
    size: int | None
    mtime_ns: int | None
    url: str | None = None
    """The fsspec URL it is read from, when it was named by one."""

    @property
    def name(self) -> str:
        """What the worker is sent: the URL, else the path."""
        return self.url if self.url is not None else str(self.path)


def error_result(path: Path, error: str, error_type: str, *, size: int | None = None,
                 seconds: float | None = None) -> DocumentResult:
    """The result of a document that could not be verified at all."""
    return DocumentResult(path=path, indication=Indication.INDETERMINATE,
                          sub_indication=None, reason=error, size=size, error=error,
                          error_type=error_type, seconds=seconds)


@dataclass(frozen=True)
class _Verified:
    """A worker's answer for one document."""

    position: int
    result: DocumentResult
    line: str | None
    """The result's ``--json`` line, made in the worker (None: the parent makes it)."""


@dataclass(frozen=True)
class _Answers:
    """Answers a worker sends at once (a few dozen documents, or what it did in a
    twentieth of a second, whichever is less)."""

    answers: list[_Verified]
    recycle: bool
    """This worker takes no further document (after a MemoryError) and exits."""


@dataclass(frozen=True)
class _SetupFailed:
    """A worker could not verify anything: the arguments are unusable."""

    reason: str
    argument: str | None


_IDLE = -1.0


class _Worker:
    def __init__(self, process: Any, conn: Connection, slot: Any) -> None:
        self.process = process
        self.conn = conn
        self.slot = slot
        """Shared with the process: [position it is verifying, since when
        (time.monotonic, the same clock in every process)]. Written by the worker
        at the start of each document, read by the parent for time limits and to
        know which document a crash belongs to, without a message per document."""
        self.queue: deque[Job] = deque()
        """Sent, not yet answered, in the order the worker verifies them."""
        self.answered_at = time.monotonic()
        """When the last answer came (or the first chunk was sent to it idle)."""

    def current(self) -> tuple[Job, float] | None:
        """The document being verified and since when, as near as can be told."""
        if not self.queue:
            return None
        position, since = self.slot[0], self.slot[1]
        for job in self.queue:
            if job.position == position:
                return job, since
        # Between two documents: the next one starts about now.
        return self.queue[0], max(since, self.answered_at)

    def deadline(self, timeout: float | None) -> float:
        now = self.current()
        if now is None or timeout is None:
            return float("inf")
        return now[1] + timeout


Ended = tuple[Job, DocumentResult, "str | None"]
"""A document, its result, and the result's JSON line when the worker made it."""


class Workers:
    """Up to ``jobs`` worker processes, started as needed, each sent chunks of documents.

    A chunk is a list of documents sent in one message; the worker verifies them in
    order and answers in groups (:class:`_Answers`), so the parent wakes once per
    group, not once per document: at one-page documents, a round trip per document
    cost more than the verification. Each worker holds at most ``DEPTH`` chunks, so
    it starts the next while the parent stores and prints. Which document a worker
    is on, and since when, is in a slot of shared memory: that is what time limits
    and crash reports need. Documents a killed or crashed worker had not answered
    (verified or not) go to another worker, not blamed; only the one it was on is.
    """

    DEPTH = 2

    def __init__(self, verify_one: VerifyOne, *, jobs: int, timeout: float | None,
                 memory_limit: int | None) -> None:
        self._verify_one = verify_one
        self._jobs = jobs
        self._timeout = timeout
        self._memory_limit = memory_limit
        self._context: Any = multiprocessing.get_context("fork")
        self._workers: dict[Connection, _Worker] = {}
        self._orphans: deque[Job] = deque()
        self._chunk = 1

    @property
    def full(self) -> bool:
        queued = sum(len(w.queue) for w in self._workers.values()) + len(self._orphans)
        return queued >= self.DEPTH * self._jobs * self._chunk

    @property
    def busy(self) -> bool:
        return bool(self._orphans) or any(w.queue for w in self._workers.values())

    def submit(self, chunk: list[Job]) -> None:
        """Hand ``chunk`` to a worker (an idle one, else a new one, else the least
        loaded)."""
        if not chunk:
            return
        self._chunk = max(self._chunk, len(chunk))
        idle = [w for w in self._workers.values() if not w.queue]
        if idle:
            worker = idle[0]
        elif len(self._workers) < self._jobs:
            worker = self._start()
        else:
            worker = min(self._workers.values(), key=lambda w: len(w.queue))
        if not worker.queue:
            # Idle, blocked reading its pipe: it starts on this chunk about now.
            worker.answered_at = time.monotonic()
            worker.slot[0], worker.slot[1] = float(chunk[0].position), worker.answered_at
        worker.queue.extend(chunk)
        try:
            worker.conn.send([(job.position, job.name) for job in chunk])
        except OSError:
            # Died: its end of the pipe reads EOF, and collect() reports it.
            pass

    def collect(self) -> list[Ended]:
        """Wait for at least one document to end: a result, a crash or a time-out.

        Raises:
            ValidationSetupError: a worker found the options unusable (the same for
                every document, so the batch cannot go on).
        """
        while True:
            while self._orphans:
                orphans = list(self._orphans)
                self._orphans.clear()
                for start in range(0, len(orphans), self._chunk):
                    self.submit(orphans[start:start + self._chunk])
            busy = [w for w in self._workers.values() if w.queue]
            deadline = min(w.deadline(self._timeout) for w in busy)
            wait = None if deadline == float("inf") else max(0.0, deadline - time.monotonic())
            ended: list[Ended] = []
            for conn in wait_connections([w.conn for w in busy], timeout=wait):
                assert isinstance(conn, Connection)
                ended += self._receive(self._workers[conn])
            now = time.monotonic()
            for worker in [w for w in busy if w.deadline(self._timeout) <= now]:
                if worker.conn not in self._workers:
                    continue  # retired above
                current = worker.current()
                assert current is not None
                job, since = current
                worker.queue.remove(job)
                self._retire(worker)
                ended.append((job, error_result(
                    job.path, f"timed out after {self._timeout:g} s", "TimeoutError",
                    size=job.size, seconds=now - since), None))
            if ended:
                return ended

    def _receive(self, worker: _Worker) -> list[Ended]:
        """Read every answer already waiting from ``worker`` (or its death)."""
        ended: list[Ended] = []
        while worker.queue:
            try:
                if ended and not worker.conn.poll():
                    break
                message = worker.conn.recv()
            except (EOFError, OSError):
                message = None
            except Exception as exc:  # answers that do not unpickle
                job = worker.queue.popleft()
                self._retire(worker)
                ended.append((job, error_result(job.path, f"unreadable result: {exc}",
                                                type(exc).__name__, size=job.size), None))
                break
            if message is None:
                current = worker.current()
                assert current is not None
                job, since = current
                worker.queue.remove(job)
                self._retire(worker)
                ended.append((job, error_result(
                    job.path, _death(worker.process.exitcode), "WorkerCrashError",
                    size=job.size, seconds=time.monotonic() - since), None))
                break
            if isinstance(message, _SetupFailed):
                self.close()
                raise ValidationSetupError(message.reason, argument=message.argument)
            worker.answered_at = time.monotonic()
            for answer in message.answers:
                job = worker.queue.popleft()
                assert job.position == answer.position, "answers come in the order sent"
                ended.append((job, answer.result, answer.line))
            if message.recycle:
                self._retire(worker)
                break
        return ended

    def _start(self) -> _Worker:
        parent_end, child_end = self._context.Pipe()
        slot = self._context.RawArray("d", [_IDLE, time.monotonic()])
        inherited = [parent_end, *self._workers]
        process = self._context.Process(
            target=_worker_main, daemon=True,
            args=(child_end, inherited, os.getpid(), self._verify_one, self._memory_limit,
                  slot))
        process.start()
        child_end.close()
        worker = self._workers[parent_end] = _Worker(process, parent_end, slot)
        return worker

    def _retire(self, worker: _Worker) -> None:
        """Kill and reap a worker; the documents it had not answered go to another
        worker, first."""
        del self._workers[worker.conn]
        self._orphans.extendleft(reversed(worker.queue))
        worker.queue.clear()
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
        worker.conn.close()

    def close(self) -> None:
        """Stop every worker: idle ones are asked to exit, busy ones killed (their
        documents have no result, and none is recorded)."""
        workers = list(self._workers.values())
        for worker in workers:
            if worker.queue:
                worker.process.kill()
            else:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
        for worker in workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._workers.clear()
        self._orphans.clear()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"the verifying process died ({signal.Signals(-exitcode).name})"
    return f"the verifying process died (exit status {exitcode})"


def _die_with_parent(parent: int) -> None:
    """Linux: be killed when the parent dies, even by ``kill -9`` (a worker stuck in
    a loop would otherwise run on with nobody waiting for its result)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _limit_memory(extra: int | None) -> None:
    """Let this process grow by at most ``extra`` bytes of address space.

    Relative to what the worker already maps (the parent's pyHanko, OpenSSL and
    caches, inherited by fork), because that is not the document's doing. Past the
    limit, allocations fail with MemoryError instead of the kernel's OOM killer
    choosing a victim on the admin's machine.
    """
    if extra is None:
        return
    try:
        with open("/proc/self/statm") as statm:
            current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        current = 0
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = current + extra
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


_FLUSH_COUNT = 32
_FLUSH_SECONDS = 0.05


def verify_safely(verify_one: VerifyOne, name: str | Path, memory_limit: int | None, *,
                  size: int | None = None) -> DocumentResult:
    """``verify_one(path)`` (for a URL: fetched first, :mod:`signsvc.verify._urls`),
    with any failure but an unusable option (raised) turned into the document's error
    result."""
    url = name if isinstance(name, str) and is_url(name) else None
    path = Path(name)
    started = time.perf_counter()
    failure: tuple[str, str] | None = None
    try:
        return verify_one(path) if url is None else fetch_and_verify(verify_one, url)
    except ValidationSetupError:
        raise
    except MemoryError:
        limit = f" ({memory_limit >> 20} MiB per document)" if memory_limit else ""
        failure = (f"out of memory{limit}", "MemoryError")
    except Exception as exc:  # verify_pdf reports bad documents itself; not this
        failure = (f"{type(exc).__name__}: {exc}", type(exc).__name__)
    # Built after the except block, which released the traceback and with it whatever
    # the failed call held (after a MemoryError, most of the memory).
    result = error_result(path, failure[0], failure[1], size=size,
                          seconds=time.perf_counter() - started)
    return result if url is None else replace(result, url=url)


def _worker_main(conn: Connection, inherited: list[Connection], parent: int,
                 verify_one: VerifyOne, memory_limit: int | None, slot: Any) -> None:
    # Ctrl-C goes to the whole process group: the parent decides, workers wait.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Copies of the parent's ends of the pipes (this worker's and its siblings'):
    # while any is open here, no worker would see EOF when the parent dies.
    for other in inherited:
        other.close()
    _die_with_parent(parent)
    _limit_memory(memory_limit)
    answers: list[_Verified] = []
    flushed = time.monotonic()

    def flush(recycle: bool = False) -> bool:
        nonlocal answers, flushed
        try:
            conn.send(_Answers(answers, recycle))
        except (OSError, ValueError):
            return False
        except Exception as exc:  # a result that does not pickle: say so, then stop
            bad = answers[-1]
            replaced = replace(error_result(bad.result.path,
                                            f"result not transferable: {exc}",
                                            type(exc).__name__), url=bad.result.url)
            conn.send(_Answers([*answers[:-1], _Verified(bad.position, replaced, None)],
                               recycle=True))
            return False
        answers, flushed = [], time.monotonic()
        return not recycle

    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        for position, name in chunk:
            slot[1] = time.monotonic()
            slot[0] = float(position)
            try:
                result = verify_safely(verify_one, name, memory_limit)
            except ValidationSetupError as exc:
                conn.send(_SetupFailed(exc.reason, exc.argument))
                return
            # The JSON line is made here, in parallel, not in the one parent process
            # every result goes through (it costs more than the pickling).
            line = result.to_json_line()
            answers.append(_Verified(position, result, line))
            # After a MemoryError this process's heap may be fragmented or
            # half-updated: a fresh worker takes the next document.
            if result.error_type == "MemoryError":
                flush(recycle=True)
                return
            if (len(answers) >= _FLUSH_COUNT
                    or time.monotonic() - flushed >= _FLUSH_SECONDS) and not flush():
                return
        if answers and not flush():
            return
