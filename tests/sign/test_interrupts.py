"""Journal before anything is visible: ``signsvc sign`` killed at every point that
matters (Ctrl-C's SIGINT and SIGKILL), then the outputs and the journal compared.

The invariant, checked after every kill: an output file exists under its name only
with a committed ``signed`` row holding its SHA-256, and (after SIGINT at once; after
SIGKILL once the journal's recovery ran) every ``signed`` row's output exists with that
SHA-256. Then the same command with ``--resume`` finishes the batch: every document
signed exactly once, every output valid, no temporary file left.

Kill points: the chosen hooks of :mod:`tests.support.killpoints` (temporary file
written, row committed, output named, line printed, login journaled), at the 1st and a
later document, with the process executor and inline; and kills at times after the
first output appeared. No assertion depends on the timing: the invariant must hold
wherever the kill lands.
"""

from __future__ import annotations

import hashlib
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from signsvc._files import TEMP_SUFFIX
from signsvc.sign.journal import AuditJournal
from tests.support.paths import PKI, ROOT
from tests.support.pdfcheck import pyhanko_validate
from tests.support.pdfs import write_one_page_pdf

DOCS = 12
P12 = str(PKI / "official-rsa2048.p12")


def _inputs(directory: Path) -> Path:
    directory.mkdir()
    for number in range(DOCS):
        write_one_page_pdf(directory / f"qd-{number:02d}.pdf", f"Quyet dinh {number} - TEST ONLY")
    return directory


def _command(tmp_path: Path, *extra: str) -> list[str]:
    return ["sign", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--pkcs12", P12,
            "--pin-env", "P", "--journal", str(tmp_path / "journal.sqlite3"), *extra]


def _env(tmp_path: Path) -> dict[str, str]:
    import os

    return {**os.environ, "P": "1234", "XDG_RUNTIME_DIR": str(tmp_path / "run")}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(journal: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(journal) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM attempts ORDER BY id")]


def _outputs(out: Path) -> dict[Path, str]:
    if not out.exists():
        return {}
    return {p: _sha(p) for p in sorted(out.iterdir()) if not p.name.startswith(".")}


def _temporaries(out: Path) -> list[Path]:
    return sorted(out.glob(f".*{TEMP_SUFFIX}")) if out.exists() else []


def assert_agree(tmp_path: Path, *, both_ways: bool) -> None:
    """Every output has its signed row; with ``both_ways``, every signed row (not
    failed later) has its output."""
    journal, out = tmp_path / "journal.sqlite3", tmp_path / "out"
    outputs = _outputs(out)
    signed = {(r["output_path"], r["output_sha256"]) for r in _rows(journal)
              if r["status"] == "signed"} if journal.exists() else set()
    for path, sha in outputs.items():
        assert (str(path), sha) in signed, f"{path.name} exists without its signed row"
    if both_ways:
        for output, sha in signed:
            assert Path(output) in outputs and outputs[Path(output)] == sha, \
                f"row says {Path(output).name} was signed, the file is not there"


def _run_killed(tmp_path: Path, hook: str, nth: int, name: str, *extra: str
                ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.support.killpoints", hook, str(nth), name, "--",
         *_command(tmp_path, *extra)],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=120,
        check=False)


