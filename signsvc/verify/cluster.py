"""Verify on a Dask cluster: the same batch, verdicts and store, more machines.

Example::

    >>> from signsvc.verify.cluster import Cluster
    >>> with Cluster.connect("tcp://10.0.0.5:8786") as cluster:  # doctest: +SKIP
    ...     for result in verify_iter(paths, trust=trust, store=store, cluster=cluster):
    ...         print(result.indication.value, result.path)

:func:`signsvc.verify.batch.verify_blocks` plans, resumes and stores exactly as on one
machine; only the verification moves. Chunks of documents become Dask tasks; a worker
plugin, sent once per worker and run, holds the verifier with its trust store (rebuilt
from the anchors' DER, see :meth:`TrustStore.__reduce__`) and one
:class:`~signsvc.pki.chain.ValidationCache` per worker, so a task carries only paths.
Results come back as tasks finish, into the one client process that writes the store.

A worker that dies takes its tasks with it; the scheduler runs them again elsewhere
(Dask's ``allowed-failures``, 3 by default). The batch keeps one result per input
position, so a chunk that ends twice adds nothing twice; a chunk that kills every
worker it is given ends as error results for its documents, and the batch goes on.

Paths must name the same file on every worker (a shared file system): they are made
absolute here, and each result reports the path as given. The time limit per document
is :func:`signsvc.verify.verify_pdf`'s own (cooperative, ``timeout``); the memory limit
is the cluster's (``dask worker --memory-limit``), whose nanny restarts a worker that
passes it.

``dask[distributed]`` is an optional dependency (``pip install signsvc[cluster]``),
imported only when a cluster is asked for.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any

from signsvc.errors import ValidationSetupError
from signsvc.verify._workers import Ended, Job, VerifyOne, error_result

if TYPE_CHECKING:
    from signsvc.verify._daskplugin import Answers

__all__ = ["Cluster", "ClusterRunner"]


class Cluster:
    """A Dask client: to an existing scheduler, or to a LocalCluster it started."""

    def __init__(self, client: Any, local: Any = None) -> None:
        self.client = client
        self._local = local

    @classmethod
    def connect(cls, address: str, *, timeout: float = 10) -> Cluster:
        """Connect to the scheduler at ``address`` (``tcp://HOST:PORT``)."""
        distributed = _distributed()
        try:
            return cls(distributed.Client(address, timeout=timeout))
        except (OSError, TimeoutError, ValueError) as exc:
            raise ValidationSetupError(f"cannot reach the Dask scheduler {address}: {exc}",
                                       argument="scheduler") from exc

    @classmethod
    def local(cls, workers: int) -> Cluster:
        """Start a LocalCluster of ``workers`` single-threaded worker processes on this
        machine (loopback only), and connect to it."""
        if workers < 1:
            raise ValidationSetupError("must be at least 1", argument="local_cluster")
        distributed = _distributed()
        local = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True,
            host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=50)
        try:
            return cls(distributed.Client(local), local)
        except BaseException:
            local.close()
            raise

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()
        if self._local is not None:
            self._local.close()

    @property
    def workers(self) -> int:
        """Workers the scheduler knows now (at least 1, so a plan can be made before
        the first has joined)."""
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def runner(self, verify_one: VerifyOne) -> ClusterRunner:
        """A :class:`~signsvc.verify.batch.Runner` that verifies with ``verify_one``
        on the cluster's workers."""
        return ClusterRunner(self, verify_one)


class ClusterRunner:
    """Chunks as Dask tasks; at most ``DEPTH`` chunks per worker in flight."""

    DEPTH = 2

    def __init__(self, cluster: Cluster, verify_one: VerifyOne) -> None:
        distributed = _distributed()
        self._client = cluster.client
        self._workers = cluster.workers
        self._name = f"signsvc-verify-{uuid.uuid4().hex}"
        from signsvc.verify._daskplugin import Verifier

        self._client.register_plugin(Verifier(verify_one), name=self._name)
        self._done = distributed.as_completed()
        self._chunks: dict[str, list[Job]] = {}
        self._queued = 0
        self._chunk = 1

    @property
    def full(self) -> bool:
        return self._queued >= self.DEPTH * self._workers * self._chunk

    @property
    def busy(self) -> bool:
        return bool(self._chunks)

    def submit(self, chunk: list[Job]) -> None:
        if not chunk:
            return
        self._chunk = max(self._chunk, len(chunk))
        items = [(job.position, job.name, job.url or os.path.abspath(job.path))
                 for job in chunk]
        from signsvc.verify._daskplugin import verify_chunk

        future = self._client.submit(verify_chunk, self._name, items, pure=False,
                                     key=f"{self._name}-{chunk[0].position}")
        self._chunks[future.key] = chunk
        self._queued += len(chunk)
        self._done.add(future)

    def collect(self) -> list[Ended]:
        future = next(self._done)
        chunk = self._chunks.pop(future.key)
        self._queued -= len(chunk)
        try:
            answers: Answers = future.result()
        except Exception as exc:  # the task failed on every worker it was given
            reason = f"the verifying cluster worker failed: {type(exc).__name__}: {exc}"
            return [(job, error_result(job.path, reason, "WorkerCrashError", size=job.size),
                     None) for job in chunk]
        if isinstance(answers, tuple):  # ("setup", reason, argument): options unusable
            raise ValidationSetupError(answers[1], argument=answers[2])
        by_position = {job.position: job for job in chunk}
        return [(by_position[position], result, line)
                for position, result, line in answers]

    def close(self) -> None:
        pending = list(self._done.futures)
        if pending:
            self._client.cancel(pending)
        self._done.clear()
        self._chunks.clear()
        try:
            self._client.unregister_worker_plugin(self._name)
        except Exception:  # the cluster is gone or never had it: nothing to undo
            pass


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ValidationSetupError(
            "verifying on a cluster needs Dask: pip install 'signsvc[cluster]'",
            argument="cluster") from exc
    return distributed
