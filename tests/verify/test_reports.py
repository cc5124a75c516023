"""signsvc.verify.reports: JSON, CSV and HTML verification reports, written streaming and
atomically, from results built on the test PKI (real certificates, real chain
verdicts from validate_chain). The HTML is also rendered by headless Chromium."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signsvc import BadInputError, OutputError, TrustStore, validate_chain
from signsvc.pki.chain import SIGNING_KEY_USAGE, ChainResult
from signsvc.pki.indications import Indication, SubIndication
from signsvc.verify.reports import CSV_COLUMNS, JSON_SCHEMA, report_format, write_report
from signsvc.verify.results import (
    CertificateSummary,
    Coverage,
    DocumentResult,
    Integrity,
    Ltv,
    Modification,
    ModificationLevel,
    SignatureResult,
    TimestampResult,
)
from tests.support.paths import PKI
from tests.support.tokens import ANH
from tests.support.tools import need

AT = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)  # after the committed revocation of "revoked"
SIGNED = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 08:30 in Hà Nội
GENERATED = datetime(2026, 4, 1, 3, 15, tzinfo=UTC)
EVIL_FIELD = '<script>alert("field")</script>'
EVIL_CN = "<script>alert('cn')</script> & <b>"
FORMULA_FIELD = '=HYPERLINK("http://evil.example/","bấm vào")'
ROOT_LABEL = "TEST ONLY RootCA chuyên dùng Chính phủ G2"

GREEN, RED, AMBER, GREY = (26, 127, 55), (207, 34, 46), (183, 121, 31), (110, 119, 129)


@cache
def cert(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((PKI / f"{name}.crt.pem").read_bytes())


@cache
def chain_of(name: str) -> ChainResult:
    return validate_chain(
        cert(name),
        intermediates=[cert("gov-ca-g2")],
        trust=TrustStore.from_paths([PKI / "gov-root-g2.crt.pem"]),
        at=AT,
        crls=[x509.load_der_x509_crl((PKI / "crl" / f"{c}.crl.der").read_bytes())
              for c in ("gov-ca-g2", "gov-root-g2")],
        revocation="hard-fail",
        key_usage=SIGNING_KEY_USAGE,
    )


@cache
def evil_cert() -> x509.Certificate:
    """A self-signed certificate whose CN is markup, as an attacker could issue."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, EVIL_CN),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "<i>Mallory</i>")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(0x5E1C)
            .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
            .not_valid_after(datetime(2035, 1, 1, tzinfo=UTC))
            .sign(key, hashes.SHA256()))


def timestamp(valid: bool = True) -> TimestampResult:
    return TimestampResult(time=SIGNED + timedelta(seconds=2), valid=valid,
                           tsa=CertificateSummary.of(cert("tsa")),
                           reason="time-stamp verified" if valid else "imprint mismatch",
                           chain=chain_of("tsa"))


def signature(name: str, *, field: str = "Signature1", revision: int = 1,
              **changes: Any) -> SignatureResult:
    chain = chain_of(name)
    result = SignatureResult(
        field=field, kind="signature", indication=chain.indication,
        sub_indication=chain.sub_indication, reason=chain.reason,
        signer=CertificateSummary.of(cert(name)), claimed_signing_time=SIGNED,
        timestamp=timestamp(),
        integrity=Integrity(digest_ok=True, signature_ok=True, signing_certificate_ok=True,
                            digest_algorithm="sha256", signature_algorithm="rsassa_pkcs1v15"),
        coverage=Coverage.ENTIRE_FILE, revision=revision,
        modification=Modification(ModificationLevel.NONE), chain=chain,
        ltv=Ltv(offline=True, reason="CRLs of the whole chain are in the DSS"),
        sub_filter="ETSI.CAdES.detached", byte_range=(0, 1000, 9000, 500))
    return replace(result, **changes)


def document(path: str, *signatures: SignatureResult, **changes: Any) -> DocumentResult:
    worst = max(signatures, key=lambda s: [Indication.TOTAL_PASSED, Indication.INDETERMINATE,
                                           Indication.TOTAL_FAILED].index(s.indication),
                default=None)
    result = DocumentResult(
        path=Path(path),
        indication=worst.indication if worst else Indication.INDETERMINATE,
        sub_indication=worst.sub_indication if worst else None,
        reason=worst.reason if worst else "the document has no signature",
        signatures=signatures, sha256="ab" * 32, size=123456, revisions=len(signatures) + 1,
        validation_time=AT, seconds=0.25)
    return replace(result, **changes)


