"""``signsvc sign`` and ``signsvc audit`` end to end, in a fresh process each time,
on SoftHSM2 tokens (logins counted by OpenSC's pkcs11-spy) and PKCS#12 files."""

from __future__ import annotations

import hashlib
import json
import random
import re
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from certs_test.services import TestServices
from certs_test.softhsm import SoftHSM
from tests.support import badpdfs
from tests.support.badcerts import build_problem_tokens
from tests.support.paths import PKI, ROOT
from tests.support.pdfcheck import pdfsig
from tests.support.pdfs import write_one_page_pdf
from tests.support.signfuzz import corrupt_streams, object_stream_pdf
from tests.support.tokens import ANH
from tests.support.tools import SPY

REQUIRED_KEYS = {"input", "output", "status", "error", "sha256"}


def docs(directory: Path, count: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        write_one_page_pdf(directory / f"qd-{number:03d}.pdf", f"Quyet dinh {number}")
    return directory


def cli(hsm: SoftHSM, tmp_path: Path, *args: str, env: dict[str, str] | None = None,
        stdin: str = "") -> subprocess.CompletedProcess[str]:
    full_env = {**hsm.env, "SIGNSVC_AUDIT_DB": str(tmp_path / "audit.sqlite3"),
                **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], env=full_env,
                          input=stdin, capture_output=True, text=True, timeout=120,
                          check=False)


