"""Archive-scale batches (issue 17): chunks to forked workers, and a real Dask cluster.

The same corpus (valid, tampered, unsigned, not-a-PDF, truncated, and attack files:
shadow, incremental saving, signature wrapping, impostors) goes through ``--jobs 1``,
``--jobs 2`` and a 2-worker LocalCluster, and every document's JSON must be identical
apart from timings. A worker killed in the middle of a run, forked or Dask, must cost
no result: every document ends exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from signsvc._inputs import collect_pdfs
from signsvc.pki.trust import TrustStore
from signsvc.verify._workers import Job, Workers
from signsvc.verify.batch import (
    StoredResult,
    VerifyStore,
    auto_chunk,
    verify_batch,
    verify_blocks,
)
from signsvc.verify.cluster import Cluster
from signsvc.verify.pdf import verify_pdf
from signsvc.verify.results import DocumentResult
from tests.support.attacks import ATTACKS, BASES, GOV_ROOT, IMPOSTORS, VALIDATION_TIME
from tests.support.cli import run as run_cli
from tests.support.corpus import make_corpus

AT = VALIDATION_TIME
"""When the attack files' base documents pass."""
LATER = datetime(2030, 1, 1, tzinfo=UTC)
"""When the documents signed for this run pass (inside the test certificates)."""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Our own documents and every attack file of tests/support/attacks."""
    directory = tmp_path_factory.mktemp("archive")
    make_corpus(directory)
    built = {}
    for name, base in BASES.items():
        built[base] = base()
        (directory / f"{name}.pdf").write_bytes(built[base])
    for attack in ATTACKS:
        (directory / f"{attack.name}.pdf").write_bytes(attack.attack(built[attack.base]))
    for name, make in IMPOSTORS.items():
        (directory / f"{name}.pdf").write_bytes(make())
    return collect_pdfs([directory])


@pytest.fixture(scope="module")
def trust() -> TrustStore:
    return TrustStore.from_paths([GOV_ROOT])


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster.local(2) as started:
        yield started


def comparable(result: DocumentResult) -> dict[str, Any]:
    data = result.to_json()
    data.pop("seconds")
    return data


def by_path(results: list[DocumentResult]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for result in results:
        assert str(result.path) not in out, f"{result.path} reported twice"
        out[str(result.path)] = comparable(result)
    return out


def test_one_job_two_jobs_and_a_dask_cluster_give_identical_verdicts(
        corpus: list[Path], trust: TrustStore, cluster: Cluster) -> None:
    inline = by_path([verify_pdf(p, trust=trust, at=AT) for p in corpus])
    one = by_path(verify_batch(corpus, trust=trust, jobs=1, at=AT))
    two = by_path(verify_batch(corpus, trust=trust, jobs=2, at=AT, chunk_size=3))
    dask = by_path(verify_batch(corpus, trust=trust, at=AT, cluster=cluster, chunk_size=3))
    assert len(inline) == len(corpus) > 30
    assert one == inline
    assert two == inline
    assert dask == inline
    # Not a corpus of one kind: every category an admin sees is in it.
    statuses = {(d["status"], d.get("error_type") is not None, bool(d["signatures"]))
                for d in inline.values()}
    assert ("TOTAL-PASSED", False, True) in statuses
    assert ("TOTAL-FAILED", False, True) in statuses
    assert ("INDETERMINATE", True, False) in statuses  # not a PDF, truncated
    assert ("INDETERMINATE", False, False) in statuses  # unsigned


def test_the_cluster_reports_the_paths_as_given(
        corpus: list[Path], trust: TrustStore, cluster: Cluster, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(corpus[0], tmp_path / "a.pdf")
    monkeypatch.chdir(tmp_path)
    (result,) = verify_batch([Path("a.pdf")], trust=trust, at=AT, cluster=cluster)
    assert result.path == Path("a.pdf")
    assert result.to_json()["path"] == "a.pdf"
    assert result.sha256 == verify_pdf(tmp_path / "a.pdf", trust=trust, at=AT).sha256


def test_resume_works_across_local_and_cluster_runs(
        corpus: list[Path], trust: TrustStore, cluster: Cluster, tmp_path: Path) -> None:
    store_path = tmp_path / "store.sqlite3"
    half = len(corpus) // 2
    with VerifyStore.open(store_path) as store:
        verify_batch(corpus[:half], trust=trust, jobs=2, at=AT, store=store)
    with VerifyStore.open(store_path) as store:
        results = verify_batch(corpus, trust=trust, at=AT, cluster=cluster, store=store,
                               resume=True)
        assert {r.path for r in results if isinstance(r, StoredResult)} == set(corpus[:half])
        assert len(store.rows()) == len(corpus)
    with VerifyStore.open(store_path) as store:
        again = verify_batch(corpus, trust=trust, jobs=1, at=AT, store=store, resume=True)
        assert all(isinstance(r, StoredResult) for r in again)
        assert {row["verifications"] for row in store.rows()} == {1}


def many_copies(corpus: list[Path], folder: Path, count: int) -> list[Path]:
    signed = next(p for p in corpus if p.name == "qd-123-signed.pdf")
    folder.mkdir()
    paths = []
    for number in range(count):
        path = folder / f"qd-{number:03d}.pdf"
        os.link(signed, path)
        paths.append(path)
    return paths


def test_a_dask_worker_killed_in_the_middle_costs_no_result(
        corpus: list[Path], trust: TrustStore, tmp_path: Path) -> None:
    paths = many_copies(corpus, tmp_path / "docs", 240)
    killed: list[int] = []
    with Cluster.local(2) as cluster, VerifyStore.open(tmp_path / "s.sqlite3") as store:
        pids = cluster.client.run(os.getpid)
        assert len(pids) == 2

        def kill_one(result: DocumentResult) -> None:
            if not killed:
                victim = next(iter(pids.values()))
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        results = verify_batch(paths, trust=trust, at=LATER, cluster=cluster,
                               store=store, chunk_size=10, progress=kill_one)
        assert killed
        assert sorted(r.path for r in results) == paths  # each exactly once
        assert all(r.passed for r in results), {r.error for r in results if not r.passed}
        rows = store.rows()
        assert len(rows) == len(paths)
        assert {row["verifications"] for row in rows} == {1}
        assert store.summary()["TOTAL-PASSED"] == len(paths)
        # The nanny replaced the killed worker.
        assert victim_gone(killed[0])


def victim_gone(pid: int) -> bool:
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_a_forked_worker_killed_in_the_middle_costs_no_result(
        corpus: list[Path], trust: TrustStore, tmp_path: Path) -> None:
    import multiprocessing

    paths = many_copies(corpus, tmp_path / "docs", 120)
    killed: list[int] = []

    def kill_one(result: DocumentResult) -> None:
        if not killed:
            worker = multiprocessing.active_children()[0]
            assert worker.pid is not None
            os.kill(worker.pid, signal.SIGKILL)
            killed.append(worker.pid)

    results = verify_batch(paths, trust=trust, jobs=2, at=LATER, chunk_size=8,
                           progress=kill_one)
    assert killed
    assert sorted(r.path for r in results) == paths
    # Only the document the worker was on when it died is blamed (if it was on one:
    # killed between two documents, it was on none); the rest were verified elsewhere.
    crashed = [r for r in results if not r.passed]
    assert len(crashed) <= 1
    assert all(r.error_type == "WorkerCrashError" for r in crashed)


def _verify_or_misbehave(path: Path) -> DocumentResult:
    if path.name == "crash.pdf":
        os._exit(3)
    if path.name == "hang.pdf":
        time.sleep(3600)
    return verify_pdf(path, trust=TrustStore.from_paths([GOV_ROOT]), at=LATER)


def run_chunk(workers: Workers, chunk: list[Path]) -> dict[str, DocumentResult]:
    jobs = [Job(n, path, path.stat().st_size, None) for n, path in enumerate(chunk)]
    workers.submit(jobs)
    out: dict[str, DocumentResult] = {}
    while workers.busy:
        for job, result, _line in workers.collect():
            assert job.path.name not in out
            out[job.path.name] = result
    workers.close()
    return out


@pytest.mark.parametrize(("name", "error", "error_type"), [
    ("crash.pdf", "the verifying process died (exit status 3)", "WorkerCrashError"),
    ("hang.pdf", "timed out after 2 s", "TimeoutError"),
])
def test_inside_a_chunk_only_the_document_at_fault_is_blamed(
        corpus: list[Path], tmp_path: Path, name: str, error: str, error_type: str) -> None:
    signed = next(p for p in corpus if p.name == "qd-123-signed.pdf")
    chunk = []
    for label in ("a.pdf", "b.pdf", name, "c.pdf", "d.pdf", "e.pdf"):
        shutil.copy(signed, tmp_path / label)
        chunk.append(tmp_path / label)
    workers = Workers(_verify_or_misbehave, jobs=1, timeout=2, memory_limit=None)
    results = run_chunk(workers, chunk)
    assert sorted(results) == sorted(p.name for p in chunk)
    assert (results[name].error, results[name].error_type) == (error, error_type)
    assert all(results[p.name].passed for p in chunk if p.name != name)


def test_chunks_are_sized_to_the_batch() -> None:
    assert auto_chunk(3, 1) == 1  # a few documents: one per message, as before
    assert auto_chunk(400, 2) == 50
    assert auto_chunk(1_000_000, 2) == 64
    assert auto_chunk(None, 2) == 16  # a stream of unknown length


def test_blocks_are_stored_before_they_are_yielded(
        corpus: list[Path], trust: TrustStore, tmp_path: Path) -> None:
    with VerifyStore.open(tmp_path / "s.sqlite3") as store:
        total = 0
        blocks = 0
        for block in verify_blocks(corpus, trust=trust, jobs=2, at=AT, store=store,
                                   chunk_size=4):
            total += len(block)
            blocks += 1
            assert len(store.rows()) >= total
            assert all(store.rows([r.path])[0]["sha256"] == r.sha256 for r in block)
        assert total == len(corpus) and 1 < blocks < len(corpus)


def test_jobs_are_capped_at_the_number_of_documents(
        corpus: list[Path], trust: TrustStore, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    start = Workers._start

    def counted(self: Workers) -> Any:
        started.append(self)
        return start(self)

    monkeypatch.setattr(Workers, "_start", counted)
    verify_batch(corpus[:1], trust=trust, jobs=8, at=AT)
    assert len(started) == 1
    verify_batch(corpus[:3], trust=trust, jobs=8, at=AT)
    assert len(started) == 1 + 3


def cli_lines(args: list[str], home: Path) -> dict[str, dict[str, Any]]:
    result = run_cli(home, *args)
    assert result.returncode == 1, result.stderr  # some documents fail, by design
    lines = {}
    for line in result.stdout.splitlines():
        data = json.loads(line)
        data.pop("seconds")
        lines[data["path"]] = data
    return lines


def test_the_command_gives_the_same_lines_locally_and_on_a_local_cluster(
        corpus: list[Path], tmp_path: Path) -> None:
    folder = corpus[0].parent
    common = ["verify", str(folder), "--trust", str(GOV_ROOT), "--at", AT.isoformat(),
              "--json"]
    local = cli_lines([*common, "--jobs", "2", "--store", str(tmp_path / "a.sqlite3")],
                      tmp_path)
    dask = cli_lines([*common, "--local-cluster", "2", "--store",
                      str(tmp_path / "b.sqlite3")], tmp_path)
    assert len(local) == len(corpus)
    assert dask == local


def test_a_scheduler_that_is_not_there_is_a_clear_error(tmp_path: Path,
                                                       corpus: list[Path]) -> None:
    result = run_cli(tmp_path, "--lang", "en", "verify", str(corpus[0]), "--trust",
                     str(GOV_ROOT), "--scheduler", "tcp://127.0.0.1:9", "--store",
                     str(tmp_path / "s.sqlite3"))
    assert result.returncode == 2, result.stderr
    assert "cannot reach the Dask scheduler tcp://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr




def test_fsspec_urls_verify_locally_and_on_the_cluster_reported_by_their_url(
        corpus: list[Path], trust: TrustStore, cluster: Cluster, tmp_path: Path) -> None:
    from signsvc.verify._urls import expand

    for path in corpus[:6]:
        shutil.copy(path, tmp_path / path.name)
    urls = expand([f"file://{tmp_path}/"])
    assert urls == sorted(f"file://{tmp_path}/{p.name}" for p in corpus[:6])
    expected = {url: comparable(verify_pdf(tmp_path / url.rsplit("/", 1)[1], trust=trust,
                                           at=AT)) for url in urls}
    for name, data in expected.items():
        data["path"] = name
    store_path = tmp_path / "store.sqlite3"
    with VerifyStore.open(store_path) as store:
        local = verify_batch(urls, trust=trust, jobs=2, at=AT, store=store, chunk_size=2)
    assert {r.url: comparable(r) for r in local} == expected
    assert all(r.to_json()["path"] == r.url for r in local)
    dask = verify_batch(urls, trust=trust, at=AT, cluster=cluster)
    assert {r.url: comparable(r) for r in dask} == expected
    with VerifyStore.open(store_path) as store:
        again = verify_batch(urls, trust=trust, jobs=1, at=AT, store=store, resume=True)
        assert all(isinstance(r, StoredResult) for r in again)
        assert sorted(row["path"] for row in store.rows()) == urls
    assert {r.url: comparable(r) for r in again} == expected


def test_an_in_memory_fsspec_store_and_a_missing_url(
        corpus: list[Path], trust: TrustStore) -> None:
    import fsspec

    memory = fsspec.filesystem("memory")
    signed = next(p for p in corpus if p.name == "qd-123-signed.pdf")
    memory.pipe("/archive/2026/qd-1.pdf", signed.read_bytes())
    results = verify_batch(["memory://archive/2026/qd-1.pdf", "memory://archive/missing.pdf"],
                           trust=trust, jobs=1, at=LATER)
    found, missing = sorted(results, key=lambda r: r.location)
    assert found.url == "memory://archive/2026/qd-1.pdf" and found.passed
    assert found.sha256 == verify_pdf(signed, trust=trust, at=LATER).sha256
    assert missing.url == "memory://archive/missing.pdf"
    assert missing.error_type == "BadInputError"
    assert missing.error is not None and missing.error.startswith("cannot read:")
    assert missing.to_json()["path"] == "memory://archive/missing.pdf"


def test_the_command_takes_urls(corpus: list[Path], tmp_path: Path) -> None:
    folder = corpus[0].parent
    lines = cli_lines(["verify", f"file://{folder}/", "--trust", str(GOV_ROOT), "--at",
                       AT.isoformat(), "--json", "--jobs", "2", "--store",
                       str(tmp_path / "s.sqlite3")], tmp_path)
    assert sorted(lines) == sorted(f"file://{p}" for p in corpus)
    unknown = run_cli(tmp_path, "--lang", "en", "verify", "nosuch://x/", "--trust",
                      str(GOV_ROOT), "--store", str(tmp_path / "t.sqlite3"))
    assert unknown.returncode == 2 and "nosuch://x/" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_listed_urls_are_planned_from_the_listing_without_asking_again(
        corpus: list[Path], trust: TrustStore, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import fsspec.implementations.local as local

    from signsvc.verify._urls import ListedUrl, expand, stat_url

    shutil.copy(corpus[0], tmp_path / "a.pdf")
    (listed,) = expand([f"file://{tmp_path}/"])
    assert isinstance(listed, ListedUrl)
    # What the listing said is what asking the file gives.
    assert (listed.size, listed.mtime_ns) == stat_url(str(listed))
    assert listed.size == (tmp_path / "a.pdf").stat().st_size
    asked: list[str] = []
    info = local.LocalFileSystem.info
    monkeypatch.setattr(local.LocalFileSystem, "info",
                        lambda self, path, **kw: asked.append(path) or info(self, path, **kw))
    (result,) = verify_batch([listed], trust=trust, jobs=1, at=AT)
    assert result.url == f"file://{tmp_path}/a.pdf" and result.size == listed.size
    assert asked == []  # neither the plan nor the fetch asked for the file's details