def results() -> list[DocumentResult]:
    """One of each kind an admin meets, in the order a batch would give them."""
    tampered = signature("official-rsa2048", indication=Indication.TOTAL_FAILED,
                         sub_indication=SubIndication.HASH_FAILURE,
                         reason="the signed bytes were changed after signing",
                         integrity=Integrity(digest_ok=False, signature_ok=True,
                                             signing_certificate_ok=True),
                         modification=Modification(ModificationLevel.DISALLOWED,
                                                   ("page 1 content replaced",)))
    evil = signature("official-rsa2048", field=EVIL_FIELD, indication=Indication.INDETERMINATE,
                     sub_indication=SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
                     reason="no chain to a trust anchor",
                     signer=CertificateSummary.of(evil_cert()), chain=None)
    return [
        document("in/quyet-dinh-123.pdf", signature("official-rsa2048"),
                 signature("org-omon", field="Signature2", revision=2)),
        document("in/quyet-dinh-124-thu-hoi.pdf", signature("revoked")),
        document("in/quyet-dinh-125-sua.pdf", tampered),
        document("in/chua-ky.pdf"),
        document("in/hong.pdf", error="not a PDF (no %PDF- header)", error_type="BadInputError",
                 reason="could not be read"),
        document(f"in/{EVIL_FIELD}.pdf", evil,
                 signature("official-rsa2048", field=FORMULA_FIELD, revision=2)),
        document("in/phu-luc-123.pdf", signature("official-ec")),
    ]


SUMMARY = {"TOTAL-PASSED": 2, "TOTAL-FAILED": 2, "INDETERMINATE": 1, "unsigned": 1, "error": 1}


def dicts() -> list[dict[str, Any]]:
    return [r.to_json() for r in results()]


def write(path: Path, docs: list[dict[str, Any]] | None = None, **options: Any) -> Path:
    data = dicts() if docs is None else docs
    options.setdefault("summary", SUMMARY)
    options.setdefault("generated_at", GENERATED)
    options.setdefault("trust", [ROOT_LABEL])
    write_report(path, lambda: iter(data), **options)
    return path


def test_the_fixture_verdicts_are_what_the_reports_show() -> None:
    # The chains come from validate_chain: if these change, the report tests lose meaning.
    assert chain_of("official-rsa2048").indication is Indication.TOTAL_PASSED
    assert chain_of("revoked").sub_indication is SubIndication.REVOKED
    categories = [r.indication.value for r in results()]
    assert categories == ["TOTAL-PASSED", "TOTAL-FAILED", "TOTAL-FAILED", "INDETERMINATE",
                          "INDETERMINATE", "INDETERMINATE", "TOTAL-PASSED"]


# --- format and arguments -------------------------------------------------------------

@pytest.mark.parametrize(("name", "fmt"), [("r.json", "json"), ("R.CSV", "csv"),
                                          ("bao-cao.Html", "html")])
def test_report_format_by_suffix(name: str, fmt: str) -> None:
    assert report_format(Path(name)) == fmt


@pytest.mark.parametrize("name", ["report.htm", "report.txt", "report", "report.json.gz"])
def test_unknown_suffix_is_bad_input(name: str, tmp_path: Path) -> None:
    with pytest.raises(BadInputError) as caught:
        write(tmp_path / name)
    assert caught.value.path == tmp_path / name
    assert ".json, .csv, .html" in caught.value.reason
    assert list(tmp_path.iterdir()) == []


def test_naive_time_and_string_trust_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="aware"):
        write(tmp_path / "r.json", generated_at=datetime(2026, 4, 1))
    with pytest.raises(BadInputError, match="not a string"):
        write(tmp_path / "r.json", trust=ROOT_LABEL)
    assert list(tmp_path.iterdir()) == []


# --- JSON -----------------------------------------------------------------------------

