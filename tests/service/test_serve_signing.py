"""The real ``signsvc serve`` signs: an allowed origin's documents, fetched from its
server, confirmed once by a script, signed with the SoftHSM token in one login,
uploaded back; the upload verifies with pyHanko and with signsvc.verify_pdf."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from certs_test.softhsm import SoftHSM
from signsvc.sign.journal import iter_logins
from tests.service.conftest import StartService, confirm_script, service_toml
from tests.service.fileserver import FileServer
from tests.support.paths import PKI

HEADERS = {"Content-Type": "application/json", "X-Signsvc-Request": "1"}


def _verify(data: bytes, folder: Path) -> None:
    """The signed PDF is intact and valid for pyHanko (the test roots trusted), and
    signsvc.verify_pdf says TOTAL-PASSED."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from signsvc import TrustStore, verify_pdf

    roots = [path.read_bytes() for path in PKI.glob("*root*.crt.der")]
    assert roots, "the test PKI's roots"
    from asn1crypto import x509 as asn1_x509

    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(r) for r in roots],
                                allow_fetching=False, revocation_mode="soft-fail")
    reader = PdfFileReader(io.BytesIO(data))
    signatures = reader.embedded_signatures
    assert len(signatures) == 1
    status = validate_pdf_signature(signatures[-1], context)
    assert status.intact and status.valid, status.pretty_print_details()
    assert "Lấp Lánh Ánh" in status.signing_cert.subject.human_friendly
    signed = folder / "uploaded.pdf"
    signed.write_bytes(data)
    report = verify_pdf(signed, trust=TrustStore.from_paths(list(PKI.glob("*root*.crt.pem"))),
                        revocation="off")
    assert report.signatures[-1].intact and report.passed, report.signatures[-1].reason


def _logins(journal: Path) -> list[str]:
    return [login.result for login in iter_logins(journal)]


def test_the_allowed_origin_signs_a_pdf_over_websocket(
        start_service: StartService, hsm: SoftHSM, files: FileServer, sample_pdf: bytes,
        tmp_path: Path) -> None:
    confirm, log = confirm_script(tmp_path)
    running = start_service(service_toml(hsm, files.origin), confirm=confirm,
                            pin_env="SIGNSVC_TEST_PIN", port=None)
    url = files.add("/vb/quyet-dinh-123.pdf", sample_pdf)
    request = {"FileName": url, "FileUploadHandler": files.origin + "/upload",
               "SessionId": "sess-42", "JWTToken": "eyJ.abc.def"}
    with connect(running.ws_url + "/SignApproved",
                 additional_headers={"Origin": files.origin}) as ws:
        ws.send(json.dumps(request))
        reply = json.loads(ws.recv())
    assert reply["Status"] == 0, reply
    assert reply["FileName"] == "quyet-dinh-123.pdf"
    assert reply["FileServer"] == "stored"
    [uploaded] = files.uploads
    assert (uploaded.field, uploaded.filename) == ("file", "quyet-dinh-123.pdf")
    assert uploaded.data.startswith(sample_pdf)  # an incremental update
    _verify(uploaded.data, tmp_path)
    # The page's credentials went to its own server, as a cookie and a bearer token.
    get, post = files.log
    assert (get.method, post.method) == ("GET", "POST")
    for logged in (get, post):
        assert logged.headers["Cookie"] == "ASP.NET_SessionId=sess-42"
        assert logged.headers["Authorization"] == "Bearer eyJ.abc.def"
        assert logged.headers["Host"] == files.origin.removeprefix("http://")
    # One question, showing what will be signed.
    [question] = [json.loads(line) for line in log.read_text().splitlines()]
    assert question["kind"] == "sign" and question["origin"] == files.origin
    assert question["call"] == "SignApproved"
    assert question["files"][0]["sha256"] == __import__("hashlib").sha256(
        sample_pdf).hexdigest()
    assert question["files"][0]["pages"] == 1
    assert "Lấp Lánh Ánh" in question["certificate"]
    assert _logins(running.journal_path) == ["accepted"]
    # Audited without any secret.
    with sqlite3.connect(running.journal_path) as db:
        decisions = [r[0] for r in db.execute("SELECT decision FROM service_requests")]
        rows = db.execute("SELECT url, sha256_in, sha256_out, upload_status "
                          "FROM service_files").fetchall()
        dump = "\n".join(db.iterdump())
    assert decisions == ["signed"]
    assert rows == [(url, question["files"][0]["sha256"],
                     __import__("hashlib").sha256(uploaded.data).hexdigest(), "uploaded")]
    for secret in ("sess-42", "eyJ.abc.def", "123456"):
        assert secret not in dump
        assert secret not in running.stderr


