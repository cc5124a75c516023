"""sign_batch on real SoftHSM2 tokens and PKCS#12 keys: one login, atomic outputs,
resume by hash, failures recorded while the batch goes on, the audit journal."""

from __future__ import annotations

import ctypes
import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import signsvc
from certs_test.softhsm import SoftHSM
from drivers import Pkcs12Key, TokenKey, TokenRemovedError
from signsvc.sign.batch import plan_outputs
from signsvc.sign.journal import AuditJournal
from tests.support import badpdfs
from tests.support.paths import PKI, ROOT
from tests.support.pdfs import write_one_page_pdf
from tests.support.tokens import ANH


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def p12() -> Pkcs12Key:
    return Pkcs12Key.load(PKI / "official-rsa2048.p12", "1234")


@pytest.fixture
def token_key(hsm: SoftHSM, pin: str) -> Iterator[TokenKey]:
    with signsvc.tokens.open_token_key([hsm.module], label=ANH, cert_id=b"\x01",
                                       pin=lambda _: pin) as key:
        yield key


def inputs(directory: Path, count: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        path = directory / f"qd-{number:02d}.pdf"
        write_one_page_pdf(path, f"Quyet dinh so {number} - TEST ONLY")
        paths.append(path)
    return paths


def assert_signed_by(path: Path, common_name: str, signatures: int = 1) -> None:
    """pdfsig, an independent implementation, finds every signature valid."""
    done = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False)
    assert done.stdout.count("Signature is Valid.") == signatures, done.stdout
    assert f"Common Name: {common_name}" in done.stdout


@pytest.mark.parametrize(("jobs", "executor"), [(1, "thread"), (2, "thread"), (2, "process")])
def test_token_batch_signs_every_document(tmp_path: Path, token_key: TokenKey, jobs: int,
                                          executor: str) -> None:
    docs = inputs(tmp_path / "in", 6)
    before = {p: sha(p) for p in docs}
    results = signsvc.sign_batch(docs, tmp_path / "out", token_key, jobs=jobs,
                                 executor=executor)  # type: ignore[arg-type]
    assert sorted(r.input for r in results) == docs
    assert {r.status for r in results} == {"signed"}
    for result in results:
        assert result.output == tmp_path / "out" / result.input.name
        assert result.output_sha256 == sha(result.output)
        assert result.input_sha256 == before[result.input] == sha(result.input)
        assert result.certificate == token_key.certificate
        # An incremental update: the output starts with the untouched input.
        assert result.output.read_bytes().startswith(result.input.read_bytes())
    assert_signed_by(results[0].output, "Nguyễn Thị Lấp Lánh Ánh")
    assert not list((tmp_path / "out").glob(".*"))  # no temporaries left


def test_failures_are_recorded_and_the_batch_goes_on(tmp_path: Path, p12: Pkcs12Key) -> None:
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    good = inputs(tmp_path / "in", 2)
    bad = [badpdfs.not_a_pdf(bad_dir), badpdfs.truncated(bad_dir), badpdfs.empty_file(bad_dir),
           badpdfs.encrypted(bad_dir)]
    results = {r.input: r for r in signsvc.sign_batch([good[0], *bad, good[1]],
                                                       tmp_path / "out", p12)}
    assert [results[p].status for p in good] == ["signed", "signed"]
    for path in bad:
        result = results[path]
        assert result.status == "failed"
        assert result.error_type == "BadInputError"
        assert str(path) in (result.error or "")
        assert result.output is None
        assert not (tmp_path / "out" / path.name).exists()
    assert "not a PDF" in (results[bad[0]].error or "")
    assert "encrypted" in (results[bad[3]].error or "")


def test_encrypted_input_signed_with_its_password(tmp_path: Path, p12: Pkcs12Key) -> None:
    source = badpdfs.encrypted(tmp_path)
    result = signsvc.sign_pdf(source, tmp_path / "signed.pdf", p12, password="matkhau")
    assert result.status == "signed"
    wrong = signsvc.sign_batch([source], tmp_path / "out", p12, password="sai")
    assert wrong[0].status == "failed" and "password is wrong" in (wrong[0].error or "")


def test_existing_output_is_never_overwritten_unless_asked(tmp_path: Path,
                                                           p12: Pkcs12Key) -> None:
    (doc,) = inputs(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / doc.name).write_bytes(b"precious")
    (result,) = signsvc.sign_batch([doc], out, p12)
    assert result.status == "failed" and result.error_type == "OutputError"
    assert (out / doc.name).read_bytes() == b"precious"
    (result,) = signsvc.sign_batch([doc], out, p12, overwrite=True)
    assert result.status == "signed" and sha(out / doc.name) == result.output_sha256


def test_resume_skips_documents_already_signed_by_hash(tmp_path: Path, p12: Pkcs12Key) -> None:
    docs = inputs(tmp_path / "in", 4)
    out = tmp_path / "out"
    first = signsvc.sign_batch(docs[:2], out, p12)
    signed_hashes = {r.input: r.output_sha256 for r in first}
    # The third input changes after a run: its old output no longer matches by hash.
    signsvc.sign_batch([docs[2]], out, p12)
    write_one_page_pdf(docs[2], "Quyet dinh da sua - TEST ONLY")
    results = {r.input: r for r in signsvc.sign_batch(docs, out, p12, resume=True)}
    assert [results[d].status for d in docs] == ["skipped", "skipped", "failed", "signed"]
    assert {d: results[d].output_sha256 for d in docs[:2]} == signed_hashes
    assert results[docs[2]].error_type == "OutputError"