def _finish_and_check(tmp_path: Path) -> None:
    """Resume the batch; then every document is signed exactly once, validly."""
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"),
                           *_command(tmp_path, "--resume", "--json")],
                          env=_env(tmp_path), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_agree(tmp_path, both_ways=True)
    out = tmp_path / "out"
    outputs = _outputs(out)
    assert sorted(p.name for p in outputs) == sorted(p.name for p in (tmp_path / "in").iterdir())
    assert _temporaries(out) == []
    signed_rows = [r for r in _rows(tmp_path / "journal.sqlite3") if r["status"] == "signed"]
    per_output: dict[str, int] = {}
    for row in signed_rows:
        per_output[row["output_path"]] = per_output.get(row["output_path"], 0) + 1
    assert all(count == 1 for count in per_output.values()), per_output  # signed once
    for path in list(outputs)[:: max(1, len(outputs) // 4)]:
        [status] = pyhanko_validate(path)
        assert status.intact and status.valid and status.coverage == "ENTIRE_FILE"
    with sqlite3.connect(tmp_path / "journal.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM pending").fetchone()[0] == 0


HOOK_POINTS = [
    # (hook, nth, extra options)
    ("temporary", 1, ("--jobs", "2", "--executor", "process")),
    ("temporary", 4, ("--jobs", "2", "--executor", "process")),
    ("committed", 1, ("--jobs", "2", "--executor", "process")),
    ("committed", 5, ("--jobs", "2", "--executor", "process")),
    ("committed", 3, ("--jobs", "1",)),
    ("placed", 1, ("--jobs", "2", "--executor", "process")),
    ("placed", 6, ("--jobs", "2", "--executor", "thread")),
    ("placed", 2, ("--jobs", "1",)),
    ("printed", 3, ("--jobs", "2", "--executor", "process")),
    ("login", 1, ("--jobs", "2", "--executor", "process")),
]


@pytest.mark.parametrize("name", ["INT", "KILL"])
@pytest.mark.parametrize(("hook", "nth", "extra"), HOOK_POINTS,
                         ids=[f"{h}-{n}-{'-'.join(e)}" for h, n, e in HOOK_POINTS])
def test_killed_at_a_hook_outputs_and_journal_agree(tmp_path: Path, hook: str, nth: int,
                                                    extra: tuple[str, ...], name: str) -> None:
    _inputs(tmp_path / "in")
    done = _run_killed(tmp_path, hook, nth, name, *extra)
    if name == "INT":
        assert done.returncode == 130, done.stderr
        assert "Traceback" not in done.stderr
        # Ctrl-C is held back while a row, its output's name and its line go together:
        # no recovery needed, nothing pending, nothing temporary.
        assert_agree(tmp_path, both_ways=True)
        assert _temporaries(tmp_path / "out") == []
        with sqlite3.connect(tmp_path / "journal.sqlite3") as db:
            assert db.execute("SELECT COUNT(*) FROM pending").fetchone()[0] == 0
        printed = {line.split(" -> ")[-1] for line in done.stdout.splitlines()
                   if line.startswith("signed ")}
        assert printed == {str(p) for p in _outputs(tmp_path / "out")}
    else:
        assert done.returncode == -signal.SIGKILL, done.stderr
        assert_agree(tmp_path, both_ways=False)  # never a name before its row
        with AuditJournal(tmp_path / "journal.sqlite3") as journal:
            recovered = journal.recover(lock_folder=tmp_path / "run" / "signsvc-batches")
        outcomes = [r.outcome for r in recovered]
        if hook == "committed":
            # Killed between the commit and the rename: recovery names the file (the
            # documents before it had their names; their pending rows were not yet
            # dropped, which happens every few documents).
            assert outcomes == ["placed"] * (len(outcomes) - 1) + ["completed"]
        assert "failed" not in outcomes
        assert_agree(tmp_path, both_ways=True)
    if hook == "login":
        with AuditJournal(tmp_path / "journal.sqlite3") as journal:
            assert [e.result for e in journal.logins()] == ["accepted"]
    _finish_and_check(tmp_path)


@pytest.mark.parametrize("name", ["INT", "KILL"])
@pytest.mark.parametrize("delay_ms", [0, 3, 10, 30, 80])
def test_killed_at_any_time_outputs_and_journal_agree(tmp_path: Path, name: str,
                                                      delay_ms: int) -> None:
    """Killed ``delay_ms`` after the first output appeared (wherever that lands)."""
    _inputs(tmp_path / "in")
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"),
         *_command(tmp_path, "--jobs", "2", "--executor", "process")],
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up and process.poll() is None and not (
            out.exists() and any(p.suffix == ".pdf" for p in out.iterdir())):
        time.sleep(0.001)
    time.sleep(delay_ms / 1000)
    process.send_signal(getattr(signal, f"SIG{name}"))
    _, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr
    assert_agree(tmp_path, both_ways=name == "INT" or process.returncode == 0)
    if name == "KILL":
        with AuditJournal(tmp_path / "journal.sqlite3") as journal:
            journal.recover(lock_folder=tmp_path / "run" / "signsvc-batches")
        assert_agree(tmp_path, both_ways=True)
    else:
        assert _temporaries(out) == []
    _finish_and_check(tmp_path)
