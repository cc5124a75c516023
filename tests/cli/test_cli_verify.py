"""``signsvc verify`` end to end, in a fresh process each time, on real signed PDFs."""

from __future__ import annotations

import csv
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.corpus import make_corpus
from tests.support.paths import PKI, ROOT

ROOT_G2 = str(PKI / "gov-root-g2.crt.pem")
CONTRACT = {"path", "status", "signatures"}
SIGNATURE_CONTRACT = {"indication", "sub_indication", "signer", "intact", "modification"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_corpus(tmp_path_factory.mktemp("cli-corpus"))


def env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
            "SIGNSVC_TRUST_DIR": str(tmp_path / "trust")}


def command(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "cli.py"), "verify", *args]


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), env=env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)


def lines(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in done.stdout.splitlines()]


def signed_copies(corpus: dict[str, Path], folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"qd-{number:03d}.pdf" for number in range(count)]
    for path in paths:
        shutil.copy(corpus["signed"], path)
    return paths


def store_rows(path: Path) -> dict[str, tuple[str, int]]:
    """path -> (finished_at, verifications), read with plain sqlite3."""
    with sqlite3.connect(path) as db:
        return {p: (f, v) for p, f, v in db.execute(
            "SELECT path, finished_at, verifications FROM documents")}


def test_all_passed_exits_0_and_json_lines_follow_the_contract(
        corpus: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "a" / "b").mkdir(parents=True)
    shutil.copy(corpus["signed"], folder / "top.pdf")
    shutil.copy(corpus["signed2"], folder / "a" / "b" / "deep.PDF")
    done = run(tmp_path, str(folder), "--trust", ROOT_G2, "--json", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    results = lines(done)
    assert sorted(Path(r["path"]).name for r in results) == ["deep.PDF", "top.pdf"]
    for result in results:
        assert CONTRACT <= result.keys()
        assert result["status"] == "TOTAL-PASSED"
        (signature,) = result["signatures"]
        assert SIGNATURE_CONTRACT <= signature.keys()
        assert signature["intact"] is True and signature["modification"] == "none"
        assert "Nguyễn Thị Lấp Lánh Ánh" in signature["signer"]["subject"]
    assert ("TOTAL-PASSED 2, TOTAL-FAILED 0, INDETERMINATE 0, unsigned 0, errors 0"
            in done.stderr)
    assert (tmp_path / ".signsvc-verify.sqlite3").is_file()  # the default store


def test_a_mixed_folder_exits_1_with_a_line_and_a_reason_each(
        corpus: dict[str, Path], tmp_path: Path) -> None:
    done = run(tmp_path, str(corpus["signed"].parent), "--trust", ROOT_G2, "--jobs", "1")
    assert done.returncode == 1, done.stderr
    out = {Path(line.split()[1].rstrip(":")).name: line
           for line in done.stdout.splitlines()}
    assert len(out) == 7
    # Signed at B-B and verified offline (soft-fail): passed, but nobody could say
    # whether the certificates were revoked (tests/verify/test_revocation_count.py).
    assert out["qd-123-signed.pdf"] == (f"TOTAL-PASSED   {corpus['signed']}: "
                                        "not checked for revocation")
    assert out["qd-123-tampered.pdf"].startswith("TOTAL-FAILED")
    assert "messageDigest" in out["qd-123-tampered.pdf"]
    assert out["unsigned.pdf"].endswith(": the document has no signature")
    assert out["not-a-pdf-html.pdf"].startswith("INDETERMINATE")
    assert "not a PDF" in out["not-a-pdf-html.pdf"]
    assert ("TOTAL-PASSED 3, TOTAL-FAILED 1, INDETERMINATE 0, unsigned 1, errors 2"
            in done.stderr)


def test_usage_errors_exit_2(corpus: dict[str, Path], tmp_path: Path) -> None:
    signed = str(corpus["signed"])
    no_anchor = run(tmp_path, signed)  # the user trust folder is empty
    assert no_anchor.returncode == 2
    assert "no trust anchor" in no_anchor.stderr and no_anchor.stdout == ""
    bad_report = run(tmp_path, signed, "--trust", ROOT_G2, "--report", "out.xlsx")
    assert bad_report.returncode == 2 and ".xlsx" in bad_report.stderr
    assert not (tmp_path / ".signsvc-verify.sqlite3").exists()  # failed before any work
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(tmp_path, str(empty), "--trust", ROOT_G2).returncode == 2
    assert run(tmp_path, signed, "--trust", str(tmp_path / "nope.pem")).returncode == 2
    assert run(tmp_path, signed, "--trust", ROOT_G2, "--at", "yesterday").returncode == 2
    assert run(tmp_path, signed, "--trust", ROOT_G2, "--jobs", "0").returncode == 2


def test_the_user_trust_folder_is_the_default(
        corpus: dict[str, Path], tmp_path: Path) -> None:
    added = subprocess.run([sys.executable, str(ROOT / "cli.py"), "trust", "add", ROOT_G2],
                           env=env(tmp_path), capture_output=True, text=True, check=False)
    assert added.returncode == 0, added.stderr
    done = run(tmp_path, str(corpus["signed"]), "--json")
    assert done.returncode == 0, done.stderr
    assert [r["status"] for r in lines(done)] == ["TOTAL-PASSED"]


def test_at_is_vietnam_time_and_decides_the_verdict(
        corpus: dict[str, Path], tmp_path: Path) -> None:
    # official-rsa2048 is valid until 2045-12-31T23:59:59Z, i.e. 2046-01-01 06:59:59
    # in Vietnam: a naive 06:59 that day is still inside, 07:30 is after.
    inside = run(tmp_path, str(corpus["signed"]), "--trust", ROOT_G2, "--json",
                 "--at", "2046-01-01T06:59")
    after = run(tmp_path, str(corpus["signed"]), "--trust", ROOT_G2, "--json",
                "--at", "2046-01-01T07:30")
    assert inside.returncode == 0, inside.stdout
    assert lines(inside)[0]["validation_time"] == "2045-12-31T23:59:00+00:00"
    assert after.returncode == 1
    assert lines(after)[0]["status"] != "TOTAL-PASSED"


def test_a_timed_out_document_is_reported_and_the_rest_go_on(
        corpus: dict[str, Path], tmp_path: Path) -> None:
    paths = signed_copies(corpus, tmp_path / "in", 3)
    done = run(tmp_path, *map(str, paths), "--trust", ROOT_G2, "--json", "--jobs", "1",
               "--timeout", "0.000001")
    assert done.returncode == 1
    results = lines(done)
    assert len(results) == 3
    assert {(r["error_type"], r["error"]) for r in results} == {
        ("TimeoutError", "timed out after 1e-06 s")}
    assert "errors 3" in done.stderr


@pytest.mark.parametrize("suffix", ["json", "csv", "html"])
def test_reports_are_written_from_the_store(
        corpus: dict[str, Path], tmp_path: Path, suffix: str) -> None:
    report = tmp_path / f"bao-cao.{suffix}"
    done = run(tmp_path, str(corpus["signed"].parent), "--trust", ROOT_G2,
               "--report", str(report))
    assert done.returncode == 1, done.stderr
    assert f"report {report}" in done.stderr
    text = report.read_text(encoding="utf-8-sig")
    if suffix == "json":
        data = json.loads(text)
        assert len(data["documents"]) == 7
        assert data["summary"]["TOTAL-PASSED"] == 3 and data["summary"]["error"] == 2
    elif suffix == "csv":
        rows = list(csv.DictReader(text.splitlines()))
        paths = {row["path"] for row in rows}
        assert str(corpus["tampered"]) in paths and len(paths) == 7
    else:
        assert "qd-123-tampered.pdf" in text and "Nguyễn Thị Lấp Lánh Ánh" in text


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_run_finishes_with_resume(
        corpus: dict[str, Path], tmp_path: Path, how: signal.Signals) -> None:
    paths = signed_copies(corpus, tmp_path / "in", 60)
    store = tmp_path / "store.sqlite3"
    args = command(str(tmp_path / "in"), "--trust", ROOT_G2, "--json", "--jobs", "1",
                   "--store", str(store))
    # Unbuffered: communicate() reads the pipe itself, and would never see what a
    # buffered readline() had read ahead. The lines (about 3 KB each) fill the pipe
    # long before the 60th, so the run cannot end before the signal arrives.
    with subprocess.Popen(args, env=env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, bufsize=0) as victim:
        assert victim.stdout is not None
        head = b""
        while not head.endswith(b"\n"):
            byte = victim.stdout.read(1)
            assert byte, victim.stderr.read() if victim.stderr else "no output"
            head += byte
        victim.send_signal(how)
        rest, _ = victim.communicate(timeout=60)
    assert victim.returncode == (130 if how == signal.SIGINT else -9)
    # A line cut short by SIGKILL has no newline yet: only complete lines count.
    complete = [head.decode(), *rest.decode().split("\n")[:-1]]
    printed = [json.loads(line)["path"] for line in complete]
    before = store_rows(store)
    # Everything printed was stored first; the run did not get to the end.
    assert set(printed) <= set(before) and len(before) < len(paths)

    done = subprocess.run([*args, "--resume"], env=env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert sorted(r["path"] for r in lines(done)) == sorted(map(str, paths))
    after = store_rows(store)
    assert sorted(after) == sorted(map(str, paths))
    assert {verifications for _, verifications in after.values()} == {1}
    for path, row in before.items():
        assert after[path] == row  # reused, not verified again
    assert "TOTAL-PASSED 60" in done.stderr


def test_an_unusable_store_exits_2_with_its_name(
        corpus: dict[str, Path], tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database, " * 512)
    done = run(tmp_path, str(corpus["signed"]), "--trust", ROOT_G2, "--store", str(garbage))
    assert done.returncode == 2
    assert f"{garbage}: not a signsvc verification store" in done.stderr
    assert "Traceback" not in done.stderr
    under_a_file = tmp_path / "garbage.sqlite3" / "store.sqlite3"
    done = run(tmp_path, str(corpus["signed"]), "--trust", ROOT_G2, "--store",
               str(under_a_file))
    assert done.returncode == 2 and "cannot open the verification store" in done.stderr