def lines(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_batch_on_a_token_logs_in_once(hsm: SoftHSM, tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 5)
    log = tmp_path / "spy.log"
    done = cli(hsm, tmp_path, "sign", str(source), "--out", str(tmp_path / "out"),
               "--module", str(SPY), "--token", ANH, "--cert-id", "01", "--pin-env", "PIN",
               "--jobs", "2", "--json",
               env={"PIN": "123456", "PKCS11SPY": str(hsm.module),
                    "PKCS11SPY_OUTPUT": str(log)})
    assert done.returncode == 0, done.stderr
    results = lines(done)
    assert len(results) == 5 and all(REQUIRED_KEYS <= r.keys() for r in results)
    assert {r["status"] for r in results} == {"signed"}
    assert log.read_text(errors="replace").count(": C_Login\n") == 1
    for result in results:
        out = Path(result["output"])
        assert out.parent == tmp_path / "out"
        assert result["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert pdfsig(Path(results[0]["output"]))[0].signature_valid
    assert "5 signed, 0 skipped, 0 failed" in done.stderr
    assert "123456" not in done.stdout + done.stderr


def test_a_bad_file_exits_1_and_the_rest_are_signed(hsm: SoftHSM, tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 2)
    (source / "hong.pdf").write_text("<html>not a pdf</html>")
    done = cli(hsm, tmp_path, "sign", str(source), "--out", str(tmp_path / "out"),
               "--pkcs12", str(PKI / "official-rsa2048.p12"), "--pin-stdin", "--json",
               stdin="1234\n")
    assert done.returncode == 1, done.stderr
    by_name = {Path(r["input"]).name: r for r in lines(done)}
    assert by_name["hong.pdf"]["status"] == "failed"
    assert "hong.pdf" in by_name["hong.pdf"]["error"]
    assert "not a PDF" in by_name["hong.pdf"]["error"]
    assert by_name["qd-000.pdf"]["status"] == by_name["qd-001.pdf"]["status"] == "signed"


def test_suffix_and_resume(hsm: SoftHSM, tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 2)
    args = ("sign", str(source / "qd-000.pdf"), str(source / "qd-001.pdf"), "--suffix",
            "-da-ky", "--pkcs12", str(PKI / "org-omon.p12"), "--pin-env", "P", "--json")
    first = cli(hsm, tmp_path, *args, env={"P": "1234"})
    assert first.returncode == 0, first.stderr
    assert (source / "qd-000-da-ky.pdf").exists()
    again = cli(hsm, tmp_path, *args, env={"P": "1234"})
    assert again.returncode == 1  # outputs exist: refused, not overwritten
    resumed = cli(hsm, tmp_path, *args, "--resume", env={"P": "1234"})
    assert resumed.returncode == 0, resumed.stderr
    assert [r["status"] for r in lines(resumed)] == ["skipped", "skipped"]


@pytest.mark.parametrize(("args", "message"), [
    (("--out", "o", "--suffix", "-x"), "exactly one of --out"),
    (("--out", "o", "--level", "B-T"), "needs --tsa"),
    (("--out", "o", "--pkcs12", str(PKI / "org-omon.p12"), "--token", "x"), "drop the token"),
])
def test_usage_errors_exit_2(hsm: SoftHSM, tmp_path: Path, args: tuple[str, ...],
                             message: str) -> None:
    source = docs(tmp_path / "in", 1)
    done = cli(hsm, tmp_path, "sign", str(source), *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_no_pdf_in_inputs_exits_2(hsm: SoftHSM, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = cli(hsm, tmp_path, "sign", str(tmp_path / "empty"), "--out", str(tmp_path / "o"))
    assert done.returncode == 2 and "no PDF" in done.stderr


def test_wrong_pin_exits_3_after_one_attempt(hsm: SoftHSM, tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 3)
    log = tmp_path / "spy.log"
    done = cli(hsm, tmp_path, "sign", str(source), "--out", str(tmp_path / "out"),
               "--module", str(SPY), "--token", "Sở Nội vụ", "--pin-env", "PIN",
               env={"PIN": "000000", "PKCS11SPY": str(hsm.module),
                    "PKCS11SPY_OUTPUT": str(log)})
    assert done.returncode == 3, done.stderr
    assert "PIN" in done.stderr
    assert log.read_text(errors="replace").count(": C_Login\n") == 1
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_audit_lists_attempts_in_vietnam_time(hsm: SoftHSM, tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 2)
    (source / "hong.pdf").write_bytes(b"")
    cli(hsm, tmp_path, "sign", str(source), "--out", str(tmp_path / "out"), "--pkcs12",
        str(PKI / "official-rsa2048.p12"), "--pin-env", "P", env={"P": "1234"})
    done = cli(hsm, tmp_path, "audit", "--json")
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    assert sorted(e["status"] for e in entries) == ["failed", "signed", "signed"]
    assert all(e["time_vietnam"].endswith("+07:00") and e["time"].endswith("Z")
               for e in entries)
    assert all(e["signer_serial"] == "5e1c5e0000000008" for e in entries)
    future = cli(hsm, tmp_path, "audit", "--json", "--since", "2099-01-01")
    assert json.loads(future.stdout) == []
    table = cli(hsm, tmp_path, "audit")
    assert "+07:00" in table.stdout and "Nguyễn Thị Lấp Lánh Ánh" in table.stdout


def test_ctrl_c_leaves_no_partial_file(hsm: SoftHSM, tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 300)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "sign", str(source), "--out", str(out),
         "--pkcs12", str(PKI / "official-rsa2048.p12"), "--pin-env", "P", "--jobs", "2",
         "--executor", "process"],
        env={**hsm.env, "P": "1234", "SIGNSVC_AUDIT_DB": str(tmp_path / "a.sqlite3")},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("*.pdf"))) < 5:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    written = sorted(out.iterdir())
    assert 5 <= len(written) < 300
    assert [p for p in written if not p.name.endswith(".pdf")] == []  # no temporaries
    # Every file that exists is complete: its signature covers it entirely and verifies.
    for path in (written[0], written[-1]):
        [seen] = pdfsig(path)
        assert seen.signature_valid and seen.total_document_signed


# -- issue 15: signing that never surprises an official --------------------------------


def _spy(tmp_path: Path, hsm: SoftHSM, name: str = "spy.log") -> tuple[dict[str, str], Path]:
    log = tmp_path / name
    return {"PIN": "123456", "PKCS11SPY": str(hsm.module), "PKCS11SPY_OUTPUT": str(log)}, log


def _logins(log: Path) -> int:
    """C_Login calls the spy saw; 0 when the module was never even loaded."""
    return log.read_text(errors="replace").count(": C_Login\n") if log.exists() else 0


def _tree(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.iterdir())}


