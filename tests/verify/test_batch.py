"""signsvc.verify.batch: real signed PDFs verified by the real verify_pdf in forked
workers, the SQLite store, resume, time and memory limits, crashed workers."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from signsvc._inputs import collect_pdfs
from signsvc.errors import ValidationSetupError
from signsvc.pki.indications import Indication, SubIndication
from signsvc.pki.trust import TrustStore
from signsvc.verify.batch import (
    StoredResult,
    VerifyStore,
    category,
    summarise,
    verify_batch,
    verify_iter,
)
from signsvc.verify.pdf import verify_pdf
from signsvc.verify.results import DocumentResult
from tests.support.corpus import make_corpus
from tests.support.paths import PKI

AT = datetime(2030, 1, 1, tzinfo=UTC)
"""Inside every test certificate's validity, after the documents are signed."""
TINY = 1e-6
"""A time limit no document can meet: a worker cannot even receive its document and
answer in a microsecond, so every document deterministically times out."""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def trust() -> TrustStore:
    return TrustStore.from_paths([PKI / "gov-root-g2.crt.pem"])


def comparable(result: DocumentResult) -> dict[str, Any]:
    data = result.to_json()
    data.pop("seconds")
    return data


def by_name(results: list[DocumentResult]) -> dict[str, DocumentResult]:
    return {r.path.name: r for r in results}