def test_plan_outputs_refuses_collisions_and_empty_suffix(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "qd.pdf", tmp_path / "b" / "qd.pdf"
    planned = list(plan_outputs([a, b], tmp_path / "out"))
    assert planned[0].output == tmp_path / "out" / "qd.pdf"  # type: ignore[union-attr]
    assert planned[1].status == "failed"  # type: ignore[union-attr]
    (job,) = plan_outputs([a], suffix="-da-ky")
    assert job.output == tmp_path / "a" / "qd-da-ky.pdf"  # type: ignore[union-attr]
    with pytest.raises(signsvc.BadInputError):
        list(plan_outputs([a], suffix=""))


def test_token_removed_mid_batch_stops_and_reports_the_rest(tmp_path: Path,
                                                             token_key: TokenKey) -> None:
    """Closing every session of the slot is what pulling the token out does to them."""
    docs = inputs(tmp_path / "in", 5)
    session = token_key.session
    slot = session._session.token.slot.slot_id
    close_all = session.module.functions._function(
        "C_CloseAllSessions", ctypes.c_ulong)
    seen = []

    def progress(result: signsvc.SignResult) -> None:
        seen.append(result)
        if len(seen) == 2:
            with session.module.lock:
                assert close_all(slot) == 0

    results = signsvc.sign_batch(docs, tmp_path / "out", token_key, progress=progress)
    assert [r.status for r in results] == ["signed", "signed", "failed", "failed", "failed"]
    assert isinstance(results[2].exception, TokenRemovedError)
    assert all("not attempted" in (r.error or "") for r in results[3:])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [d.name for d in docs[:2]]


def test_journal_records_every_attempt_and_never_the_pin(tmp_path: Path, token_key: TokenKey,
                                                         pin: str) -> None:
    docs = [*inputs(tmp_path / "in", 2), badpdfs.not_a_pdf(tmp_path)]
    db = tmp_path / "audit.sqlite3"
    with AuditJournal.open(db) as journal:
        results = signsvc.sign_batch(docs, tmp_path / "out", token_key, journal=journal)
        entries = journal.entries()
    assert [e.status for e in entries] == [r.status for r in results]
    by_input = {e.input_path: e for e in entries}
    for result in results:
        entry = by_input[str(result.input)]
        assert entry.input_sha256 == result.input_sha256
        assert entry.output_sha256 == result.output_sha256
        assert entry.signer_serial == format(token_key.certificate.serial_number, "x")
        assert entry.signer_subject == token_key.certificate.subject.rfc4514_string()
        assert entry.level == "B-B"
        assert entry.local_time.utcoffset().total_seconds() == 7 * 3600  # type: ignore[union-attr]
    assert "not a PDF" in (by_input[str(docs[2])].error or "")
    assert len({e.batch for e in entries}) == 1
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for path in (db, db.with_name(db.name + "-wal")):
        if path.exists():
            assert pin.encode() not in path.read_bytes()


def test_write_failure_is_a_per_file_error_and_leaves_no_partial_file(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes writes past 20 kB fail (EFBIG), as a full disk would."""
    docs = inputs(tmp_path / "in", 2)
    big = write_one_page_pdf(tmp_path / "in" / "big.pdf", "x" * 30000)
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))\n"
        "from pathlib import Path\n"
        "import signsvc\n"
        "from drivers import Pkcs12Key\n"
        f"key = Pkcs12Key.load(Path({str(PKI / 'official-rsa2048.p12')!r}), '1234')\n"
        f"ins = [Path(p) for p in {[str(docs[0]), str(big), str(docs[1])]!r}]\n"
        f"for r in signsvc.sign_batch(ins, Path({str(tmp_path / 'out')!r}), key):\n"
        "    print(r.status, r.error_type, r.error)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["signed", "failed", "signed"]
    assert lines[1].split()[1] == "OutputError" and "cannot write" in lines[1]
    assert sorted(os.listdir(tmp_path / "out")) == ["qd-00.pdf", "qd-01.pdf"]


def test_read_only_output_directory_fails_each_file_clearly(tmp_path: Path,
                                                             p12: Pkcs12Key) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    mounted = False
    if os.geteuid() == 0:
        # root ignores directory permissions: a read-only tmpfs where mounting is
        # allowed, else /proc (no regular file can be created there either).
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(out)],
            capture_output=True, check=False).returncode == 0
        if not mounted:
            out = Path("/proc")
    else:
        out.chmod(0o555)
    try:
        docs = inputs(tmp_path / "in", 2)
        results = signsvc.sign_batch(docs, out, p12)
        assert [r.status for r in results] == ["failed", "failed"]
        assert all(r.error_type == "OutputError" and str(out) in (r.error or "")
                   and "cannot write" in (r.error or "") for r in results)
    finally:
        if mounted:
            subprocess.run(["umount", str(out)], check=True)
