"""A signature that passed without any revocation check is counted apart (issue 13):
``SignatureResult.revocation_checked``, the JSON, the store, the CSV/JSON/HTML reports
and the ``signsvc verify`` lines, in English and Vietnamese.

The documents are signed here with the test PKI, whose certificates name CRL and OCSP
URLs on 127.0.0.1:18480 (answered by the ``services`` fixture). Verified offline under
soft-fail, a PAdES B-B signature passes with every status unknown: not checked. Online,
or at B-LT (CRLs and OCSP responses embedded), every status is definite: checked.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cryptography import x509

from certs_test.services import TestServices
from drivers import Pkcs12Key
from signsvc.pki.indications import Indication, SubIndication
from signsvc.pki.revocation import RevocationStatus
from signsvc.pki.trust import TrustStore
from signsvc.sign.pdf import sign_pdf
from signsvc.verify._store import VerifyStore
from signsvc.verify.pdf import verify_pdf
from signsvc.verify.reports import CSV_COLUMNS, write_report
from tests.support.paths import PKI, ROOT

G2 = PKI / "gov-root-g2.crt.pem"
ROOTS = TrustStore.from_paths([G2])
G2_ROOT = x509.load_pem_x509_certificate(G2.read_bytes())
SAMPLE = ROOT / "samples" / "quyet-dinh-123.pdf"
NOT_CHECKED_BADGE = "chưa kiểm tra thu hồi / not checked for revocation"


def _key(name: str) -> Pkcs12Key:
    return Pkcs12Key.load(PKI / f"{name}.p12", "1234")


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, services: TestServices) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("revocation-signed")
    docs: dict[str, Path] = {}

    def sign(name: str, source: Path, key: str = "official-rsa2048", **kw: object) -> None:
        result = sign_pdf(source, out / f"{name}.pdf", _key(key), **kw)  # type: ignore[arg-type]
        assert result.status == "signed", result.error
        docs[name] = out / f"{name}.pdf"

    sign("bb", SAMPLE)
    sign("bt", SAMPLE, level="B-T", tsa_url=services.tsa_url)
    sign("blt", SAMPLE, level="B-LT", tsa_url=services.tsa_url, trust=[G2_ROOT])
    sign("two", docs["bb"], key="org-omon", field="Signature2")
    return docs


# --- the library ------------------------------------------------------------------------

def test_b_b_offline_soft_fail_passes_not_checked(signed: dict[str, Path]) -> None:
    result = verify_pdf(signed["bb"], trust=ROOTS)
    [sig] = result.signatures
    assert sig.passed, sig.reason
    assert sig.chain is not None
    # The chain's own account: intermediate and end entity unknown, no CRL at hand.
    assert [(r.index, r.status) for r in sig.chain.revocation] == [
        (1, RevocationStatus.UNKNOWN), (2, RevocationStatus.UNKNOWN)]
    assert sig.revocation_checked is False
    assert result.revocation_not_checked == 1
    data = result.to_json()
    assert data["signatures"][0]["revocation_checked"] is False
    assert data["revocation_not_checked"] == 1


def test_b_b_online_is_checked(signed: dict[str, Path], services: TestServices) -> None:
    services.reset_hits()
    result = verify_pdf(signed["bb"], trust=ROOTS, online=True)
    [sig] = result.signatures
    assert sig.passed, sig.reason
    assert sig.chain is not None
    assert {r.status for r in sig.chain.revocation} == {RevocationStatus.GOOD}
    assert sig.revocation_checked is True
    assert result.revocation_not_checked == 0
    assert result.to_json()["signatures"][0]["revocation_checked"] is True
    assert sum(services.hits.values()) > 0  # the answers really came over loopback


def test_b_t_needs_the_tsa_checked_too(signed: dict[str, Path]) -> None:
    offline = verify_pdf(signed["bt"], trust=ROOTS)
    [sig] = offline.signatures
    assert sig.passed and sig.timestamp is not None and sig.timestamp.valid
    assert sig.revocation_checked is False
    online = verify_pdf(signed["bt"], trust=ROOTS, online=True)
    [sig] = online.signatures
    assert sig.passed, sig.reason
    assert sig.timestamp is not None and sig.timestamp.chain is not None
    assert {r.status for r in sig.timestamp.chain.revocation} == {RevocationStatus.GOOD}
    assert sig.revocation_checked is True


def test_b_lt_offline_is_checked_from_the_embedded_data(signed: dict[str, Path]) -> None:
    result = verify_pdf(signed["blt"], trust=ROOTS)  # no network: what the file carries
    [sig] = result.signatures
    assert sig.passed, sig.reason
    assert sig.ltv is not None and sig.ltv.offline
    assert sig.revocation_checked is True
    assert result.revocation_not_checked == 0


def test_revocation_off_is_not_checked_and_hard_fail_is_not_counted(
        signed: dict[str, Path]) -> None:
    off = verify_pdf(signed["blt"], trust=ROOTS, revocation="off")
    assert off.passed and off.signatures[0].chain is not None
    assert off.signatures[0].chain.revocation == ()
    assert off.signatures[0].revocation_checked is False
    assert off.revocation_not_checked == 1
    # Hard-fail refuses instead: INDETERMINATE, so not a passed signature to count apart.
    hard = verify_pdf(signed["bb"], trust=ROOTS, revocation="hard-fail")
    assert hard.sub_indication is SubIndication.TRY_LATER
    assert hard.signatures[0].revocation_checked is False
    assert hard.revocation_not_checked == 0


def test_two_signatures_are_counted_each(signed: dict[str, Path]) -> None:
    result = verify_pdf(signed["two"], trust=ROOTS)
    assert result.indication is Indication.TOTAL_PASSED, result.reason
    assert [s.revocation_checked for s in result.signatures] == [False, False]
    assert result.revocation_not_checked == 2


# --- the store and the reports ----------------------------------------------------------

class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.spans: list[tuple[dict[str, str | None], str]] = []
        self._open: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "span":
            self._open.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.spans.append((self._open[-1], data.strip()))


def test_reports_show_it_per_signature_and_in_the_summary(
        signed: dict[str, Path], tmp_path: Path) -> None:
    docs = [verify_pdf(signed[name], trust=ROOTS).to_json() for name in ("bb", "blt", "two")]
    summary = {"TOTAL-PASSED": 3, "TOTAL-FAILED": 0}

    report = tmp_path / "r.json"
    write_report(report, lambda: iter(docs), summary=summary)  # counted from the documents
    data = json.loads(report.read_text("utf-8"))
    assert data["summary"] == summary
    assert data["revocation_not_checked"] == 2  # bb and two; blt was checked
    assert [[s["revocation_checked"] for s in d["signatures"]] for d in data["documents"]] \
        == [[False], [True], [False, False]]

    table = tmp_path / "r.csv"
    write_report(table, lambda: iter(docs), summary=summary, not_checked_for_revocation=2)
    with table.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert "revocation_checked" in CSV_COLUMNS
    assert [(Path(r["path"]).stem, r["revocation_checked"]) for r in rows] == [
        ("bb", "false"), ("blt", "true"), ("two", "false"), ("two", "false")]

    page = tmp_path / "r.html"
    write_report(page, lambda: iter(docs), summary=summary, not_checked_for_revocation=2)
    parsed = _Page()
    parsed.feed(page.read_text("utf-8"))
    badges = [text for attrs, text in parsed.spans
              if attrs.get("class") == "badge unchecked"]
    # One on each of the two documents' collapsed lines, one per unchecked signature.
    assert badges == [NOT_CHECKED_BADGE] * 5
    [apart] = [(attrs, text) for attrs, text in parsed.spans if attrs.get("class") == "sub"]
    assert apart == ({"class": "sub", "data-not-checked": "2"}, f"2 {NOT_CHECKED_BADGE}")


def test_the_store_counts_passed_documents_not_checked(
        signed: dict[str, Path], tmp_path: Path) -> None:
    with VerifyStore.open(tmp_path / "store.sqlite3") as store:
        for position, name in enumerate(("bb", "blt", "two")):
            store.record(verify_pdf(signed[name], trust=ROOTS), position=position,
                         size=None, mtime_ns=None, params="p")
        assert store.summary()["TOTAL-PASSED"] == 3
        assert store.not_checked_for_revocation() == 2
    with sqlite3.connect(tmp_path / "store.sqlite3") as db:
        assert sorted(db.execute("SELECT revocation_not_checked FROM documents")) == [
            (0,), (1,), (2,)]


def test_a_store_of_an_older_signsvc_gets_the_column(tmp_path: Path,
                                                     signed: dict[str, Path]) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # the documents table as format 1 made it
        db.executescript("""
            CREATE TABLE documents (
                id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL,
                params TEXT NOT NULL, size INTEGER, mtime_ns INTEGER, sha256 TEXT,
                indication TEXT NOT NULL, category TEXT NOT NULL, result TEXT NOT NULL,
                finished_at TEXT NOT NULL, verifications INTEGER NOT NULL DEFAULT 1,
                UNIQUE (path, params));
            INSERT INTO documents (path, params, indication, category, result,
                                   finished_at)
            VALUES ('/old.pdf', 'old', 'TOTAL-PASSED', 'TOTAL-PASSED',
                    '{"status": "TOTAL-PASSED", "signatures": [{"indication":
                      "TOTAL-PASSED"}]}', '2026-01-01T00:00:00+00:00');
        """)
    with VerifyStore.open(path) as store:
        store.record(verify_pdf(signed["bb"], trust=ROOTS), position=0, size=None,
                     mtime_ns=None, params="new")
        assert store.not_checked_for_revocation() == 1
        # Read anyway, the old row's passed signature, lacking the key, is not checked.
        found = store.lookup(Path("/old.pdf"), size=None, mtime_ns=None, params="old")
        assert found is not None and found[1].revocation_not_checked == 1
    with sqlite3.connect(path) as db:
        assert dict(db.execute("SELECT params, revocation_not_checked FROM documents")) \
            == {"old": None, "new": 1}


# --- signsvc verify ----------------------------------------------------------------------

def _verify(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE", "SIGNSVC_LANG")}
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False)


def test_cli_counts_them_apart_in_english(signed: dict[str, Path], tmp_path: Path) -> None:
    bb, blt, two = (str(signed[n]) for n in ("bb", "blt", "two"))
    done = _verify(tmp_path, "verify", bb, blt, two, "--trust", str(G2), "--jobs", "1",
                   "--report", "r.json")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == sorted([
        f"TOTAL-PASSED   {bb}: not checked for revocation",
        f"TOTAL-PASSED   {blt}",
        f"TOTAL-PASSED   {two}: 2 signatures not checked for revocation",
    ])
    assert ("TOTAL-PASSED 3, TOTAL-FAILED 0, INDETERMINATE 0, unsigned 0, errors 0; "
            "2 TOTAL-PASSED not checked for revocation; store .signsvc-verify.sqlite3; "
            "report r.json") in done.stderr
    assert json.loads((tmp_path / "r.json").read_text("utf-8"))["revocation_not_checked"] == 2

    # Resumed from the store: the same lines and count, without verifying again.
    again = _verify(tmp_path, "verify", bb, blt, two, "--trust", str(G2), "--jobs", "1",
                    "--resume")
    assert sorted(again.stdout.splitlines()) == sorted(done.stdout.splitlines())
    assert "; 2 TOTAL-PASSED not checked for revocation; store" in again.stderr


def test_cli_online_checks_them(signed: dict[str, Path], tmp_path: Path,
                                services: TestServices) -> None:
    bb = str(signed["bb"])
    done = _verify(tmp_path, "verify", bb, "--trust", str(G2), "--online", "--json")
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(text) for text in done.stdout.splitlines()]
    assert line["signatures"][0]["revocation_checked"] is True
    assert line["revocation_not_checked"] == 0
    assert ("TOTAL-PASSED 1, TOTAL-FAILED 0, INDETERMINATE 0, unsigned 0, errors 0; "
            "store .signsvc-verify.sqlite3") in done.stderr
    assert "not checked" not in done.stderr


def test_cli_counts_them_apart_in_vietnamese(signed: dict[str, Path],
                                             tmp_path: Path) -> None:
    bb, blt = str(signed["bb"]), str(signed["blt"])
    done = _verify(tmp_path, "--lang", "vi", "verify", bb, blt, "--trust", str(G2),
                   "--jobs", "1", "--report", "bao-cao.html")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    first = lines.index(f"TOTAL-PASSED   {bb}")
    assert lines[first + 1] == "    => Hợp lệ"
    assert lines[first + 2].startswith("    => Chưa kiểm tra thu hồi: không có dữ liệu CRL")
    checked = lines.index(f"TOTAL-PASSED   {blt}")
    assert lines[checked + 1] == "    => Hợp lệ"
    assert checked + 2 == len(lines) or not lines[checked + 2].startswith("    =>")
    assert ("không đọc được 0; 1 hợp lệ nhưng chưa kiểm tra thu hồi; kho kết quả"
            in done.stderr)
    page = (tmp_path / "bao-cao.html").read_text("utf-8")
    assert f'data-not-checked="1">1 {NOT_CHECKED_BADGE}</span>' in page