def test_json_report_round_trips(tmp_path: Path) -> None:
    raw = write(tmp_path / "r.json", title="Hồ sơ đến 01/04", policy="historical").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # RFC 8259 §8.1: no BOM in JSON
    assert ANH.encode() in raw  # UTF-8 as is, not \u escapes
    report = json.loads(raw)
    assert list(report) == ["schema", "title", "generated_at", "policy", "trust", "summary",
                            "revocation_not_checked", "documents"]
    assert report["schema"] == JSON_SCHEMA == "signsvc-verify-report/1"
    assert report["title"] == "Hồ sơ đến 01/04"
    assert report["generated_at"] == "2026-04-01T03:15:00+00:00"
    assert report["policy"] == "historical"
    assert report["trust"] == [ROOT_LABEL]
    assert report["summary"] == SUMMARY
    assert report["documents"] == dicts()
    first = report["documents"][0]["signatures"][0]
    assert first["signer"]["common_name"] == ANH
    assert first["chain"]["indication"] == "TOTAL-PASSED"
    assert report["documents"][1]["signatures"][0]["chain"]["sub_indication"] == "REVOKED"


def test_json_report_with_no_documents(tmp_path: Path) -> None:
    report = json.loads(write(tmp_path / "r.json", [], summary={}).read_text("utf-8"))
    assert report["documents"] == []
    assert report["summary"] == {}


def test_json_keeps_a_lone_surrogate_as_its_escape(tmp_path: Path) -> None:
    # A leniently decoded PDF text string can hold one; it must not abort the report.
    doc = dicts()[0]
    doc["signatures"][0]["field"] = "Chữ ký\ud800"
    report = json.loads(write(tmp_path / "r.json", [doc]).read_text("utf-8"))
    assert report["documents"][0]["signatures"][0]["field"] == "Chữ ký\ud800"
    write(tmp_path / "r.csv", [doc])
    assert "Chữ ký\\ud800" in (tmp_path / "r.csv").read_text("utf-8-sig")


# --- CSV ------------------------------------------------------------------------------

def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        return list(reader)


