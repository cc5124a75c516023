"""``signsvc sign`` and ``signsvc audit`` end to end, in a fresh process each time,
on SoftHSM2 tokens (logins counted by OpenSC's pkcs11-spy) and PKCS#12 files."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from certs_test.softhsm import SoftHSM
from tests.support.paths import PKI, ROOT
from tests.support.pdfcheck import pdfsig
from tests.support.pdfs import write_one_page_pdf
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