def test_collect_pdfs_recursive_sorted_each_file_once(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("z.pdf", "a/Y.PDF", "a/b/x.Pdf", "a/readme.txt", "a/b/scan.pdf.bak"):
        (tmp_path / name).write_bytes(b"%PDF-1.7\n")
    os.symlink("..", tmp_path / "a" / "b" / "loop")  # a link loop ends the walk there
    os.symlink(tmp_path / "a", tmp_path / "alias")  # the same folder twice
    missing = tmp_path / "gone.pdf"
    found = collect_pdfs([tmp_path / "a", tmp_path / "z.pdf", missing, tmp_path / "z.pdf",
                          tmp_path / "alias"])
    assert found == [tmp_path / "a" / "Y.PDF", tmp_path / "a" / "b" / "x.Pdf",
                     tmp_path / "z.pdf", missing]


def test_each_document_gets_its_verdict_and_workers_agree_with_inline(
        corpus: dict[str, Path], trust: TrustStore) -> None:
    paths = collect_pdfs([corpus["signed"].parent])
    assert len(paths) == 7
    results = verify_batch([*paths, corpus["signed"].parent / "missing.pdf"], trust=trust,
                           jobs=2, at=AT)
    named = by_name(results)
    assert len(results) == 8
    assert named["qd-123-signed.pdf"].indication is Indication.TOTAL_PASSED
    assert named["qd-123-signed.pdf"].signatures[0].signer is not None
    assert named["qd-125-signed.PDF"].passed and named["phu-luc-signed.pdf"].passed
    tampered = named["qd-123-tampered.pdf"]
    assert (tampered.indication, tampered.sub_indication) == (
        Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    assert category(named["unsigned.pdf"]) == "unsigned"
    assert category(named["not-a-pdf-html.pdf"]) == "error"
    assert category(named["truncated.pdf"]) == "error"
    assert named["missing.pdf"].error_type == "FileNotFoundError"
    assert summarise(results) == {"TOTAL-PASSED": 3, "TOTAL-FAILED": 1, "INDETERMINATE": 0,
                                  "unsigned": 1, "error": 3}
    # What came back pickled from a worker is what verify_pdf says in this process.
    for path in paths:
        assert comparable(named[path.name]) == comparable(
            verify_pdf(path, trust=trust, at=AT)), path.name


def test_results_are_stored_before_they_are_yielded(
        corpus: dict[str, Path], trust: TrustStore, tmp_path: Path) -> None:
    paths = collect_pdfs([corpus["signed"].parent])
    with VerifyStore.open(tmp_path / "store.sqlite3") as store:
        seen: list[int] = []
        for number, result in enumerate(verify_iter(paths, trust=trust, jobs=2, at=AT,
                                                    store=store), start=1):
            seen.append(len(store.rows()))
            assert store.rows([result.path])[0]["sha256"] == result.sha256
            # Committed in blocks: at least everything yielded so far is stored.
            assert seen[-1] >= number
        assert seen == sorted(seen) and seen[-1] == len(paths)
        # The run reads back in input order, whatever order the workers finished in.
        assert [d["path"] for d in store.iter_json()] == [str(p) for p in paths]
        assert store.summary() == {"TOTAL-PASSED": 3, "TOTAL-FAILED": 1,
                                   "INDETERMINATE": 0, "unsigned": 1, "error": 2}


def test_resume_reuses_unchanged_documents_and_verifies_changed_ones(
        corpus: dict[str, Path], trust: TrustStore, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    shutil.copytree(corpus["signed"].parent, folder)
    paths = collect_pdfs([folder])
    store_path = tmp_path / "store.sqlite3"
    first = by_name(verify_batch(paths, trust=trust, jobs=2, at=AT, store=store_path))
    with VerifyStore.open(store_path) as store:
        before = {row["path"]: row for row in store.rows()}
    changed = folder / "unsigned.pdf"
    os.utime(changed, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))

    with VerifyStore.open(store_path) as store:
        again = by_name(verify_batch(paths, trust=trust, jobs=2, at=AT, store=store,
                                     resume=True))
        after = {row["path"]: row for row in store.rows()}
        assert len(list(store.iter_json())) == len(paths)
    fresh = {name for name, r in again.items() if not isinstance(r, StoredResult)}
    assert fresh == {"unsigned.pdf"}
    assert after[str(changed)]["verifications"] == 2
    for path in paths:
        if path != changed:  # the stored rows were read, not rewritten
            assert after[str(path)] == before[str(path)]
            assert after[str(path)]["verifications"] == 1
        assert comparable(again[path.name]) == comparable(first[path.name])
        assert again[path.name].indication is first[path.name].indication
        assert category(again[path.name]) == category(first[path.name])


def test_changing_the_trust_set_verifies_again(
        corpus: dict[str, Path], trust: TrustStore, tmp_path: Path) -> None:
    paths = [corpus["signed"], corpus["unsigned"]]
    store = tmp_path / "store.sqlite3"
    verify_batch(paths, trust=trust, jobs=1, at=AT, store=store)
    other = TrustStore.from_paths([PKI / "vn-root.crt.pem"])
    results = by_name(verify_batch(paths, trust=other, jobs=1, at=AT, store=store,
                                   resume=True))
    assert not any(isinstance(r, StoredResult) for r in results.values())
    signed = results["qd-123-signed.pdf"]
    assert (signed.indication, signed.sub_indication) == (
        Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    # Another validation time is another question too.
    later = verify_batch(paths, trust=trust, jobs=1, at=datetime(2031, 1, 1, tzinfo=UTC),
                         store=store, resume=True)
    assert not any(isinstance(r, StoredResult) for r in later)
    # The first trust set's rows are still there to resume from.
    again = verify_batch(paths, trust=trust, jobs=1, at=AT, store=store, resume=True)
    assert all(isinstance(r, StoredResult) for r in again)


def test_an_interrupted_run_resumes_without_verifying_anything_twice(
        corpus: dict[str, Path], trust: TrustStore, tmp_path: Path) -> None:
    paths = []
    for number in range(12):
        path = tmp_path / f"qd-{number:02d}.pdf"
        shutil.copy(corpus["signed"], path)
        paths.append(path)
    store_path = tmp_path / "store.sqlite3"
    with VerifyStore.open(store_path) as store:
        run = verify_iter(paths, trust=trust, jobs=2, at=AT, store=store)
        done = [next(run), next(run), next(run)]
        run.close()  # what Ctrl-C does to the CLI's loop: in-flight work is dropped
        # What was yielded is stored, with at most the rest of its block.
        stored = {Path(row["path"]) for row in store.rows()}
        assert {r.path for r in done} <= stored and len(stored) < len(paths)
    with VerifyStore.open(store_path) as store:
        rest = verify_batch(paths, trust=trust, jobs=2, at=AT, store=store, resume=True)
        rows = store.rows()
        assert store.summary()["TOTAL-PASSED"] == 12
    reused = {r.path for r in rest if isinstance(r, StoredResult)}
    assert reused == stored
    assert sorted(row["path"] for row in rows) == sorted(str(p) for p in paths)
    assert {row["verifications"] for row in rows} == {1}


def test_a_document_over_the_time_limit_is_reported_and_the_batch_goes_on(
        corpus: dict[str, Path], trust: TrustStore) -> None:
    paths = [corpus["signed"], corpus["tampered"], corpus["signed2"], corpus["unsigned"]]
    results = verify_batch(paths, trust=trust, jobs=1, at=AT, timeout=TINY)
    assert sorted(r.path.name for r in results) == sorted(p.name for p in paths)
    for result in results:
        assert result.indication is Indication.INDETERMINATE
        assert result.error == "timed out after 1e-06 s"
        assert result.error_type == "TimeoutError"
        assert category(result) == "error"
    # Each timed-out worker was killed and waited for, not left behind.
    assert multiprocessing.active_children() == []
    # The same documents without the limit: the time-outs were the limit's doing.
    assert [r.passed for r in verify_batch(paths[:1], trust=trust, jobs=1, at=AT)] == [True]


def bomb_pdf(path: Path, mebibytes: int) -> Path:
    """A PDF whose cross-reference stream inflates to ``mebibytes`` MiB of zeros
    (a 1:1000 decompression bomb): the parser must inflate it to find any object."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for body in (b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % len(offsets) + body + b"\nendobj\n"
    xref_at = len(out)
    # ISO 32000-1 §7.5.8.3: /W [1 4 2] rows: type, offset, generation.
    rows = b"\x00\x00\x00\x00\x00\xff\xff" + b"".join(
        b"\x01" + offset.to_bytes(4, "big") + b"\x00\x00" for offset in (*offsets, xref_at))
    packer = zlib.compressobj(9)
    packed = packer.compress(rows)
    zeros = bytes(1 << 20)
    for _ in range(mebibytes):
        packed += packer.compress(zeros)
    packed += packer.flush()
    out += (b"3 0 obj\n<< /Type /XRef /Size 4 /W [1 4 2] /Root 1 0 R /Filter /FlateDecode "
            b"/Length %d >>\nstream\n" % len(packed)) + packed + b"\nendstream\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    path.write_bytes(bytes(out))
    return path


def test_a_document_over_the_memory_limit_is_reported_and_the_batch_goes_on(
        corpus: dict[str, Path], trust: TrustStore, tmp_path: Path) -> None:
    bomb = bomb_pdf(tmp_path / "bomb.pdf", 256)
    assert bomb.stat().st_size < 1 << 20
    results = verify_batch([bomb, corpus["signed"]], trust=trust, jobs=1, at=AT,
                           memory_limit=64 << 20)
    named = by_name(results)
    assert named["bomb.pdf"].error == "out of memory (64 MiB per document)"
    assert named["bomb.pdf"].error_type == "MemoryError"
    # The next document got a fresh worker, and 64 MiB is plenty for a real one.
    assert named["qd-123-signed.pdf"].passed


def test_a_crashed_worker_fails_its_document_only(
        corpus: dict[str, Path], trust: TrustStore) -> None:
    paths = [corpus["signed"], corpus["signed2"], corpus["appendix"]]
    killed: list[int] = []

    def kill_the_worker(result: DocumentResult) -> None:
        # Called after the first result, when the one worker holds the next document
        # (or, if it was quick, the one after): that document dies with it.
        if not killed:
            (worker,) = multiprocessing.active_children()
            assert worker.pid is not None
            os.kill(worker.pid, 9)
            killed.append(worker.pid)

    results = verify_batch(paths, trust=trust, jobs=1, at=AT, progress=kill_the_worker)
    assert sorted(r.path for r in results) == sorted(paths)
    assert results[0].passed
    crashed = [r for r in results if not r.passed]
    assert len(crashed) == 1 and crashed[0].path != paths[0]
    assert crashed[0].error == "the verifying process died (SIGKILL)"
    assert crashed[0].error_type == "WorkerCrashError"
    assert crashed[0].indication is Indication.INDETERMINATE
    assert multiprocessing.active_children() == []


def test_not_a_regular_file_is_never_opened(trust: TrustStore, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.pdf"
    os.mkfifo(fifo)  # reading it would block until a writer came (here: time out)
    (result,) = verify_batch([fifo], trust=trust, jobs=1, at=AT, timeout=30)
    assert (result.error, result.error_type) == ("not a regular file", "BadInputError")
    (folder,) = verify_batch([tmp_path], trust=trust, jobs=1, at=AT)
    assert folder.error_type == "IsADirectoryError"


def test_inline_executor_gives_the_same_verdicts(
        corpus: dict[str, Path], trust: TrustStore) -> None:
    paths = [corpus["signed"], corpus["tampered"], corpus["not_pdf"]]
    seen: list[Path] = []
    inline = verify_batch(paths, trust=trust, executor="inline", at=AT,
                          progress=lambda r: seen.append(r.path))
    assert seen == paths  # one at a time, in order
    assert [comparable(r) for r in inline] == [
        comparable(verify_pdf(p, trust=trust, at=AT)) for p in paths]


def test_unusable_options_raise(corpus: dict[str, Path], trust: TrustStore) -> None:
    paths = [corpus["signed"], corpus["signed2"]]
    with pytest.raises(ValidationSetupError) as jobs:
        verify_iter(paths, trust=trust, jobs=0)
    assert jobs.value.argument == "jobs"
    with pytest.raises(ValidationSetupError) as timeout:
        verify_iter(paths, trust=trust, timeout=0)
    assert timeout.value.argument == "timeout"
    with pytest.raises(ValidationSetupError) as resume:
        verify_iter(paths, trust=trust, resume=True)
    assert resume.value.argument == "resume"
    # verify_pdf's own refusal, met in a worker process, stops the batch here.
    with pytest.raises(ValidationSetupError) as policy:
        verify_batch(paths, trust=trust, jobs=2, policy="lenient")
    assert policy.value.argument == "policy"
    assert multiprocessing.active_children() == []