def test_the_readme_folder_pattern_run_three_times_settles(hsm: SoftHSM,
                                                           tmp_path: Path) -> None:
    """``signsvc sign in/ --suffix -da-ky --resume`` on a real token, three times: the
    first run signs, the next ones skip everything (their own outputs included), write
    nothing, and never ask for the PIN."""
    source = docs(tmp_path / "in", 3)
    args = ("sign", str(source), "--suffix", "-da-ky", "--module", str(SPY), "--token", ANH,
            "--cert-id", "01", "--pin-env", "PIN", "--resume", "--json")
    env, first_log = _spy(tmp_path, hsm, "first.log")
    first = cli(hsm, tmp_path, *args, env=env)
    assert first.returncode == 0, first.stderr
    assert [r["status"] for r in lines(first)] == ["signed"] * 3
    assert _logins(first_log) == 1
    after_first = _tree(source)
    assert sorted(after_first) == sorted([f"qd-{n:03d}.pdf" for n in range(3)]
                                         + [f"qd-{n:03d}-da-ky.pdf" for n in range(3)])
    for run in ("second", "third"):
        env, log = _spy(tmp_path, hsm, f"{run}.log")
        done = cli(hsm, tmp_path, *args, env=env)
        assert done.returncode == 0, done.stderr
        results = {Path(r["input"]).name: r for r in lines(done)}
        assert len(results) == 6
        assert all(r["status"] == "skipped" for r in results.values())
        for n in range(3):
            assert results[f"qd-{n:03d}.pdf"]["skip_reason"] == "already-signed"
            own = results[f"qd-{n:03d}-da-ky.pdf"]
            assert own["skip_reason"] == "own-output"
            assert own["source"] == str(source / f"qd-{n:03d}.pdf")
        assert "0 signed, 6 skipped (3 of them signsvc's own outputs" in done.stderr
        assert _tree(source) == after_first  # nothing written, nothing signed again
        assert _logins(log) == 0  # nothing to sign: no PIN asked, token untouched


def test_twice_without_resume_own_outputs_are_said_once_and_not_signed(
        hsm: SoftHSM, tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 3)
    args = ("sign", str(source), "--suffix", "-da-ky", "--pkcs12",
            str(PKI / "official-rsa2048.p12"), "--pin-env", "P")
    assert cli(hsm, tmp_path, *args, env={"P": "1234"}).returncode == 0
    again = cli(hsm, tmp_path, *args, env={"P": "1234"})
    assert again.returncode == 1  # the outputs exist: refused, not replaced
    assert again.stderr.count("are signsvc's signed outputs of other inputs") == 1
    assert "3 file(s) among the inputs" in again.stderr
    assert not list(source.glob("*-da-ky-da-ky.pdf"))
    assert again.stdout.count("FAILED") == 3 and "exists already" in again.stdout
    assert "no PIN was asked" in again.stderr


def test_outputs_in_another_folder_are_recognised_by_the_journal(hsm: SoftHSM,
                                                                 tmp_path: Path) -> None:
    """Signed into in/a/ once, then in/ signed into in/b/: in/a/ holds outputs of the
    same inputs (the journal says so by hash), which are not signed again."""
    source = docs(tmp_path / "in", 2)
    base = ("--pkcs12", str(PKI / "official-rsa2048.p12"), "--pin-env", "P", "--json")
    assert cli(hsm, tmp_path, "sign", str(source), "--out", str(source / "a"), *base,
               env={"P": "1234"}).returncode == 0
    done = cli(hsm, tmp_path, "sign", str(source), "--out", str(source / "b"), *base,
               env={"P": "1234"})
    assert done.returncode == 0, done.stderr
    by_name = {Path(r["input"]).relative_to(source).as_posix(): r for r in lines(done)}
    assert by_name["a/qd-000.pdf"]["skip_reason"] == "own-output"
    assert by_name["a/qd-000.pdf"]["source"] == str(source / "qd-000.pdf")
    assert by_name["qd-000.pdf"]["status"] == "signed"
    assert not (source / "b" / "a").exists()


def test_no_pin_is_asked_when_no_input_can_be_signed(hsm: SoftHSM, tmp_path: Path) -> None:
    (tmp_path / "hong.pdf").write_text("<html>Phiên làm việc đã hết hạn</html>")
    (tmp_path / "empty.pdf").write_bytes(b"")
    env, log = _spy(tmp_path, hsm)
    done = cli(hsm, tmp_path, "sign", str(tmp_path / "missing.pdf"), str(tmp_path / "hong.pdf"),
               str(tmp_path / "empty.pdf"), "--out", str(tmp_path / "out"), "--module",
               str(SPY), "--token", ANH, "--pin-env", "PIN", env=env)
    assert done.returncode == 1
    assert not log.exists()  # the module was not even loaded
    assert "no PIN was asked and the token was not used" in done.stderr
    assert f"{tmp_path / 'missing.pdf'}: cannot read: No such file or directory" in done.stdout
    assert "not a PDF (no %PDF- header)" in done.stdout
    assert "not a PDF (an empty file)" in done.stdout
    audit = json.loads(cli(hsm, tmp_path, "audit", "--json").stdout)
    assert [e["status"] for e in audit] == ["failed"] * 3  # journaled, signer unknown
    assert all(e["signer_subject"] is None for e in audit)