def test_csv_has_one_row_per_signature(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfpath,status,field,")  # BOM for Excel
    assert raw.count(b"\r\n") == len(read_csv(path)) + 1  # RFC 4180 line ends
    rows = read_csv(path)
    expected = sum(max(1, len(r.signatures)) for r in results())
    assert len(rows) == expected == 9
    assert [r["path"] for r in rows[:3]] == ["in/quyet-dinh-123.pdf"] * 2 + [
        "in/quyet-dinh-124-thu-hoi.pdf"]

    passed, org = rows[0], rows[1]
    assert passed["signer_common_name"] == ANH
    assert passed["signer_subject"].startswith(f"CN={ANH},")
    assert passed["signer_serial"] == format(cert("official-rsa2048").serial_number, "x")
    assert passed["signer_issuer"] == cert("official-rsa2048").issuer.rfc4514_string()
    assert passed["claimed_signing_time"] == "2026-03-02 08:30:00+07:00"
    assert passed["timestamp_time"] == "2026-03-02 08:30:02+07:00"
    assert (passed["timestamp_valid"], passed["intact"], passed["ltv_offline"]) == (
        "true", "true", "true")
    assert (passed["indication"], passed["chain_indication"], passed["status"]) == (
        "TOTAL-PASSED", "TOTAL-PASSED", "TOTAL-PASSED")
    assert (passed["coverage"], passed["revision"], passed["modification"]) == (
        "entire-file", "1", "none")
    assert org["field"] == "Signature2"
    assert org["signer_common_name"] == "UBND quận Ô Môn"

    revoked = rows[2]
    assert revoked["signer_common_name"] == "Đặng Văn Thu Hồi"
    assert (revoked["indication"], revoked["sub_indication"]) == ("TOTAL-FAILED", "REVOKED")
    assert revoked["status"] == "TOTAL-FAILED"

    tampered = rows[3]
    assert (tampered["intact"], tampered["modification"]) == ("false", "disallowed")
    assert tampered["modification_details"] == "page 1 content replaced"
    assert tampered["sub_indication"] == "HASH_FAILURE"


def test_csv_rows_without_signatures(tmp_path: Path) -> None:
    rows = read_csv(write(tmp_path / "r.csv"))
    unsigned, broken = rows[4], rows[5]
    assert unsigned["path"] == "in/chua-ky.pdf"
    assert unsigned["reason"] == "the document has no signature"
    assert broken["error"] == "not a PDF (no %PDF- header)"
    for row in (unsigned, broken):
        assert row["status"] == "INDETERMINATE"
        assert all(row[c] == "" for c in CSV_COLUMNS[2:-2]), row


def test_csv_neutralises_formulas(tmp_path: Path) -> None:
    rows = read_csv(write(tmp_path / "r.csv"))
    assert rows[7]["field"] == "'" + FORMULA_FIELD
    assert rows[6]["field"] == EVIL_FIELD  # not a formula: kept as is
    assert rows[6]["signer_common_name"] == EVIL_CN


# --- HTML -----------------------------------------------------------------------------

class Page(HTMLParser):
    """What a browser would build: elements with attributes, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text("utf-8"))
    page.close()
    return page


def test_html_page_is_self_contained_and_escaped(tmp_path: Path) -> None:
    page = parse(write(tmp_path / "r.html", title="Hồ sơ đến <ngày 01/04>"))
    assert page.tags("html") == [{"lang": "vi"}]
    assert {"charset": "utf-8"} in page.tags("meta")
    # No script, no external resource: only in-page links.
    assert page.tags("script") == [] and page.tags("img") == [] and page.tags("link") == []
    assert all((a.get("href") or "").startswith("#") for a in page.tags("a"))
    assert not any(tag not in {"a"} and ("src" in attrs or "href" in attrs)
                   for tag, attrs in page.elements)
    csp = [m for m in page.tags("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0]["content"] or "")
    # The attacker's markup is text, shown exactly as written.
    text = page.all_text
    assert EVIL_FIELD in text and EVIL_CN in text
    assert evil_cert().subject.rfc4514_string() in text  # RFC 4514 "\\<i\\>Mallory..."
    assert "Hồ sơ đến <ngày 01/04>" in text
    raw = (tmp_path / "r.html").read_text("utf-8")
    assert "<script>" not in raw and "&lt;script&gt;" in raw


def test_html_shows_summary_with_status_colours(tmp_path: Path) -> None:
    page = parse(write(tmp_path / "r.html", summary={**SUMMARY, "TOTAL-PASSED": 1234}))
    counts = {a["data-status"]: a["class"] for a in page.tags("a") if a.get("data-status")}
    assert counts == {"TOTAL-PASSED": "count passed", "TOTAL-FAILED": "count failed",
                      "INDETERMINATE": "count indeterminate", "unsigned": "count unsigned",
                      "error": "count error"}
    text = page.all_text
    assert "1234Hợp lệ / Valid" in text and "2Không hợp lệ / Failed" in text
    assert "1Không có chữ ký / Unsigned" in text and "1Không đọc được / Error" in text
    assert ROOT_LABEL in text and "2026-04-01 10:15:00+07:00" in text
    raw = (tmp_path / "r.html").read_text("utf-8")
    for colour in ("#1a7f37", "#cf222e", "#b7791f", "#6e7781"):
        assert colour in raw


def test_html_puts_documents_needing_attention_first(tmp_path: Path) -> None:
    page = parse(write(tmp_path / "r.html"))
    articles = [(a["id"], a["data-status"]) for a in page.tags("article")]
    assert articles == [("doc-1", "TOTAL-FAILED"), ("doc-2", "TOTAL-FAILED"),
                        ("doc-3", "unsigned"), ("doc-4", "error"), ("doc-5", "INDETERMINATE"),
                        ("doc-0", "TOTAL-PASSED"), ("doc-6", "TOTAL-PASSED")]
    details = page.tags("details")
    assert [("open" in d) for d in details] == [True] * 5 + [False] * 2
    text = page.all_text
    assert text.index("quyet-dinh-124-thu-hoi.pdf") < text.index("quyet-dinh-123.pdf")
    # Each signature is a table row with its verdict, signer, times, checks.
    rows = [t for t, _ in page.elements].count("tr")
    assert rows == 5 + 7  # a header row for each of the 5 signed documents, 7 signatures
    for needle in (ANH, "Đặng Văn Thu Hồi", "REVOKED", "HASH_FAILURE", "✗ altered",
                   "page 1 content replaced", "disallowed", "2026-03-02 08:30:00+07:00",
                   "CRLs of the whole chain are in the DSS", "not a PDF (no %PDF- header)"):
        assert needle in text, needle


def test_html_with_nothing_to_worry_about(tmp_path: Path) -> None:
    docs = [dicts()[0]]
    text = parse(write(tmp_path / "r.html", docs, summary={"TOTAL-PASSED": 1})).all_text
    assert "Cần xem xét / Needs attention" in text
    assert text.index("Không có / None") < text.index("quyet-dinh-123.pdf")


# --- streaming and atomic writing -----------------------------------------------------

def many(count: int) -> Callable[[], Iterator[dict[str, Any]]]:
    template = dicts()[0]

    def documents() -> Iterator[dict[str, Any]]:
        for i in range(count):
            yield {**template, "path": f"in/ho-so-{i:05d}.pdf"}
    return documents


@pytest.mark.parametrize("suffix", ["json", "csv", "html"])
def test_memory_stays_flat_in_the_number_of_documents(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"r.{suffix}"
    documents = many(3000)
    tracemalloc.start()
    try:
        write_report(path, documents, summary={"TOTAL-PASSED": 3000},
                     generated_at=GENERATED)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = path.stat().st_size
    assert size > 3_000_000  # 1-3 KB a document
    assert peak < 600_000 < size / 5, (peak, size)
    assert path.read_text("utf-8-sig").count("in/ho-so-02999.pdf") >= 1


def test_a_failed_run_leaves_the_previous_report(tmp_path: Path) -> None:
    path = write(tmp_path / "r.html")
    before = path.read_bytes()

    def broken() -> Iterator[dict[str, Any]]:
        yield dicts()[0]
        raise RuntimeError("store went away")

    with pytest.raises(RuntimeError, match="store went away"):
        write_report(path, broken, summary=SUMMARY)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary left


def test_report_is_regenerated_in_place(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json")
    os.chmod(path, 0o644)
    write(path, [], summary={"TOTAL-PASSED": 0})
    assert json.loads(path.read_text("utf-8"))["documents"] == []
    assert path.stat().st_mode & 0o777 == 0o666 & ~current_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_unwritable_destination_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError) as caught:
        write(tmp_path / "missing" / "r.csv")
    assert caught.value.path == tmp_path / "missing" / "r.csv"
    assert "No such file" in caught.value.reason


# --- headless Chromium ----------------------------------------------------------------

def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    need("chromium")
    command = ["chromium", "--headless", "--disable-gpu", "--hide-scrollbars",
               "--no-first-run", "--disable-extensions", f"--user-data-dir={tmp_path / 'prof'}",
               *args]
    if os.geteuid() == 0:
        # Chromium refuses to start its sandbox as root (containers, CI); the page is
        # our own escaped, script-free report behind a deny-all CSP.
        command.insert(1, "--no-sandbox")
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def test_chromium_renders_the_report(tmp_path: Path) -> None:
    path = write(tmp_path / "r.html")
    dom = chromium(tmp_path, "--dump-dom", path.as_uri()).stdout
    # What Chromium built, not what we wrote: counts, names and escaped markup as text.
    assert 'data-status="TOTAL-FAILED"><b>2</b>' in dom
    assert f"<span>{'Hợp lệ / Valid'}</span>" in dom
    assert ANH in dom and "Đặng Văn Thu Hồi" in dom
    assert "&lt;script&gt;alert(\"field\")&lt;/script&gt;" in dom
    assert "<script" not in dom


def test_chromium_screenshot_shows_the_status_colours(tmp_path: Path) -> None:
    from PIL import Image

    path = write(tmp_path / "r.html")
    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", path.as_uri())
    with Image.open(shot) as image:
        assert image.size == (1280, 900)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None
    counts = {rgb: n for n, rgb in colours}
    # The five summary boxes are solid fills of at least 150x50 px each.
    for colour in (GREEN, RED, AMBER, GREY):
        assert counts.get(colour, 0) > 5000, (colour, counts.get(colour))
    white = counts.get((255, 255, 255), 0)
    assert white > 1280 * 900 // 3  # a page, not a crash screen