def test_a_batch_is_one_consent_and_one_login_over_http(
        start_service: StartService, hsm: SoftHSM, files: FileServer, sample_pdf: bytes,
        tmp_path: Path) -> None:
    confirm, log = confirm_script(tmp_path)
    running = start_service(service_toml(hsm, files.origin), confirm=confirm,
                            pin_env="SIGNSVC_TEST_PIN", port=None)
    urls = [files.add(f"/vb/{n}.pdf", sample_pdf) for n in range(4)]
    response = httpx.post(running.base_url + "/SignIssued", headers={
        **HEADERS, "Origin": files.origin}, json={
        "FileName": urls, "FileUploadHandler": files.origin + "/upload",
        "DocNumber": "Số: 123/QĐ-UBND", "IssuedDate": "05/01/2027"}, timeout=120)
    reply = response.json()
    assert response.status_code == 200 and reply["Status"] == 0, reply
    assert response.headers["access-control-allow-origin"] == files.origin
    assert [f["FileName"] for f in reply["Files"]] == [f"{n}.pdf" for n in range(4)]
    assert all(f["Status"] == 0 for f in reply["Files"])
    assert reply["DocumentNumber"] == "Số: 123/QĐ-UBND"
    assert reply["DocumentDate"] == "05/01/2027"
    assert len(files.uploads) == 4
    questions = log.read_text().splitlines()
    assert len(questions) == 1
    question = json.loads(questions[0])
    assert len(question["files"]) == 4
    assert "Số: 123/QĐ-UBND" in question["stamp_text"]
    assert "Cần Thơ, ngày 05 tháng 01 năm 2027" in question["stamp_text"]
    assert _logins(running.journal_path) == ["accepted"]


def test_a_denied_batch_signs_nothing_and_never_logs_in(
        start_service: StartService, hsm: SoftHSM, files: FileServer, sample_pdf: bytes,
        tmp_path: Path) -> None:
    confirm, log = confirm_script(tmp_path, approve=False)
    running = start_service(service_toml(hsm, files.origin), confirm=confirm,
                            pin_env="SIGNSVC_TEST_PIN", port=None)
    urls = [files.add(f"/vb/{n}.pdf", sample_pdf) for n in range(2)]
    response = httpx.post(running.base_url + "/SignApproved", headers={
        **HEADERS, "Origin": files.origin}, json={
        "FileName": urls, "FileUploadHandler": files.origin + "/upload"}, timeout=60)
    reply = response.json()
    assert reply["Status"] != 0 and reply["Message"] == "denied by the user"
    assert files.uploads == []
    assert [entry.method for entry in files.log] == ["GET", "GET"]
    assert len(log.read_text().splitlines()) == 1
    assert _logins(running.journal_path) == []
    with sqlite3.connect(running.journal_path) as db:
        assert [r[0] for r in db.execute("SELECT decision FROM service_requests")] == [
            "denied"]
        assert db.execute("SELECT count(*) FROM attempts").fetchone() == (0,)


@pytest.mark.parametrize("call", ["SignCopy", "SignAppendix"])
def test_the_top_right_profiles_sign(start_service: StartService, hsm: SoftHSM,
                                     files: FileServer, sample_pdf: bytes, tmp_path: Path,
                                     call: str) -> None:
    confirm, _log = confirm_script(tmp_path)
    running = start_service(service_toml(hsm, files.origin), confirm=confirm,
                            pin_env="SIGNSVC_TEST_PIN", port=None)
    url = files.add("/vb/pl.pdf", sample_pdf)
    reply = httpx.post(running.base_url + f"/{call}", headers={
        **HEADERS, "Origin": files.origin}, json={
        "FileName": url, "FileUploadHandler": files.origin + "/upload",
        "DocNumber": "Số: 123/QĐ-UBND"}, timeout=60).json()
    assert reply["Status"] == 0, reply
    _verify(files.uploads[0].data, tmp_path)