@pytest.fixture(scope="module")
def problem_hsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHSM:
    return build_problem_tokens(tmp_path_factory.mktemp("problem-softhsm"))


@pytest.mark.parametrize(("label", "words"), [
    ("Hết hạn", "the certificate expired on 2025-01-01T06:59:59+07:00"),
    ("Chưa tới hạn", "the certificate is not valid before 2040-01-01T07:00:00+07:00"),
    ("Sai mục đích", "the certificate's key usage allows neither digitalSignature nor "
                     "nonRepudiation: it is not a signing certificate"),
])
def test_an_unusable_certificate_is_refused_before_the_pin(
        problem_hsm: SoftHSM, tmp_path: Path, label: str, words: str) -> None:
    source = docs(tmp_path / "in", 2)
    env, log = _spy(tmp_path, problem_hsm)
    done = cli(problem_hsm, tmp_path, "sign", str(source), "--out", str(tmp_path / "out"),
               "--module", str(SPY), "--token", label, "--pin-env", "PIN", env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("signsvc: error: refusing to sign with the certificate of CN=")
    assert words in done.stderr
    assert _logins(log) == 0  # the certificate was read before login: no PIN spent
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_force_signs_with_an_expired_certificate_and_the_journal_says_so(
        problem_hsm: SoftHSM, tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 2)
    done = cli(problem_hsm, tmp_path, "sign", str(source), "--out", str(tmp_path / "out"),
               "--module", str(problem_hsm.module), "--token", "Hết hạn", "--pin-env", "PIN",
               "--force", "--json", env={"PIN": "123456"})
    assert done.returncode == 0, done.stderr
    note = ("signed with --force although the certificate expired on "
            "2025-01-01T06:59:59+07:00")
    assert "signsvc: warning: signing with --force although the certificate expired" in \
        done.stderr
    assert [(r["status"], r["note"]) for r in lines(done)] == [("signed", note)] * 2
    audit = json.loads(cli(problem_hsm, tmp_path, "audit", "--json").stdout)
    assert [(e["status"], e["note"]) for e in audit] == [("signed", note)] * 2
    assert pdfsig(tmp_path / "out" / "qd-000.pdf")[0].signature_valid


def test_trust_checks_the_chain_before_the_pin(hsm: SoftHSM, tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 1)
    common = ("sign", str(source), "--out", str(tmp_path / "out"), "--module", str(SPY),
              "--token", ANH, "--cert-id", "01", "--pin-env", "PIN")
    env, log = _spy(tmp_path, hsm)
    wrong = cli(hsm, tmp_path, *common, "--trust", str(PKI / "vn-root.crt.pem"), env=env)
    assert wrong.returncode == 2, wrong.stderr
    assert "no valid chain to the trust anchors given" in wrong.stderr
    assert _logins(log) == 0
    env, log = _spy(tmp_path, hsm, "right.log")
    right = cli(hsm, tmp_path, *common, "--trust", str(PKI / "gov-root-g2.crt.pem"), env=env)
    assert right.returncode == 0, right.stderr
    assert _logins(log) == 1


def test_a_token_label_typed_decomposed_signs(hsm: SoftHSM, tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 1)
    typed = unicodedata.normalize("NFD", ANH)
    done = cli(hsm, tmp_path, "sign", str(source), "--out", str(tmp_path / "out"),
               "--module", str(hsm.module), "--token", typed, "--cert-id", "01",
               "--pin-env", "PIN", "--reason", unicodedata.normalize("NFD", "Phê duyệt"),
               "--json", env={"PIN": "123456"})
    assert done.returncode == 0, done.stderr
    assert lines(done)[0]["signer"].startswith(f"CN={ANH},")
    # The reason went into the PDF precomposed, as TCVN 6909 writes Vietnamese.
    from pyhanko.pdf_utils.reader import PdfFileReader

    with (tmp_path / "out" / "qd-000.pdf").open("rb") as handle:
        [signature] = PdfFileReader(handle).embedded_signatures
        assert str(signature.sig_object["/Reason"]) == "Phê duyệt"
        assert unicodedata.is_normalized("NFC", str(signature.sig_object["/Reason"]))


def test_an_unknown_token_label_lists_the_labels_present(hsm: SoftHSM, tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 1)
    done = cli(hsm, tmp_path, "sign", str(source), "--out", str(tmp_path / "out"),
               "--module", str(hsm.module), "--token", "Không có", "--pin-env", "PIN",
               env={"PIN": "123456"})
    assert done.returncode == 3
    assert "no token with label 'Không có'; tokens present: " in done.stderr
    assert repr(ANH) in done.stderr


def test_a_refused_pin_is_journaled_never_the_pin(hsm: SoftHSM, tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 2)
    done = cli(hsm, tmp_path, "sign", str(source), "--out", str(tmp_path / "out"),
               "--module", str(hsm.module), "--token", "Sở Nội vụ", "--pin-env", "PIN",
               env={"PIN": "000999"})
    assert done.returncode == 3
    ok = cli(hsm, tmp_path, "sign", str(source), "--out", str(tmp_path / "out"),
             "--module", str(hsm.module), "--token", "Sở Nội vụ", "--pin-env", "PIN",
             env={"PIN": "123456"})
    assert ok.returncode == 0, ok.stderr
    logins = json.loads(cli(hsm, tmp_path, "audit", "--logins", "--json").stdout)
    assert [(e["result"], e["token"]) for e in logins] == [("refused", "Sở Nội vụ"),
                                                           ("accepted", "Sở Nội vụ")]
    assert "PIN is incorrect" in logins[0]["error"]
    assert logins[0]["serial"] and logins[0]["module"] == str(hsm.module.resolve())
    assert logins[0]["time_vietnam"].endswith("+07:00")
    text = cli(hsm, tmp_path, "audit", "--logins").stdout
    assert "login refused    token 'Sở Nội vụ'" in text
    journal = tmp_path / "audit.sqlite3"
    for path in (journal, journal.with_name(journal.name + "-wal")):
        if path.exists():
            assert b"000999" not in path.read_bytes() and b"123456" not in path.read_bytes()


def test_a_damaged_object_stream_fails_alone_without_a_traceback(hsm: SoftHSM,
                                                                 tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 2)
    broken = corrupt_streams(object_stream_pdf(), random.Random(15))
    (source / "qd-001b-hong.pdf").write_bytes(broken)
    done = cli(hsm, tmp_path, "sign", str(source), "--out", str(tmp_path / "out"),
               "--pkcs12", str(PKI / "official-rsa2048.p12"), "--pin-env", "P",
               env={"P": "1234"})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert (f"FAILED   {source / 'qd-001b-hong.pdf'}: damaged PDF (zlib.error: Error -3 "
            "while decompressing data") in done.stdout
    assert "2 signed, 0 skipped, 1 failed" in done.stderr


def test_an_owner_password_only_pdf_is_signed_without_asking(hsm: SoftHSM,
                                                              tmp_path: Path) -> None:
    """Every viewer opens it (empty user password, ISO 32000-1 §7.6.3.3): so does sign."""
    source = badpdfs.encrypted(tmp_path, user_password="")
    done = cli(hsm, tmp_path, "sign", str(source), "--out", str(tmp_path / "out"),
               "--pkcs12", str(PKI / "official-rsa2048.p12"), "--pin-env", "P", "--json",
               env={"P": "1234"})
    assert done.returncode == 0, done.stdout + done.stderr
    [seen] = pdfsig(tmp_path / "out" / source.name)
    assert seen.signature_valid and seen.total_document_signed
    # The one that needs a password to open still needs it.
    (tmp_path / "x").mkdir()
    locked = badpdfs.encrypted(tmp_path / "x")
    refused = cli(hsm, tmp_path, "sign", str(locked), "--out", str(tmp_path / "out2"),
                  "--pkcs12", str(PKI / "official-rsa2048.p12"), "--pin-env", "P", "--json",
                  env={"P": "1234"})
    assert refused.returncode == 1
    assert "encrypted; give the document password" in lines(refused)[0]["error"]


# -- what a person at a terminal sees ---------------------------------------------------


def _screen(raw: str) -> list[str]:
    """What a terminal shows for ``raw``: each line as the text after its last
    carriage return (``\\x1b[K`` erases what is left of it)."""
    shown = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        shown.append(line.split("\r")[-1].replace("\x1b[K", ""))
    return shown


def _on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the command with its output on a pseudo-terminal: (exit code, bytes shown)."""
    import os
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), *args], env=env,
                               stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    raw = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        raw += chunk
    os.close(master)
    return process.wait(timeout=60), raw.decode("utf-8")


def test_on_a_terminal_one_live_line_under_the_results(hsm: SoftHSM, tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 7)
    env = {**hsm.env, "P": "1234", "SIGNSVC_AUDIT_DB": str(tmp_path / "a.sqlite3"),
           "COLUMNS": "100"}
    code, text = _on_a_terminal(
        ["sign", str(source), "--out", str(tmp_path / "out"), "--pkcs12",
         str(PKI / "official-rsa2048.p12"), "--pin-env", "P", "--jobs", "2"], env)
    assert code == 0, text
    assert "\r\x1b[K" in text and "Signing 3/7 [" in text  # the live line was drawn
    screen = _screen(text)
    results = [line for line in screen if line.startswith("signed ")]
    assert len(results) == 7
    # Every result line stands alone, and the live line is gone at the end.
    assert all(" -> " in line and "Signing " not in line for line in results)
    assert not any("Signing " in line for line in screen)
    assert screen[-2].startswith("7 signed, 0 skipped, 0 failed")


def test_a_long_document_shows_on_the_live_line(hsm: SoftHSM, tmp_path: Path) -> None:
    """A document that takes long (here a TSA answering after 1.5 s) is named on the
    live line with what it is waiting for and for how long."""
    source = docs(tmp_path / "in", 1)
    env = {**hsm.env, "P": "1234", "SIGNSVC_AUDIT_DB": str(tmp_path / "a.sqlite3"),
           "COLUMNS": "120"}
    with TestServices(PKI, port=0, delay=1.5) as slow:
        code, text = _on_a_terminal(
            ["sign", str(source), "--out", str(tmp_path / "out"), "--pkcs12",
             str(PKI / "official-rsa2048.p12"), "--pin-env", "P", "--level", "B-T",
             "--tsa", slow.tsa_url], env)
    assert code == 0, text
    assert "Signing 0/1 [" in text
    size = (source / "qd-000.pdf").stat().st_size
    assert re.search(rf"qd-000\.pdf, {round(size / 1e3)} kB: signing, [12] s", text), text
    assert [line for line in _screen(text) if line.startswith("signed ")] == [
        f"signed   {source / 'qd-000.pdf'} -> {tmp_path / 'out' / 'qd-000.pdf'}"]


def test_not_on_a_terminal_plain_lines_only(hsm: SoftHSM, tmp_path: Path) -> None:
    source = docs(tmp_path / "in", 3)
    done = cli(hsm, tmp_path, "sign", str(source), "--out", str(tmp_path / "out"),
               "--pkcs12", str(PKI / "official-rsa2048.p12"), "--pin-env", "P",
               env={"P": "1234"})
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stdout + done.stderr and "\x1b" not in done.stdout + done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["signed"] * 3


def test_anchor_and_organisation_name_typed_decomposed(hsm: SoftHSM, tmp_path: Path) -> None:
    """The leader's name typed in decomposed letters finds the printed name; the
    organisation's name typed so is drawn precomposed (what pdftotext reads back)."""
    sample = ROOT / "samples" / "quyet-dinh-123.pdf"
    nfd = unicodedata.normalize
    leader = cli(hsm, tmp_path, "sign", str(sample), "--out", str(tmp_path / "leader"),
                 "--pkcs12", str(PKI / "official-rsa2048.p12"), "--pin-env", "P",
                 "--profile", "personal", "--signature-image",
                 str(PKI / "images" / "signature.png"), "--anchor", nfd("NFD", ANH),
                 env={"P": "1234"})
    assert leader.returncode == 0, leader.stdout + leader.stderr
    org = nfd("NFD", "Ủy ban nhân dân quận Ô Môn")
    issued = cli(hsm, tmp_path, "sign", str(tmp_path / "leader" / sample.name), "--out",
                 str(tmp_path / "issued"), "--pkcs12", str(PKI / "org-omon.p12"), "--pin-env",
                 "P", "--profile", "organisation", "--seal-image",
                 str(PKI / "images" / "seal.png"), "--seal-size", "36", "--org-name", org,
                 env={"P": "1234"})
    assert issued.returncode == 0, issued.stdout + issued.stderr
    def count(path: Path) -> int:
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert org not in text  # never the decomposed form
        return text.count("Ủy ban nhân dân quận Ô Môn")

    # The seal's text adds the name once more to what the page already says.
    assert count(tmp_path / "issued" / sample.name) == count(sample) + 1
