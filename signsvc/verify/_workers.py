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
import json
import multiprocessing
import os
import resource
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_connections
from pathlib import Path
from typing import Any

from signsvc.errors import ValidationSetupError
from signsvc.pki.indications import Indication
from signsvc.verify.results import DocumentResult

__all__ = ["Ended", "Job", "Workers", "error_result", "fork_available"]

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


def error_result(path: Path, error: str, error_type: str, *, size: int | None = None,
                 seconds: float | None = None) -> DocumentResult:
    """The result of a document that could not be verified at all."""
    return DocumentResult(path=path, indication=Indication.INDETERMINATE,
                          sub_indication=None, reason=error, size=size, error=error,
                          error_type=error_type, seconds=seconds)


@dataclass(frozen=True)
class _Verified:
    """A worker's answer for one document."""

    result: DocumentResult
    line: str | None
    """The result's ``--json`` line, made in the worker (None: the parent makes it)."""
    recycle: bool
    """This worker must not take another document (after a MemoryError)."""


@dataclass(frozen=True)
class _SetupFailed:
    """A worker could not verify anything: the arguments are unusable."""

    reason: str
    argument: str | None


class _Worker:
    def __init__(self, process: Any, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.queue: deque[Job] = deque()
        """Sent, not yet answered; the first is the one being verified."""
        self.started = time.monotonic()
        """When the first in the queue started (as near as the parent can tell)."""

    def deadline(self, timeout: float | None) -> float:
        if not self.queue or timeout is None:
            return float("inf")
        return self.started + timeout


Ended = tuple[Job, DocumentResult, "str | None"]
"""A document, its result, and the result's JSON line when the worker made it."""


class Workers:
    """Up to ``jobs`` worker processes, started as needed, ``DEPTH`` documents each.

    Two documents per worker: while the parent stores and prints one result, the
    worker is already on the next document instead of waiting for it. Not more, so
    the parent knows which document a worker is on and since when (the one after the
    last answered, since the answer): that is what time limits and crash reports
    need, and a document queued behind one that crashed is handed to another worker,
    not blamed.
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

    @property
    def full(self) -> bool:
        queued = sum(len(w.queue) for w in self._workers.values()) + len(self._orphans)
        return queued >= self.DEPTH * self._jobs

    @property
    def busy(self) -> bool:
        return bool(self._orphans) or any(w.queue for w in self._workers.values())

    def submit(self, job: Job) -> None:
        idle = [w for w in self._workers.values() if not w.queue]
        if idle:
            worker = idle[0]
        elif len(self._workers) < self._jobs:
            worker = self._start()
        else:
            worker = min(self._workers.values(), key=lambda w: len(w.queue))
        if not worker.queue:
            worker.started = time.monotonic()
        worker.queue.append(job)
        try:
            worker.conn.send(str(job.path))
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
                self.submit(self._orphans.popleft())
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
                job = worker.queue.popleft()
                self._retire(worker)
                ended.append((job, error_result(
                    job.path, f"timed out after {self._timeout:g} s", "TimeoutError",
                    size=job.size, seconds=now - worker.started), None))
            if ended:
                return ended

    def _receive(self, worker: _Worker) -> list[Ended]:
        """Read every answer already waiting from ``worker`` (or its death)."""
        ended: list[Ended] = []
        while worker.queue:
            job = worker.queue[0]
            try:
                if ended and not worker.conn.poll():
                    break
                message = worker.conn.recv()
            except (EOFError, OSError):
                message = None
            except Exception as exc:  # a result that does not unpickle
                message = _Verified(error_result(job.path, f"unreadable result: {exc}",
                                                 type(exc).__name__, size=job.size),
                                    None, recycle=True)
            now = time.monotonic()
            if message is None:
                worker.queue.popleft()
                self._retire(worker)
                ended.append((job, error_result(
                    job.path, _death(worker.process.exitcode), "WorkerCrashError",
                    size=job.size, seconds=now - worker.started), None))
                break
            if isinstance(message, _SetupFailed):
                self.close()
                raise ValidationSetupError(message.reason, argument=message.argument)
            worker.queue.popleft()
            worker.started = now
            ended.append((job, message.result, message.line))
            if message.recycle:
                self._retire(worker)
                break
        return ended

    def _start(self) -> _Worker:
        parent_end, child_end = self._context.Pipe()
        inherited = [parent_end, *self._workers]
        process = self._context.Process(
            target=_worker_main, daemon=True,
            args=(child_end, inherited, os.getpid(), self._verify_one, self._memory_limit))
        process.start()
        child_end.close()
        worker = self._workers[parent_end] = _Worker(process, parent_end)
        return worker

    def _retire(self, worker: _Worker) -> None:
        """Kill and reap a worker; documents queued behind its current one go to
        another worker."""
        del self._workers[worker.conn]
        self._orphans.extend(worker.queue)
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


def _worker_main(conn: Connection, inherited: list[Connection], parent: int,
                 verify_one: VerifyOne, memory_limit: int | None) -> None:
    # Ctrl-C goes to the whole process group: the parent decides, workers wait.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Copies of the parent's ends of the pipes (this worker's and its siblings'):
    # while any is open here, no worker would see EOF when the parent dies.
    for other in inherited:
        other.close()
    _die_with_parent(parent)
    _limit_memory(memory_limit)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        path = Path(message)
        started = time.perf_counter()
        failure: tuple[str, str] | None = None
        try:
            result = verify_one(path)
        except ValidationSetupError as exc:
            conn.send(_SetupFailed(exc.reason, exc.argument))
            return
        except MemoryError:
            limit = f" ({memory_limit >> 20} MiB per document)" if memory_limit else ""
            failure = (f"out of memory{limit}", "MemoryError")
        except Exception as exc:  # verify_pdf reports bad documents itself; not this
            failure = (f"{type(exc).__name__}: {exc}", type(exc).__name__)
        if failure is not None:
            # Built after the except block, which released the traceback and with it
            # whatever the failed call held (after a MemoryError, most of the memory).
            result = error_result(path, failure[0], failure[1],
                                  seconds=time.perf_counter() - started)
        # After a MemoryError this process's heap may be fragmented or half-updated:
        # a fresh worker takes the next document.
        recycle = result.error_type == "MemoryError"
        try:
            # The JSON line is made here, in parallel, not in the one parent process
            # every result goes through (it costs more than the pickling).
            line = json.dumps(result.to_json(), ensure_ascii=False)
            conn.send(_Verified(result, line, recycle))
        except (OSError, ValueError):
            return
        except Exception as exc:  # the result does not pickle
            conn.send(_Verified(error_result(path, f"result not transferable: {exc}",
                                             type(exc).__name__), None, recycle=True))
            return
        if recycle:
            return
